"""Operating a model store by hand: rollback, pin and unpin, prune, and the checks publishing makes against them.

The pin marker sits beside latest.json and is swapped compare-and-set like it:
    pin.json    {"version": "<version>" | null, "reason", "at", "actor"}; null (or no file) means not pinned
While a version is pinned, a publish stores its version but leaves latest.json alone (PointerHeld).
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salary.errors import ModelRejected, PointerConflict, PointerHeld, PointerUnreadable, StoreError
from salary.store_documents import MAX_DOCUMENT_BYTES, check_fields, check_version_field, parse_document
from salary.store_history import default_actor, read_history, record_change

log = logging.getLogger(__name__)

PIN_FILE = "pin.json"
# Versions these history actions pointed latest.json at are kept by prune: someone chose them by hand.
CHOSEN_BY_HAND = ("rollback", "pin")
PIN_FIELDS = {"reason": str, "at": str, "actor": str}
# Earlier latest versions a repair tries; the web app tries fewer at start-up (webapp.model.MAX_FALLBACKS).
MAX_REPAIR_CANDIDATES = 50


@dataclass(frozen=True)
class Pin:
    """The pin marker: the pinned version (None: not pinned), why, and the object's generation."""

    version: str | None
    reason: str
    at: str
    actor: str
    generation: Any


def read_pin(store) -> Pin:
    """The store's pin marker; a marker that is not a valid pin stops every pointer change."""
    content, generation = store.backend.read(PIN_FILE, MAX_DOCUMENT_BYTES)
    if content is None:
        return Pin(None, "", "", "", 0)
    what = f"{store.uri}/{PIN_FILE}"
    pin = check_fields(parse_document(content, what), what, {"version": (str, type(None))}, PIN_FIELDS)
    version = check_version_field(pin, what, nullable=True)
    return Pin(version, pin.get("reason", ""), pin.get("at", ""), pin.get("actor", ""), generation)


def check_not_pinned(store, version: str) -> None:
    """PointerHeld when the store is pinned to another version than `version`."""
    pin = read_pin(store)
    if pin.version is not None and pin.version != version:
        raise PointerHeld(version, pin.version, pin.reason)


def refusal(store, version: str) -> str | None:
    """Why `version` fails the web app's verification (ModelStore.load), or None when it passes."""
    try:
        store.load(version)
    except ModelRejected as exc:
        return exc.reason
    return None


def publish_action(store, version: str, current: str | None, first_seen: str | None) -> tuple[str, str]:
    """The history action and reason for a publish swapping latest.json from `current`; refuses when it may not."""
    check_not_pinned(store, version)
    # Compare publication times only: within one second the hash suffix says nothing of order.
    if current is not None and first_seen is not None and _time(current) < _time(first_seen):
        raise PointerConflict(
            f"{store.uri}: version {version} is stored but not made latest, because latest.json was moved back to {current} meanwhile"
        )
    if current is None or _time(current) <= _time(version):
        return "publish", ""
    why = refusal(store, current)
    if why is None:
        raise PointerConflict(
            f"{store.uri}: version {version} is stored but not made latest, because newer version {current} was published meanwhile"
        )
    log.warning("latest version %s fails verification (%s): replacing it with %s", current, why, version)
    return "recover", f"replaced {current}, which fails verification: {why}"


def rollback(store, to: str, reason: str, actor: str | None = None) -> dict:
    """Verify `to`, then swap latest.json to it compare-and-set (no retry: a racing change wins); returns the record.

    Works on an unreadable latest.json too: that is when a rollback is needed most.
    """
    current, generation, _ = readable_pointer(store)
    if current == to:
        raise StoreError(f"version {to} is already latest")
    pin = read_pin(store)
    if pin.version is not None and pin.version != to:
        raise StoreError(f"the store is pinned to {pin.version} ({pin.reason}); unpin it first")
    _verified(store, to)
    # The generation read before verifying: anything that moved latest.json since then wins over us.
    store.swap_pointer(to, generation)
    return record_change(store.backend, "rollback", current, to, reason, actor=actor)


