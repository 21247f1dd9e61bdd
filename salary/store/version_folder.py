"""One version's folder seen as a whole model store: what Vertex AI copies for a registered model.

The Model Registry entry's artifact URI is `<model_uri>/versions/<version>/`; Vertex AI copies that folder
and hands the copy to the serving container as AIP_STORAGE_URI, with no latest.json beside it. This view
answers latest.json from the folder's own manifest, so the store's usual checks load it unchanged.
"""

import json
from typing import Any

from salary import gcs
from salary.errors import DocumentRefused, PointerUnreadable, StoreError
from salary.store.backends import Backend, open_backend
from salary.store.documents import check_version_field, parse_document
from salary.store.model_store import (
    DEFAULT_MAX_MODEL_BYTES,
    MANIFEST_FILE,
    MAX_DOCUMENT_BYTES,
    POINTER_FILE,
    ModelStore,
)


class VersionFolder:
    """A read-only Backend over a folder holding model.pkl, manifest.json and attachments of one version."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.uri = backend.uri

    def read(self, key: str, max_bytes: int | None = None) -> tuple[bytes | None, Any]:
        """latest.json names the manifest's version; versions/<version>/<name> is <name> in the folder."""
        if key == POINTER_FILE:
            content, generation = self.backend.read(MANIFEST_FILE, MAX_DOCUMENT_BYTES)
            if content is None:
                return None, 0
            what = f"{self.uri}/{MANIFEST_FILE}"
            try:
                version = check_version_field(parse_document(content, what), what)
            except DocumentRefused as exc:
                raise PointerUnreadable(what, exc.reason, generation) from None
            return json.dumps({"version": version}).encode(), generation
        name = self._name(key)
        return (None, 0) if name is None else self.backend.read(name, max_bytes)

    def size(self, key: str) -> int | None:
        """The size of versions/<version>/<name>, that is of <name> in the folder."""
        name = self._name(key)
        return None if name is None else self.backend.size(name)

    @staticmethod
    def _name(key: str) -> str | None:
        """The folder's file a store key stands for; None for anything else."""
        parts = key.split("/")
        return parts[2] if len(parts) == 3 and parts[0] == "versions" else None

    def create(self, key: str, data: bytes) -> None:
        """Never: the copied folder is read-only."""
        raise StoreError(f"{self.uri} is one copied model version; nothing is published to it")

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Never: the copied folder is read-only."""
        raise StoreError(f"{self.uri} is one copied model version; nothing is published to it")

    def delete(self, key: str) -> None:
        """Never: the copied folder is read-only."""
        raise StoreError(f"{self.uri} is one copied model version; nothing is deleted from it")

    def keys(self, prefix: str) -> list[str]:
        """The folder's files as versions/<version>/<name>."""
        content, _ = self.read(POINTER_FILE)
        if content is None:
            return []
        version = parse_document(content, POINTER_FILE)["version"]
        names = (f"versions/{version}/{name}" for name in self.backend.keys("") if "/" not in name)
        return sorted(key for key in names if key.startswith(prefix))


def open_version_folder(
    uri: str,
    retry_seconds: float = gcs.DEFAULT_RETRY_SECONDS,
    request_timeout: float = gcs.REQUEST_TIMEOUT_SECONDS,
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> ModelStore:
    """A model store whose latest (and only) version is the one in the folder at `uri`."""
    return ModelStore(VersionFolder(open_backend(uri, retry_seconds, request_timeout)), max_model_bytes)
