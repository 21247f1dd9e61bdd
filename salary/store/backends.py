"""Byte storage for the model store: a local folder or a gs:// prefix, with create-only and compare-and-set writes."""

import contextlib
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
from salary.store.folder import FolderBackend


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


class GcsBackend:
    """A store under a gs:// prefix: preconditions on object generations give the guarantees."""

    def __init__(
        self,
        uri: str,
        retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS,
        client: Any = None,
        request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS,
    ):
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
        from google.api_core.exceptions import NotFound, RequestRangeNotSatisfiable

        blob = self._bucket.blob(self._prefix + key)
        # Bytes 0..max_bytes: the server sends at most one byte more than allowed, whatever the object's size.
        start = None if max_bytes is None else 0
        with self._errors(key):
            try:
                content = blob.download_as_bytes(
                    start=start,
                    end=max_bytes,
                    timeout=self._timeout,
                    retry=self._read_retry,
                )
            except NotFound:
                return None, 0
            except RequestRangeNotSatisfiable:
                # A range from byte 0 is unsatisfiable only for an empty object: its generation from metadata.
                empty = self._bucket.get_blob(self._prefix + key, timeout=self._timeout, retry=self._read_retry)
                return (None, 0) if empty is None else (b"", empty.generation)
        if max_bytes is not None and len(content) > max_bytes:
            raise ObjectRefused(
                f"{self.uri}/{key}",
                f"has more than {max_bytes} bytes, the limit (found while reading)",
                blob.generation,
            )
        return content, blob.generation

    def size(self, key: str) -> int | None:
        """The object's size from a metadata request; None when it does not exist."""
        with self._errors(key):
            blob = self._bucket.get_blob(
                self._prefix + key,
                timeout=self._timeout,
                retry=self._read_retry,
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
                self._bucket,
                prefix=self._prefix + prefix,
                timeout=self._timeout,
                retry=self._read_retry,
            )
            return sorted(blob.name[len(self._prefix) :] for blob in blobs)

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
                    data,
                    content_type=_content_type(key),
                    if_generation_match=generation,
                    timeout=self._timeout,
                    retry=self._write_retry,
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
        except (
            exceptions.RetryError,
            exceptions.ServerError,
            exceptions.TooManyRequests,
            requests.exceptions.RequestException,
        ) as exc:
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


def open_backend(
    uri: str, retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS, request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS
) -> Backend:
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
