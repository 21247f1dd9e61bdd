"""The model store: versioned, create-only model publishing and verified loading.

Layout under a store URI (a folder, or later gs://bucket/prefix):
    versions/<version>/model.pkl       pickled estimator, written create-only
    versions/<version>/manifest.json   written create-only, after model.pkl
    latest.json                        {"version": ...}, swapped compare-and-set
"""

import hashlib
import json
import logging
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy

from salary import gcs
from salary.defaults import MAX_MODEL_BYTES as DEFAULT_MAX_MODEL_BYTES
from salary.errors import (
    DocumentRefused,
    ModelRejected,
    NoModelPublished,
    ObjectRefused,
    PointerConflict,
    PointerUnreadable,
    StoreError,
)
from salary.model_codec import MODEL_FILE, LinearModel, decode_model
from salary.store.backends import Backend, open_backend
from salary.store.documents import (
    MAX_DOCUMENT_BYTES,
    check_fields,
    check_version_field,
    is_version_name,
    parse_document,
    shown_value,
)
from salary.store.history import read_history, record_change
from salary.store.pins import check_not_pinned

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
POINTER_FILE = "latest.json"
# The fit plot, published beside the model as an attachment.
PLOT_FILE = "plot.svg"
# Each field a reader relies on, with its type: a manifest is the store writer's text.
MANIFEST_FIELDS = {
    "version": str,
    "created_at": str,
    "sha256": str,
    "size_bytes": int,
    "python": str,
    "sklearn": str,
    "numpy": str,
    "metrics": dict,
    "data": dict,
}
OPTIONAL_MANIFEST_FIELDS = {"source": dict, "attachments": dict, "framework": str}
# A pointer swap retried this often before giving up on a store that keeps changing under us.
SWAP_ATTEMPTS = 5
# plot.svg is at most a few hundred KB (2,000 points).
MAX_ATTACHMENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with the manifest it was published with."""

    version: str
    manifest: dict
    model: LinearModel


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it: publishing runs no estimator code."""
    return metadata.version("scikit-learn")


def is_attachment_name(name: str) -> bool:
    """Whether `name` may be an attachment: a plain file name beside model.pkl and manifest.json, never a path."""
    return bool(name) and name not in (MODEL_FILE, MANIFEST_FILE) and "/" not in name and not name.startswith(".")


