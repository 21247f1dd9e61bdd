"""The model store: versioned, create-only model publishing and verified loading.

Layout under a store URI (a folder, or later gs://bucket/prefix):
    versions/<version>/model.pkl       pickled estimator, written create-only
    versions/<version>/manifest.json   written create-only, after model.pkl
    latest.json                        {"version": ...}, swapped compare-and-set
"""

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import pickle
import platform
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy

from salary import gcs

log = logging.getLogger(__name__)

MODEL_FILE = "model.pkl"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "latest.json"
# The fit plot, published beside the model as an attachment.
PLOT_FILE = "plot.svg"
REQUIRED_MANIFEST_FIELDS = (
    "version", "created_at", "sha256", "size_bytes", "python", "sklearn", "numpy", "metrics", "data",
)
# The only globals a pickled, fitted LinearRegression refers to (pickle protocol 5, numpy 2).
ALLOWED_GLOBALS = frozenset({
    ("sklearn.linear_model._base", "LinearRegression"),
    ("numpy", "dtype"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "scalar"),
})
# A pointer swap retried this often before giving up on a store that keeps changing under us.
SWAP_ATTEMPTS = 5


class StoreError(Exception):
    """Base of the model store's errors."""


class NoModelPublished(StoreError):
    """The store has no latest.json yet."""


class ModelRejected(StoreError):
    """A published model failed a check and must not be served."""

    def __init__(self, version: str, reason: str):
        super().__init__(f"model version {version} refused: {reason}")
        self.version = version
        self.reason = reason


class ObjectExists(StoreError):
    """A create-only write found the object already there."""


class PointerConflict(StoreError):
    """latest.json changed between reading it and swapping it."""


class StoreUnavailable(StoreError):
    """The storage could not be reached (after the client library's own retries)."""


class Backend(Protocol):
    """Byte storage with create-only writes and generation-checked replacement."""

    uri: str

    def read(self, key: str) -> tuple[bytes | None, Any]:
        """Content and generation of an object; (None, 0) when it does not exist."""

    def create(self, key: str, data: bytes) -> None:
        """Write a new object; ObjectExists if one is there already."""

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Write only if the object's generation is still `generation` (0: must not exist)."""

    def keys(self, prefix: str) -> list[str]:
        """Every object key that starts with `prefix`, sorted."""


