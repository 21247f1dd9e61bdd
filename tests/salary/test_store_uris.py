"""Which URIs open a model store, and an unreachable GCS told apart from a refused model."""

import pytest

from salary.errors import StoreError, StoreUnavailable
from salary.store.model_store import open_store
from scripts.local_process import free_port


def test_unsupported_uri_scheme():
    with pytest.raises(StoreError, match="unsupported model store URI"):
        open_store("s3://bucket/models")
    with pytest.raises(StoreError, match="without a bucket name"):
        open_store("gs:///models")


def test_unreachable_gcs_is_told_apart(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnavailable, match="storage unreachable"):
        open_store("gs://bucket/models", retry_seconds=0.5).load()
