"""Raw access to a store's objects, bypassing the protocol, to tamper with them in tests."""

import itertools
from pathlib import Path

from google.cloud import storage

from salary.gcs import parse_gs_uri

_buckets = itertools.count()


def new_bucket(prefix: str = "models") -> str:
    """A fresh bucket on the emulator named by STORAGE_EMULATOR_HOST; returns a gs:// store URI."""
    name = f"test-bucket-{next(_buckets)}"
    storage.Client().create_bucket(name)
    return f"gs://{name}/{prefix}"


def raw_write(store_uri: str, key: str, data: bytes) -> None:
    """Overwrite an object unconditionally, as an attacker or a broken writer would."""
    if store_uri.startswith("gs://"):
        bucket, prefix = parse_gs_uri(store_uri)
        storage.Client().bucket(bucket).blob(f"{prefix}/{key}").upload_from_string(data)
    else:
        path = Path(store_uri) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def raw_read(store_uri: str, key: str) -> bytes:
    """An object's bytes."""
    if store_uri.startswith("gs://"):
        bucket, prefix = parse_gs_uri(store_uri)
        return storage.Client().bucket(bucket).blob(f"{prefix}/{key}").download_as_bytes()
    return (Path(store_uri) / key).read_bytes()


def snapshot(store_uri: str) -> dict[str, tuple]:
    """Everything under a store, hidden files and folders too: each object's bytes and generation (a folder entry's
    inode and change time), to tell a store left untouched from one that was written to."""
    if store_uri.startswith("gs://"):
        bucket, prefix = parse_gs_uri(store_uri)
        blobs = storage.Client().list_blobs(bucket, prefix=f"{prefix}/")
        return {blob.name: (blob.download_as_bytes(), blob.generation) for blob in blobs}
    root = Path(store_uri)
    return {
        path.relative_to(root).as_posix(): (
            path.read_bytes() if path.is_file() else None,
            path.stat().st_ino,
            path.stat().st_mtime_ns,
        )
        for path in ([root] if root.exists() else []) + sorted(root.rglob("*"))
    }