class FolderBackend:
    """A store on a local folder: exclusive create, temp file + os.replace, a file lock."""

    def __init__(self, root: str):
        self.root = Path(root)
        self.uri = str(self.root)

    def read(self, key: str) -> tuple[bytes | None, Any]:
        """Content and generation; the generation is the file's identity and change time."""
        path = self.root / key
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                return handle.read(), (stat.st_ino, stat.st_mtime_ns)
        except FileNotFoundError:
            return None, 0
        except PermissionError as exc:
            raise StoreError(f"{path}: permission denied") from exc
        except OSError as exc:
            raise StoreUnavailable(f"{path}: cannot be read ({exc.strerror})") from exc

    def create(self, key: str, data: bytes) -> None:
        """Link a complete temp file into place, so readers never see a partial object."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._temp_file(path, data) as temp:
            try:
                os.link(temp, path)
            except FileExistsError:
                raise ObjectExists(f"{path} already exists; versions are never overwritten") from None

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Compare-and-set under an exclusive lock on the folder."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _, current = self.read(key)
            if current != generation:
                raise PointerConflict(f"{path} changed since it was read")
            with self._temp_file(path, data) as temp:
                os.replace(temp, path)

    def keys(self, prefix: str) -> list[str]:
        """Files under the root whose relative path starts with `prefix`; temp files excluded."""
        found = []
        for folder, _, files in os.walk(self.root):
            relative = Path(folder).relative_to(self.root)
            found.extend(
                (relative / name).as_posix() for name in files if not name.startswith(".")
            )
        return sorted(key for key in found if key.startswith(prefix))

    @contextlib.contextmanager
    def _temp_file(self, path: Path, data: bytes):
        """A fully written, synced temp file beside `path`, removed if still there afterwards."""
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            yield temp
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


class GcsBackend:
    """A store under a gs:// prefix: preconditions on object generations give the guarantees."""

    def __init__(self, uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS, client: Any = None):
        bucket, prefix = gcs.parse_gs_uri(uri.rstrip("/"))
        self.uri = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"
        self._client = client or gcs.storage_client()
        self._bucket = self._client.bucket(bucket)
        self._prefix = f"{prefix}/" if prefix else ""
        # Library retries: every read, and writes only because each carries a generation
        # precondition, which makes a retried write safe (the library's own rule).
        from google.cloud.storage.retry import DEFAULT_RETRY, ConditionalRetryPolicy, is_generation_specified

        self._read_retry = DEFAULT_RETRY.with_timeout(retry_seconds)
        self._write_retry = ConditionalRetryPolicy(
            DEFAULT_RETRY.with_timeout(retry_seconds), is_generation_specified, ["query_params"]
        )

    def read(self, key: str) -> tuple[bytes | None, Any]:
        """Content and generation of an object; (None, 0) when it does not exist."""
        from google.api_core.exceptions import NotFound

        blob = self._bucket.blob(self._prefix + key)
        with self._errors(key):
            try:
                content = blob.download_as_bytes(timeout=gcs.REQUEST_TIMEOUT_SECONDS, retry=self._read_retry)
            except NotFound:
                return None, 0
        return content, blob.generation

    def create(self, key: str, data: bytes) -> None:
        """Upload with if_generation_match=0: the object must not exist yet."""
        self._upload(key, data, 0, ObjectExists(f"{self.uri}/{key} already exists; versions are never overwritten"))

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Upload with if_generation_match=<generation read>: compare-and-set."""
        self._upload(key, data, generation, PointerConflict(f"{self.uri}/{key} changed since it was read"))

    def keys(self, prefix: str) -> list[str]:
        """Object keys under the store prefix that start with `prefix`."""
        with self._errors(prefix):
            blobs = self._client.list_blobs(
                self._bucket, prefix=self._prefix + prefix, timeout=gcs.REQUEST_TIMEOUT_SECONDS,
                retry=self._read_retry,
            )
            return sorted(blob.name[len(self._prefix):] for blob in blobs)

    def _upload(self, key: str, data: bytes, generation: int, conflict: StoreError) -> None:
        """One conditional upload; a failed precondition becomes `conflict`."""
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(self._prefix + key)
        with self._errors(key):
            try:
                blob.upload_from_string(
                    data, content_type=_content_type(key), if_generation_match=generation,
                    timeout=gcs.REQUEST_TIMEOUT_SECONDS, retry=self._write_retry,
                )
            except PreconditionFailed:
                raise conflict from None

    @contextlib.contextmanager
    def _errors(self, key: str):
        """Client failures as store errors: unreachable storage is told apart from refusals."""
        import requests
        from google.api_core import exceptions

        try:
            yield
        except (exceptions.RetryError, exceptions.ServerError, exceptions.TooManyRequests,
                requests.exceptions.RequestException) as exc:
            raise StoreUnavailable(f"{self.uri}/{key}: storage unreachable: {_first_line(exc)}") from None
        except exceptions.Forbidden as exc:
            raise StoreError(f"{self.uri}/{key}: permission denied: {_first_line(exc)}") from None
        except exceptions.NotFound as exc:
            raise StoreError(f"{self.uri}/{key}: not found (does the bucket exist?): {_first_line(exc)}") from None


def _content_type(key: str) -> str:
    """Content type to store an object with, so the console and browsers show it right."""
    if key.endswith(".json"):
        return "application/json"
    if key.endswith(".svg"):
        return "image/svg+xml"
    return "application/octet-stream"


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def open_backend(uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS) -> Backend:
    """The backend for a store URI: a gs:// prefix or a local folder."""
    if uri.startswith("gs://"):
        try:
            return GcsBackend(uri, retry_seconds=retry_seconds)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
    if "://" in uri:
        raise StoreError(f"{uri}: unsupported model store URI (use a folder path or gs://bucket/prefix)")
    return FolderBackend(uri)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with the manifest it was published with."""

    version: str
    manifest: dict
    estimator: Any


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it: publishing runs no estimator code."""
    return metadata.version("scikit-learn")


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

    def __init__(self, backend: Backend):
        self.backend = backend
        self.uri = backend.uri

    def publish(self, model_bytes: bytes, **version_facts: Any) -> dict:
        """Write a new version (write_version's arguments), then point latest.json at it; returns its manifest."""
        manifest = self.write_version(model_bytes, **version_facts)
        self.point_latest_at(manifest["version"])
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
            if name in (MODEL_FILE, MANIFEST_FILE) or "/" in name or name.startswith("."):
                raise StoreError(f"invalid attachment name {name!r}")
        manifest = build_manifest(model_bytes, version, now, metrics, data, source, attachments)
        self.backend.create(f"versions/{version}/{MODEL_FILE}", model_bytes)
        for name, content in sorted((attachments or {}).items()):
            self.backend.create(f"versions/{version}/{name}", content)
        # The manifest goes last: a version without one is incomplete and is never listed or loaded.
        self.backend.create(f"versions/{version}/{MANIFEST_FILE}", _dump_json(manifest))
        return manifest

    def point_latest_at(self, version: str) -> None:
        """Swap latest.json to `version`; never moves it back to an older version."""
        for _ in range(SWAP_ATTEMPTS):
            current, generation = self.read_pointer()
            # Compare publication times only: within one second the hash suffix says nothing of order.
            if current is not None and current.split("-")[0] > version.split("-")[0]:
                raise PointerConflict(
                    f"{self.uri}: version {version} is stored but not made latest, "
                    f"because newer version {current} was published meanwhile"
                )
            try:
                self.backend.replace(POINTER_FILE, _dump_json({"version": version}), generation)
                return
            except PointerConflict:
                continue
        raise PointerConflict(f"{self.uri}: latest.json kept changing; version {version} is stored but not latest")

    def read_pointer(self) -> tuple[str | None, Any]:
        """The version latest.json names (None when unpublished) and the pointer's generation."""
        content, generation = self.backend.read(POINTER_FILE)
        if content is None:
            return None, 0
        try:
            version = json.loads(content)["version"]
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"{self.uri}/{POINTER_FILE} is not a valid pointer") from None
        if not isinstance(version, str) or not version or "/" in version or version.startswith("."):
            raise StoreError(f"{self.uri}/{POINTER_FILE} names an invalid version {version!r}")
        return version, generation

    def latest_version(self) -> str:
        """The version latest.json names; NoModelPublished when there is none."""
        version, _ = self.read_pointer()
        if version is None:
            raise NoModelPublished(f"no model published at {self.uri} yet")
        return version

    def read_manifest(self, version: str) -> dict:
        """The manifest of one version, checked for the fields a loader relies on."""
        content, _ = self.backend.read(f"versions/{version}/{MANIFEST_FILE}")
        if content is None:
            raise ModelRejected(version, f"{MANIFEST_FILE} is missing")
        try:
            manifest = json.loads(content)
        except ValueError:
            raise ModelRejected(version, f"{MANIFEST_FILE} is not valid JSON") from None
        if not isinstance(manifest, dict):
            raise ModelRejected(version, f"{MANIFEST_FILE} is not a JSON object")
        missing = [field for field in REQUIRED_MANIFEST_FIELDS if field not in manifest]
        if missing:
            raise ModelRejected(version, f"{MANIFEST_FILE} lacks {', '.join(missing)}")
        if manifest["version"] != version:
            raise ModelRejected(version, f"{MANIFEST_FILE} describes version {manifest['version']!r}")
        return manifest

    def versions(self) -> list[str]:
        """Every version that has a manifest, oldest first."""
        return sorted(
            key.split("/")[1] for key in self.backend.keys("versions/")
            if key.count("/") == 2 and key.endswith(f"/{MANIFEST_FILE}")
        )

    def read_attachment(self, version: str, name: str) -> bytes | None:
        """An attachment of a version, checked against the manifest; None when it has none."""
        expected = self.read_manifest(version).get("attachments", {}).get(name)
        if expected is None:
            return None
        content, _ = self.backend.read(f"versions/{version}/{name}")
        if content is None or hashlib.sha256(content).hexdigest() != expected["sha256"]:
            raise ModelRejected(version, f"attachment {name} is missing or does not match the manifest")
        return content

    def load(self, version: str | None = None) -> LoadedModel:
        """Load a version (default: latest) after checking size, sha256, versions and globals."""
        version = version or self.latest_version()
        try:
            return self._load_verified(version)
        except ModelRejected as exc:
            log.warning("refused model version %s from %s: %s", exc.version, self.uri, exc.reason)
            raise

    def _load_verified(self, version: str) -> LoadedModel:
        """Every check a model passes before it may be unpickled, in order."""
        manifest = self.read_manifest(version)
        if manifest["sklearn"] != sklearn_version():
            raise ModelRejected(
                version,
                f"trained with scikit-learn {manifest['sklearn']}, this process runs {sklearn_version()}",
            )
        content, _ = self.backend.read(f"versions/{version}/{MODEL_FILE}")
        if content is None:
            raise ModelRejected(version, f"{MODEL_FILE} is missing")
        if len(content) != manifest["size_bytes"]:
            raise ModelRejected(
                version, f"{MODEL_FILE} has {len(content)} bytes, the manifest says {manifest['size_bytes']}"
            )
        digest = hashlib.sha256(content).hexdigest()
        if digest != manifest["sha256"]:
            raise ModelRejected(version, f"{MODEL_FILE} sha256 {digest} does not match the manifest")
        estimator = safe_unpickle(version, content)
        return LoadedModel(version=version, manifest=manifest, estimator=estimator)


