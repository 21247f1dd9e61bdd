"""Promoting a version from one store to another (dev to prod), folder or gs:// on either side.

Everything is checked before anything is written: the target's pin, the source version (the checks load makes),
every object of its folder against its manifest as read (sha256 in transit), and any copy already at the target.
Then the objects go create-only, manifest last; the copy is read back and verified at the target; latest.json is
swapped compare-and-set on the generation read first; a history record names the source store and version.
"""

import os
from dataclasses import dataclass
from typing import Any

from salary.errors import ModelRejected, ObjectExists, ObjectRefused, PointerConflict, PromotionRefused
from salary.model_codec import MODEL_FILE
from salary.store.documents import parse_document
from salary.store.history import record_change
from salary.store.model_store import (
    MANIFEST_FILE,
    MAX_DOCUMENT_BYTES,
    ModelStore,
    is_attachment_name,
)
from salary.store.operations import check_verified, readable_pointer
from salary.store.pins import read_pin


@dataclass(frozen=True)
class PromotionPlan:
    """A promotion checked and ready to write: the source's bytes by name (manifest last) and the target's state."""

    source: ModelStore
    target: ModelStore
    version: str
    objects: dict[str, bytes]
    # Names already at the target with exactly these bytes (an earlier run, or one that was interrupted).
    present: frozenset[str]
    previous: str | None
    generation: Any

    @property
    def already_promoted(self) -> bool:
        """Whether the target holds the same bytes and latest.json names the version: nothing to write."""
        return self.present == set(self.objects) and self.previous == self.version


def plan_promotion(source: ModelStore, target: ModelStore, version: str) -> PromotionPlan:
    """Every check a promotion makes before it writes; PromotionRefused (one line) when it may not go ahead."""
    if _place(source.uri) == _place(target.uri):
        raise PromotionRefused(f"{source.uri} is both the source and the target; promote between two stores")
    # The pointer before the pin: a pin landing after this read rewrites latest.json, so the final swap fails.
    previous, generation, _ = readable_pointer(target)
    pin = read_pin(target.backend, target.uri)
    if pin.version is not None and pin.version != version:
        raise PromotionRefused(
            f"{target.uri} is pinned to {pin.version} ({pin.reason or 'no reason given'}); nothing was promoted: "
            f"`salary-models --store {target.uri} unpin --reason TEXT` releases it"
        )
    objects = source_objects(source, version, target.uri)
    return PromotionPlan(
        source, target, version, objects, _present_at_target(target, version, objects), previous, generation
    )


def source_objects(source: ModelStore, version: str, target_uri: str) -> dict[str, bytes]:
    """Every object of the verified source version, model first and manifest last, each checked against the manifest."""

    def refused(why: str) -> PromotionRefused:
        return PromotionRefused(
            f"cannot promote {version} from {source.uri}: {why}; nothing was written to {target_uri}"
        )

    prefix = f"versions/{version}/"
    try:
        check_verified(source, version)
        manifest = source.read_manifest(version)
        names = [key[len(prefix) :] for key in source.backend.keys(prefix)]
        stray = [name for name in names if name not in (MODEL_FILE, MANIFEST_FILE) and not _described(manifest, name)]
        if stray:
            raise refused(f"{prefix}{stray[0]} is not described by the manifest, so it cannot be checked")
        # Read again and checked in transit: these bytes, not those verification read, are the ones written.
        objects = {MODEL_FILE: source.read_model(version, manifest)}
        for name in sorted(manifest.get("attachments") or {}):
            if not _described(manifest, name):
                raise refused(f"the manifest describes attachment {name!r} in a way the store does not write")
            objects[name] = source.read_attachment(version, name, manifest)
    except ModelRejected as exc:
        raise refused(exc.reason) from None
    content, _ = source.backend.read(prefix + MANIFEST_FILE, max_bytes=MAX_DOCUMENT_BYTES)
    if content is None or parse_document(content, MANIFEST_FILE) != manifest:
        raise refused(f"{MANIFEST_FILE} changed while it was read")
    objects[MANIFEST_FILE] = content
    return objects


def promote(plan: PromotionPlan, reason: str, actor: str | None = None) -> dict:
    """Copy create-only (manifest last), verify the copy at the target, swap latest.json, record where it came from.

    Returns what was done: version, stores, previous latest, the names written and the history record (None
    for a promotion that was already complete, which writes nothing).
    """
    target, version = plan.target, plan.version
    done = {
        "version": version,
        "from_store": plan.source.uri,
        "to_store": target.uri,
        "previous": plan.previous,
        "copied": [],
        "record": None,
    }
    if plan.already_promoted:
        return done
    prefix = f"versions/{version}/"
    for name, content in plan.objects.items():
        if name in plan.present:
            continue
        try:
            target.backend.create(prefix + name, content)
        except ObjectExists:  # a racing copy: the read-back below says whether it holds the same bytes
            continue
        done["copied"].append(name)
    for name, content in plan.objects.items():
        if not _holds(target, prefix + name, content):
            raise PromotionRefused(
                f"{target.uri}/{prefix}{name} does not read back as the source's bytes; latest.json was not moved"
            )
    why = target.refusal(version)
    if why is not None:
        raise PromotionRefused(
            f"{target.uri}: the copy of {version} fails verification ({why}); latest.json was not moved"
        )
    try:
        target.swap_pointer(version, plan.generation)
    except PointerConflict:
        raise PointerConflict(
            f"{target.uri}: {version} is copied but not made latest: latest.json changed since it was read; "
            "run the promotion again to finish it"
        ) from None
    done["record"] = record_change(
        target.backend,
        "promote",
        plan.previous,
        version,
        reason,
        actor=actor,
        details={"source_store": plan.source.uri, "source_version": version},
    )
    return done


def _present_at_target(target: ModelStore, version: str, objects: dict[str, bytes]) -> frozenset[str]:
    """Names the target already holds with the source's bytes; PromotionRefused when it holds anything else."""
    prefix = f"versions/{version}/"
    present = set()
    for key in target.backend.keys(prefix):
        name = key[len(prefix) :]
        if name not in objects or not _holds(target, key, objects[name]):
            raise PromotionRefused(
                f"{target.uri} already holds version {version} with other bytes ({name} differs); "
                "versions are never overwritten, so nothing was promoted"
            )
        present.add(name)
    return frozenset(present)


def _holds(store: ModelStore, key: str, content: bytes) -> bool:
    """Whether the object at `key` has exactly these bytes (never read past their length)."""
    try:
        found, _ = store.backend.read(key, max_bytes=len(content))
    except ObjectRefused:  # longer than the source's, or not a regular file
        return False
    return found == content


def _described(manifest: dict, name: str) -> bool:
    """Whether the manifest gives `name` an attachment entry that can be checked: a plain file name and its sha256."""
    attachments = manifest.get("attachments")
    entry = attachments.get(name) if isinstance(attachments, dict) else None
    return is_attachment_name(name) and isinstance(entry, dict) and isinstance(entry.get("sha256"), str)


def _place(uri: str) -> str:
    """Where a store URI points: a gs:// prefix as written, a folder by its real path."""
    return uri.rstrip("/") if uri.startswith("gs://") else os.path.realpath(uri)
