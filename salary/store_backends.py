"""Byte storage for the model store: a local folder or a gs:// prefix, with create-only and compare-and-set writes."""

import contextlib
import fcntl
import os
import secrets
import stat as file_stat
import time
from pathlib import Path
from typing import Any, Protocol

from salary import gcs
from salary.errors import (
    MissingCredentials,
    ObjectExists,
    ObjectRefused,
    PointerConflict,
    StoreError,
    StoreUnavailable,
)

# An unlocked temp file older than this was left by a publisher that died; the next write removes it.
ABANDONED_TEMP_SECONDS = 60.0


class Backend(Protocol):
    """Byte storage with create-only writes and generation-checked replacement."""

    uri: str

    def read(self, key: str, max_bytes: int | None = None) -> tuple[bytes | None, Any]:
        """Content and generation of an object; (None, 0) when it does not exist; ObjectRefused past max_bytes."""

    def size(self, key: str) -> int | None:
        """An object's size from its metadata, without reading it; None when it does not exist."""

    def create(self, key: str, data: bytes) -> None:
        """Write a new object; ObjectExists if one is there already."""

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Write only if the object's generation is still `generation` (0: must not exist)."""

    def keys(self, prefix: str) -> list[str]:
        """Every object key that starts with `prefix`, sorted."""

    def delete(self, key: str) -> None:
        """Remove an object (only prune does); nothing when it is gone already."""


class FolderBackend:
    """A store on a local folder: exclusive create, temp file + os.replace, a file lock."""

    def __init__(self, root: str):
        self.root = Path(root)
        self.uri = str(self.root)

    def read(self, key: str, max_bytes: int | None = None) -> tuple[bytes | None, Any]:
        """Content and generation (the file's identity and change time); never more than max_bytes + 1 read."""
        path = self.root / key
        try:
            # Non-blocking: a FIFO planted in the store must not hang the reader before it is refused.
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
                stat = os.fstat(handle.fileno())
                if not file_stat.S_ISREG(stat.st_mode):
                    raise ObjectRefused(str(path), "is not a regular file")
                if max_bytes is not None and stat.st_size > max_bytes:
                    raise ObjectRefused(str(path), f"is {stat.st_size} bytes, over the limit of {max_bytes}")
                content = handle.read(-1 if max_bytes is None else max_bytes + 1)
                if max_bytes is not None and len(content) > max_bytes:
                    raise ObjectRefused(str(path), f"has more than {max_bytes} bytes, the limit (found while reading)")
                return content, (stat.st_ino, stat.st_mtime_ns)
        except FileNotFoundError:
            return None, 0
        except PermissionError as exc:
            raise StoreError(f"{path}: permission denied") from exc
        except OSError as exc:
            raise StoreUnavailable(f"{path}: cannot be read ({exc.strerror})") from exc

    def size(self, key: str) -> int | None:
        """The file's size from stat; a non-regular file (a device, a FIFO) is refused."""
        path = self.root / key
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"{path}: cannot be read ({exc.strerror})") from exc
        if not file_stat.S_ISREG(stat.st_mode):
            raise ObjectRefused(str(path), "is not a regular file")
        return stat.st_size

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

    def delete(self, key: str) -> None:
        """Unlink the file, then its folder once empty."""
        path = self.root / key
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.parent.rmdir()

    @contextlib.contextmanager
    def _temp_file(self, path: Path, data: bytes):
        """A fully written, synced temp file beside `path`, locked while in use and removed afterwards."""
        _remove_abandoned_temp_files(path.parent)
        # Not mkstemp: its 0600 would hide the store from a reader running as another user (a
        # read-only mount into the web app's container); 0666 less the umask is what open() would give.
        temp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            # The lock tells a later publisher that this file is in use; it dies with this process.
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            yield temp
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            os.close(fd)


def _remove_abandoned_temp_files(folder: Path) -> None:
    """Remove temp files a killed publisher left in `folder`: unlocked, and older than a live write could be."""
    cutoff = time.time() - ABANDONED_TEMP_SECONDS
    for temp in folder.glob(".*.*"):
        try:
            if temp.stat().st_mtime >= cutoff:
                continue
            with open(temp, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                temp.unlink()
        except OSError:  # in use by a live publisher, or already gone
            continue


class GcsBackend:
    """A store under a gs:// prefix: preconditions on object generations give the guarantees."""

    def __init__(self, uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS, client: Any = None,
                 request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS):
        bucket, prefix = gcs.parse_gs_uri(uri.rstrip("/"))
        self.uri = f"gs://{bucket}/{prefix}" if prefix else f"gs://{bucket}"
        # Bounds each HTTP request; retry_seconds bounds the retries, not a request that hangs.
        self._timeout = request_timeout
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

    def read(self, key: str, max_bytes: int | None = None) -> tuple[bytes | None, Any]:
        """Content and generation of an object; (None, 0) when it does not exist; a range request past max_bytes."""
        from google.api_core.exceptions import NotFound

        blob = self._bucket.blob(self._prefix + key)
        # Bytes 0..max_bytes: the server sends at most one byte more than allowed, whatever the object's size.
        start = None if max_bytes is None else 0
        with self._errors(key):
            try:
                content = blob.download_as_bytes(
                    start=start, end=max_bytes, timeout=self._timeout, retry=self._read_retry,
                )
            except NotFound:
                return None, 0
        if max_bytes is not None and len(content) > max_bytes:
            raise ObjectRefused(f"{self.uri}/{key}", f"has more than {max_bytes} bytes, the limit (found while reading)")
        return content, blob.generation

    def size(self, key: str) -> int | None:
        """The object's size from a metadata request; None when it does not exist."""
        with self._errors(key):
            blob = self._bucket.get_blob(
                self._prefix + key, timeout=self._timeout, retry=self._read_retry,
            )
        return None if blob is None else blob.size

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
                self._bucket, prefix=self._prefix + prefix, timeout=self._timeout,
                retry=self._read_retry,
            )
            return sorted(blob.name[len(self._prefix):] for blob in blobs)

    def delete(self, key: str) -> None:
        """Delete the object; a missing one is not an error."""
        from google.api_core.exceptions import NotFound

        with self._errors(key), contextlib.suppress(NotFound):
            self._bucket.blob(self._prefix + key).delete(timeout=gcs.REQUEST_TIMEOUT_SECONDS, retry=self._read_retry)

    def _upload(self, key: str, data: bytes, generation: int, conflict: StoreError) -> None:
        """One conditional upload; a failed precondition becomes `conflict`."""
        from google.api_core.exceptions import PreconditionFailed

        blob = self._bucket.blob(self._prefix + key)
        with self._errors(key):
            try:
                blob.upload_from_string(
                    data, content_type=_content_type(key), if_generation_match=generation,
                    timeout=self._timeout, retry=self._write_retry,
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


def open_backend(uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS,
                 request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS) -> Backend:
    """The backend for a store URI: a gs:// prefix or a local folder."""
    if uri.startswith("gs://"):
        from google.auth.exceptions import DefaultCredentialsError

        try:
            return GcsBackend(uri, retry_seconds=retry_seconds, request_timeout=request_timeout)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        except DefaultCredentialsError as exc:
            raise MissingCredentials(f"{uri}: no Google credentials found: {_first_line(exc)}") from None
    if "://" in uri:
        raise StoreError(f"{uri}: unsupported model store URI (use a folder path or gs://bucket/prefix)")
    return FolderBackend(uri)
