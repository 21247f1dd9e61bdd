"""Operating a model store by hand: rollback, pin and unpin, repair, prune; each takes a ModelStore."""

import logging
from typing import Any

from salary.errors import ModelRejected, PointerConflict, PointerUnreadable, StoreError
from salary.store.history import default_actor, read_history, record_change
from salary.store.model_store import ModelStore
from salary.store.pins import read_pin, write_pin

log = logging.getLogger(__name__)

# Versions these history actions pointed latest.json at are kept by prune: someone chose them by hand.
CHOSEN_BY_HAND = ("rollback", "pin")
# Earlier latest versions a repair tries; the web app tries fewer at start-up (webapp.model.MAX_FALLBACKS).
MAX_REPAIR_CANDIDATES = 50


def rollback(store: ModelStore, to: str, reason: str, actor: str | None = None) -> dict:
    """Verify `to`, then swap latest.json to it compare-and-set (no retry: a racing change wins); returns the record.

    Works on an unreadable latest.json too: that is when a rollback is needed most.
    """
    current, generation, _ = readable_pointer(store)
    if current == to:
        raise StoreError(f"version {to} is already latest")
    pin = read_pin(store.backend, store.uri)
    if pin.version is not None and pin.version != to:
        raise StoreError(f"the store is pinned to {pin.version} ({pin.reason}); unpin it first")
    check_verified(store, to)
    # The generation read before verifying: anything that moved latest.json since then wins over us.
    store.swap_pointer(to, generation)
    return record_change(store.backend, "rollback", current, to, reason, actor=actor)


def pin(store: ModelStore, version: str, reason: str, actor: str | None = None) -> dict:
    """Verify `version`, write the pin marker, then make latest.json name it; returns the history record."""
    check_verified(store, version)
    marker = read_pin(store.backend, store.uri)
    actor = actor or default_actor()
    write_pin(store.backend, version, reason, actor, marker.generation)
    # Rewritten even when it already names `version`: the new generation makes a publisher that read
    # latest.json before the pin existed fail its swap, re-read, and find the pin.
    for _ in range(5):
        current, generation, _ = readable_pointer(store)
        try:
            store.swap_pointer(version, generation)
        except PointerConflict:
            continue
        return record_change(store.backend, "pin", current, version, reason, actor=actor)
    raise PointerConflict(
        f"{store.uri}: latest.json kept changing; pinned to {version} but latest.json does not name it yet"
    )


def unpin(store: ModelStore, reason: str, actor: str | None = None) -> dict:
    """Clear the pin marker (compare-and-set); latest.json stays where it is until the next publish."""
    marker = read_pin(store.backend, store.uri)
    if marker.version is None:
        raise StoreError("the store is not pinned")
    actor = actor or default_actor()
    write_pin(store.backend, None, reason, actor, marker.generation)
    return record_change(store.backend, "unpin", marker.version, None, reason, actor=actor)


def protected_versions(store) -> dict[str, str]:
    """Versions prune must keep whatever their age, each with why: latest, pinned, chosen by hand."""
    reasons: dict[str, list[str]] = {}
    latest, _ = store.read_pointer()
    if latest:
        reasons.setdefault(latest, []).append("latest")
    pinned = read_pin(store.backend, store.uri).version
    if pinned:
        reasons.setdefault(pinned, []).append("pinned")
    for record in read_history(store.backend):
        if record.get("action") in CHOSEN_BY_HAND and isinstance(record.get("to"), str):
            why = reasons.setdefault(record["to"], [])
            if f"{record['action']} target" not in why:
                why.append(f"{record['action']} target")
    return {version: ", ".join(why) for version, why in reasons.items()}


def prune_plan(store: ModelStore, keep: int) -> tuple[list[str], dict[str, str]]:
    """(versions prune would delete, oldest first; every version it keeps, with why): all but the newest `keep`
    and the protected ones go."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    versions = store.versions()
    protected = protected_versions(store)
    cut = max(len(versions) - keep, 0)
    kept = {version: f"one of the newest {keep}" for version in versions[cut:]}
    kept.update((version, why) for version, why in protected.items() if version in versions[:cut])
    return [version for version in versions[:cut] if version not in protected], kept


def check_exists(store: ModelStore, named_by: str = "--store or $MODEL_URI") -> None:
    """StoreError unless something is stored at the store's URI: a mistyped --store is not an empty store."""
    if not store.backend.keys(""):
        raise StoreError(f"no model store at {store.uri}: nothing is stored there (check {named_by})")


def resolve_version(store: ModelStore, name: str) -> str:
    """A version name, with `latest` and `pinned` standing for the versions latest.json and the pin name."""
    if name == "latest":
        return store.latest_version()
    if name == "pinned":
        pinned = read_pin(store.backend, store.uri).version
        if pinned is None:
            raise StoreError("the store is not pinned, so `pinned` names no version")
        return pinned
    return name


def delete_version(store: ModelStore, version: str) -> None:
    """Delete one version, manifest first, so an interrupted delete leaves an incomplete version nobody loads."""
    if version in protected_versions(store):
        raise StoreError(f"version {version} became latest, pinned or a rollback target meanwhile; not deleted")
    prefix = f"versions/{version}/"
    keys = store.backend.keys(prefix)
    manifest = f"{prefix}manifest.json"
    for key in sorted(keys, key=lambda key: key != manifest):
        store.backend.delete(key)


def readable_pointer(store) -> tuple[str | None, Any, str | None]:
    """(version latest.json names or None, its generation, why it cannot be read or None)."""
    try:
        current, generation = store.read_pointer()
    except PointerUnreadable as exc:
        return None, exc.generation, f"latest.json {exc.reason}"
    return current, generation, None


def repair(store: ModelStore, reason: str, actor: str | None = None) -> dict:
    """Point an unreadable or refused latest.json where the web app falls back (the pinned version, else the most
    recent earlier latest that passes), compare-and-set; returns the history record."""
    current, generation, unreadable = readable_pointer(store)
    why = unreadable or (store.refusal(current) if current is not None else None)
    if why is None:
        raise StoreError(
            "latest.json names a version that passes verification; nothing to repair"
            if current
            else "no model published yet; nothing to repair"
        )
    pinned = read_pin(store.backend, store.uri).version
    for version in [pinned] if pinned else fallback_versions(store, current, MAX_REPAIR_CANDIDATES):
        if version != current and store.refusal(version) is None:
            store.swap_pointer(version, generation)
            return record_change(store.backend, "recover", current, version, f"{reason}: {why}", actor=actor)
    raise StoreError(
        (
            "the pinned version fails verification too; unpin it"
            if pinned
            else "no version latest.json named before passes verification"
        )
        + "; choose one with `salary-models rollback --to VERSION`"
    )


def fallback_versions(store: ModelStore, latest: str | None, limit: int) -> list[str]:
    """Versions latest.json named before `latest` (None: it cannot be read), most recent first: where readers fall back."""
    return [version for version in store.previously_latest() if version != latest][:limit]


def check_verified(store: ModelStore, version: str) -> None:
    """ModelRejected unless `version` passes every check the web app makes."""
    if version not in store.versions():
        raise ModelRejected(version, "no such version in the store")
    reason = store.refusal(version)
    if reason is not None:
        raise ModelRejected(version, reason)