def latest_or_none(store: ModelStore) -> LoadedModel | None:
    """The latest model if it passes every check; None when none is published or it is refused."""
    try:
        return store.load()
    except (NoModelPublished, ModelRejected):
        return None


class _AllowListUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals, so a hostile pickle fails before any of it runs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def safe_unpickle(version: str, content: bytes) -> Any:
    """Unpickle a model with the allow-list; anything else is a ModelRejected."""
    from sklearn.linear_model import LinearRegression

    try:
        estimator = _AllowListUnpickler(io.BytesIO(content)).load()
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise ModelRejected(version, f"{MODEL_FILE} cannot be unpickled safely: {exc}") from None
    if type(estimator) is not LinearRegression or not hasattr(estimator, "coef_"):
        raise ModelRejected(version, f"{MODEL_FILE} holds {type(estimator).__name__}, not a fitted LinearRegression")
    if not (numpy.all(numpy.isfinite(estimator.coef_)) and numpy.all(numpy.isfinite(estimator.intercept_))):
        raise ModelRejected(version, f"{MODEL_FILE} has non-finite coefficients")
    return estimator


def open_store(uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS) -> ModelStore:
    """The model store at a folder path or gs:// URI; retry_seconds bounds retried GCS calls."""
    return ModelStore(open_backend(uri, retry_seconds))


def _dump_json(value: dict) -> bytes:
    """Stable, readable JSON bytes."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
