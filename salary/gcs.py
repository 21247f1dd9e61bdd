"""Google Cloud Storage access shared by the data reader and the model store."""

# Transient failures are retried by the library (its DEFAULT_RETRY); this bounds the whole
# retried call, so a caller that must stay responsive (the web app) can pass a shorter one.
DEFAULT_RETRY_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """Split gs://bucket/path into the bucket and the path (without leading slash)."""
    if not uri.startswith("gs://"):
        raise ValueError(f"{uri}: not a gs:// URI")
    bucket, _, path = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri}: gs:// URI without a bucket name")
    return bucket, path


def storage_client(project: str | None = None):
    """A storage client; with STORAGE_EMULATOR_HOST set the library talks to that emulator anonymously."""
    from google.cloud import storage

    return storage.Client(project=project)


def read_object(uri: str, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> bytes | None:
    """The content of gs://bucket/path, or None when it does not exist."""
    from google.api_core.exceptions import NotFound
    from google.cloud.storage.retry import DEFAULT_RETRY

    bucket, path = parse_gs_uri(uri)
    try:
        return (
            storage_client()
            .bucket(bucket)
            .blob(path)
            .download_as_bytes(timeout=REQUEST_TIMEOUT_SECONDS, retry=DEFAULT_RETRY.with_timeout(retry_seconds))
        )
    except NotFound:
        return None


def open_object(uri: str, retry_seconds: float = DEFAULT_RETRY_SECONDS):
    """A binary stream of gs://bucket/path, read in chunks (NotFound on the first read when it does not exist)."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    bucket, path = parse_gs_uri(uri)
    return (
        storage_client()
        .bucket(bucket)
        .blob(path)
        .open("rb", timeout=REQUEST_TIMEOUT_SECONDS, retry=DEFAULT_RETRY.with_timeout(retry_seconds))
    )