def make_version(model_bytes: bytes, now: datetime) -> str:
    """Time-sortable version name: UTC timestamp, then the model's hash prefix."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{hashlib.sha256(model_bytes).hexdigest()[:8]}"


def build_manifest(
    model_bytes: bytes,
    version: str,
    now: datetime,
    metrics: dict,
    data: dict,
    source: dict,
    attachments: dict[str, bytes] | None = None,
) -> dict:
    """The manifest that describes one published version."""
    return {
        "version": version,
        "created_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "size_bytes": len(model_bytes),
        "framework": "scikit-learn",
        "python": platform.python_version(),
        "sklearn": sklearn_version(),
        "numpy": numpy.__version__,
        "metrics": metrics,
        "data": data,
        "source": source,
        "attachments": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "size_bytes": len(content)}
            for name, content in sorted((attachments or {}).items())
        },
    }


class ModelStore:
    """Publish and load models with the store protocol, over any backend."""

    def __init__(self, backend: Backend, max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES):
        self.backend = backend
        self.uri = backend.uri
        self.max_model_bytes = max_model_bytes

    def publish(self, model_bytes: bytes, *, actor: str | None = None, **version_facts: Any) -> dict:
        """Write a new version (write_version's arguments), then point latest.json at it; returns its manifest."""
        manifest = self.write_version(model_bytes, **version_facts)
        self.point_latest_at(manifest["version"], actor=actor)
        log.info("published model version %s to %s", manifest["version"], self.uri)
        return manifest

    def write_version(
        self,
        model_bytes: bytes,
        *,
        metrics: dict,
        data: dict,
        source: dict,
        attachments: dict[str, bytes] | None = None,
        now: datetime | None = None,
    ) -> dict:
        """Write a complete version (model, attachments, manifest last) without pointing at it."""
        now = now or datetime.now(UTC)
        version = make_version(model_bytes, now)
        for name in attachments or {}:
            if not is_attachment_name(name):
                raise StoreError(f"invalid attachment name {name!r}")
        manifest = build_manifest(model_bytes, version, now, metrics, data, source, attachments)
        self.backend.create(f"versions/{version}/{MODEL_FILE}", model_bytes)
        for name, content in sorted((attachments or {}).items()):
            self.backend.create(f"versions/{version}/{name}", content)
        # The manifest goes last: a version without one is incomplete and is never listed or loaded.
        self.backend.create(f"versions/{version}/{MANIFEST_FILE}", _dump_json(manifest))
        return manifest

    def point_latest_at(self, version: str, *, actor: str | None = None) -> None:
        """Swap latest.json to `version`: not while pinned, never back to an older one unless that one fails verification."""
        first_seen, raced = None, False
        for attempt in range(SWAP_ATTEMPTS):
            current, generation = self.read_pointer()
            if attempt == 0:
                first_seen = current
            # Within one second the hash suffix says nothing of order: a same-second version that won a race
            # against this swap stays latest, and this publisher says so.
            if raced and current not in (None, version) and current.split("-")[0] == version.split("-")[0]:
                raise PointerConflict(
                    f"{self.uri}: version {version} is stored but not made latest, "
                    f"because same-second version {current} was published meanwhile"
                )
            # Refuses (PointerHeld, PointerConflict) unless this publish may move latest.json now.
            action, why = self._publish_action(version, current, first_seen)
            try:
                self.swap_pointer(version, generation)
            except PointerConflict:
                raced = True
                continue
            else:
                # After the swap, so a publisher that lost a race leaves no record of a change that never happened.
                record_change(self.backend, action, current, version, why, actor=actor)
                return
        raise PointerConflict(f"{self.uri}: latest.json kept changing; version {version} is stored but not latest")

    def swap_pointer(self, version: str, generation: Any) -> None:
        """Make latest.json name `version` if it is still at `generation`; PointerConflict otherwise."""
        self.backend.replace(POINTER_FILE, _dump_json({"version": version}), generation)

    def history(self) -> list[dict]:
        """Every change of latest.json recorded under history/, oldest first."""
        return read_history(self.backend)

    def previously_latest(self) -> list[str]:
        """Versions latest.json has named, most recent first, each once."""
        seen: list[str] = []
        for record in reversed(self.history()):
            if record.get("to") and record["to"] not in seen:
                seen.append(record["to"])
        return seen

    def read_pointer(self) -> tuple[str | None, Any]:
        """The version latest.json names (None when unpublished) and the pointer's generation; PointerUnreadable when it names none."""
        try:
            content, generation = self.backend.read(POINTER_FILE, MAX_DOCUMENT_BYTES)
        except ObjectRefused as exc:
            raise PointerUnreadable(f"{self.uri}/{POINTER_FILE}", exc.reason, exc.generation) from None
        if content is None:
            return None, 0
        try:
            version = check_version_field(
                parse_document(content, f"{self.uri}/{POINTER_FILE}"), f"{self.uri}/{POINTER_FILE}"
            )
        except DocumentRefused as exc:
            raise PointerUnreadable(f"{self.uri}/{POINTER_FILE}", exc.reason, generation) from None
        return version, generation

    def latest_version(self) -> str:
        """The version latest.json names; NoModelPublished when there is none."""
        version, _ = self.read_pointer()
        if version is None:
            raise NoModelPublished(f"no model published at {self.uri} yet")
        return version

    def read_manifest(self, version: str) -> dict:
        """The manifest of one version, checked for the fields a loader relies on."""
        content = self._read_bounded(version, MANIFEST_FILE, MAX_DOCUMENT_BYTES)
        if content is None:
            raise ModelRejected(version, f"{MANIFEST_FILE} is missing")
        try:
            manifest = check_fields(
                parse_document(content, MANIFEST_FILE), MANIFEST_FILE, MANIFEST_FIELDS, OPTIONAL_MANIFEST_FIELDS
            )
        except DocumentRefused as exc:
            raise ModelRejected(version, str(exc)) from None
        if manifest["version"] != version:
            raise ModelRejected(version, f"{MANIFEST_FILE} describes version {shown_value(manifest['version'])}")
        return manifest

    def versions(self) -> list[str]:
        """Every version that has a manifest, oldest first."""
        return sorted(
            key.split("/")[1]
            for key in self.backend.keys("versions/")
            if key.count("/") == 2 and key.endswith(f"/{MANIFEST_FILE}") and is_version_name(key.split("/")[1])
        )

    def read_attachment(self, version: str, name: str, manifest: dict | None = None) -> bytes | None:
        """An attachment of a version, checked against its manifest (read unless given); None when it has none."""
        attachments = (manifest or self.read_manifest(version)).get("attachments")
        expected = attachments.get(name) if isinstance(attachments, dict) else None
        if not isinstance(expected, dict) or "sha256" not in expected:
            return None
        content = self._read_bounded(version, name, MAX_ATTACHMENT_BYTES)
        if content is None or hashlib.sha256(content).hexdigest() != expected["sha256"]:
            raise ModelRejected(version, f"attachment {name} is missing or does not match the manifest")
        return content

    def load(self, version: str | None = None) -> LoadedModel:
        """Load a version (default: latest) after checking its size, sha256 and what the pickle holds."""
        version = version or self.latest_version()
        try:
            return self._load_verified(version)
        except ModelRejected as exc:
            log.warning("refused model version %s from %s: %s", exc.version, self.uri, exc.reason)
            raise

    def refusal(self, version: str) -> str | None:
        """Why `version` fails the web app's verification (load), or None when it passes; the caller reports it (once)."""
        try:
            self._load_verified(version)
        except ModelRejected as exc:
            return exc.reason
        return None

    def _publish_action(self, version: str, current: str | None, first_seen: str | None) -> tuple[str, str]:
        """The history action and reason for a publish swapping latest.json from `current`; refuses when it may not."""
        check_not_pinned(self.backend, self.uri, version)
        # Compare publication times only: within one second the hash suffix says nothing of order.
        if current is not None and first_seen is not None and _time(current) < _time(first_seen):
            raise PointerConflict(
                f"{self.uri}: version {version} is stored but not made latest, because latest.json was moved back to {current} meanwhile"
            )
        if current is None or _time(current) <= _time(version):
            return "publish", ""
        why = self.refusal(current)
        if why is None:
            raise PointerConflict(
                f"{self.uri}: version {version} is stored but not made latest, because newer version {current} was published meanwhile"
            )
        log.warning("latest version %s fails verification (%s): replacing it with %s", current, why, version)
        return "recover", f"replaced {current}, which fails verification: {why}"

    def _load_verified(self, version: str) -> LoadedModel:
        """Every check a model passes before it may be decoded, in order; nothing is read past the size cap."""
        manifest = self.read_manifest(version)
        content = self.read_model(version, manifest)
        return LoadedModel(version=version, manifest=manifest, model=decode_model(version, content))

    def read_model(self, version: str, manifest: dict) -> bytes:
        """model.pkl of a version, checked against its manifest: the size from metadata first, then size and sha256."""
        cap, claimed = self.max_model_bytes, manifest["size_bytes"]
        if type(claimed) is not int or not 0 < claimed <= cap:
            raise ModelRejected(version, f"the manifest gives {MODEL_FILE} {claimed!r} bytes; the limit is {cap}")
        # The object's own size, from metadata (GCS) or stat (folder), before a byte of it is downloaded.
        try:
            size = self.backend.size(f"versions/{version}/{MODEL_FILE}")
        except ObjectRefused as exc:
            raise ModelRejected(version, f"{MODEL_FILE} {exc.reason}") from None
        if size is not None and size > cap:
            raise ModelRejected(version, f"{MODEL_FILE} is {size} bytes, over the limit of {cap}")
        content = self._read_bounded(version, MODEL_FILE, cap) if size is not None else None
        if content is None:
            raise ModelRejected(version, f"{MODEL_FILE} is missing")
        if len(content) != manifest["size_bytes"]:
            raise ModelRejected(
                version, f"{MODEL_FILE} has {len(content)} bytes, the manifest says {manifest['size_bytes']}"
            )
        digest = hashlib.sha256(content).hexdigest()
        if digest != manifest["sha256"]:
            raise ModelRejected(version, f"{MODEL_FILE} sha256 {digest} does not match the manifest")
        return content

    def _read_bounded(self, version: str, name: str, limit: int) -> bytes | None:
        """An object of a version, never read past `limit` bytes; refusing it refuses the version."""
        try:
            content, _ = self.backend.read(f"versions/{version}/{name}", max_bytes=limit)
        except ObjectRefused as exc:
            raise ModelRejected(version, f"{name} {exc.reason}") from None
        return content


def latest_or_none(store: ModelStore) -> LoadedModel | None:
    """The latest model if it passes every check; None when none is published or it is refused."""
    try:
        return store.load()
    except (NoModelPublished, ModelRejected):
        return None


def open_store(
    uri: str,
    retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS,
    request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS,
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> ModelStore:
    """The model store at a folder path or gs:// URI; retry_seconds bounds retried GCS calls, request_timeout each request."""
    return ModelStore(open_backend(uri, retry_seconds, request_timeout), max_model_bytes)


def _dump_json(value: dict) -> bytes:
    """Stable, readable JSON bytes."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _time(version: str) -> str:
    """The publication time part of a version name."""
    return version.split("-")[0]
