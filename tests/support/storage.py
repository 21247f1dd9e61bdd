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