def pin(store, version: str, reason: str, actor: str | None = None) -> dict:
    """Verify `version`, write the pin marker, then make latest.json name it; returns the history record."""
    _verified(store, version)
    marker = read_pin(store)
    actor = actor or default_actor()
    store.backend.replace(
        PIN_FILE, _dump({"version": version, "reason": reason, "at": _now(), "actor": actor}), marker.generation
    )
    # Rewritten even when it already names `version`: the new generation makes a publisher that read
    # latest.json before the pin existed fail its swap, re-read, and find the pin.
    for _ in range(5):
        current, generation, _ = readable_pointer(store)
        try:
            store.swap_pointer(version, generation)
        except PointerConflict:
            continue
        return record_change(store.backend, "pin", current, version, reason, actor=actor)
    raise PointerConflict(f"{store.uri}: latest.json kept changing; pinned to {version} but latest.json does not name it yet")


def unpin(store, reason: str, actor: str | None = None) -> dict:
    """Clear the pin marker (compare-and-set); latest.json stays where it is until the next publish."""
    marker = read_pin(store)
    if marker.version is None:
        raise StoreError("the store is not pinned")
    actor = actor or default_actor()
    store.backend.replace(PIN_FILE, _dump({"version": None, "reason": reason, "at": _now(), "actor": actor}), marker.generation)
    return record_change(store.backend, "unpin", marker.version, None, reason, actor=actor)


def protected_versions(store) -> dict[str, str]:
    """Versions prune must keep whatever their age, each with why: latest, pinned, chosen by hand."""
    kept: dict[str, str] = {}
    for record in read_history(store.backend):
        if record.get("action") in CHOSEN_BY_HAND and isinstance(record.get("to"), str):
            kept[record["to"]] = f"{record['action']} target"
    pinned = read_pin(store).version
    if pinned:
        kept[pinned] = "pinned"
    latest, _ = store.read_pointer()
    if latest:
        kept[latest] = "latest"
    return kept


def prune_plan(store, keep: int) -> list[str]:
    """Versions prune would delete, oldest first: all but the newest `keep` and the protected ones."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    versions = store.versions()
    protected = protected_versions(store)
    return [version for version in versions[: max(len(versions) - keep, 0)] if version not in protected]


def delete_version(store, version: str) -> None:
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


def repair(store, reason: str, actor: str | None = None) -> dict:
    """Point an unreadable or refused latest.json where the web app falls back (the pinned version, else the most
    recent earlier latest that passes), compare-and-set; returns the history record."""
    current, generation, unreadable = readable_pointer(store)
    why = unreadable or (refusal(store, current) if current is not None else None)
    if why is None:
        raise StoreError("latest.json names a version that passes verification; nothing to repair" if current
                         else "no model published yet; nothing to repair")
    pinned = read_pin(store).version
    for version in [pinned] if pinned else fallback_versions(store, current, MAX_REPAIR_CANDIDATES):
        if version != current and refusal(store, version) is None:
            store.swap_pointer(version, generation)
            return record_change(store.backend, "recover", current, version, f"{reason}: {why}", actor=actor)
    raise StoreError(("the pinned version fails verification too; unpin it" if pinned else
                      "no version latest.json named before passes verification") + "; choose one with `salary-models rollback --to VERSION`")


def fallback_versions(store, latest: str | None, limit: int) -> list[str]:
    """Versions latest.json named before `latest` (None: it cannot be read), most recent first: where readers fall back."""
    return [version for version in store.previously_latest() if version != latest][:limit]


def _verified(store, version: str) -> None:
    """ModelRejected unless `version` passes every check the web app makes."""
    if version not in store.versions():
        raise ModelRejected(version, "no such version in the store")
    reason = refusal(store, version)
    if reason is not None:
        raise ModelRejected(version, reason)


def _time(version: str) -> str:
    """The publication time part of a version name."""
    return version.split("-")[0]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _dump(value: dict) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()

