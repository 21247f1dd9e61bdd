"""Create-only output files (a local path or a gs:// object): written in full under a temporary name, then published
without ever replacing what is there; a failed run publishes nothing."""

import contextlib
import hashlib
import os
import secrets
import tempfile

from salary.errors import OutputError

# Uploads of a spooled output go in pieces of this size (a multiple of 256 KiB, as GCS requires), so memory stays
# flat: the library's default piece is 100 MiB.
UPLOAD_CHUNK_BYTES = 8 << 20


class CreateOnly:
    """One output: refused at once if it exists, written to a temporary file, published by publish(), else discarded."""

    def __init__(self, uri: str):
        self.uri = uri
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.published = False
        if uri.startswith("gs://"):
            self._blob = _blob(uri)
            if _exists(self._blob, uri):
                raise OutputError(f"{uri} already exists; outputs are never overwritten")
            self._file = tempfile.TemporaryFile(prefix="salary-score-")
        else:
            self._blob = None
            if os.path.lexists(uri):
                raise OutputError(f"{uri} already exists; outputs are never overwritten")
            folder, name = os.path.split(os.path.abspath(uri))
            if not os.path.isdir(folder):
                raise OutputError(f"{uri}: folder {folder} does not exist")
            # Beside the target, so publishing is a link within one file system.
            self._temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.partial")
            self._file = open(self._temp, "xb")

    def write(self, data: bytes) -> None:
        """Append bytes to the output."""
        self._file.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def publish(self) -> None:
        """Make the output visible under its name; OutputError (and nothing changed) if something appeared there meanwhile."""
        if self._blob is not None:
            from google.api_core.exceptions import GoogleAPIError, PreconditionFailed

            self._file.seek(0)
            try:
                self._blob.upload_from_file(self._file, size=self.size, if_generation_match=0, content_type="text/csv")
            except PreconditionFailed:
                raise OutputError(
                    f"{self.uri} was created by someone else meanwhile; outputs are never overwritten"
                ) from None
            except GoogleAPIError as exc:
                raise OutputError(f"{self.uri}: cannot be written ({str(exc).splitlines()[0]})") from None
            finally:
                self._file.close()
            self.published = True
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        try:
            # A hard link fails when the name exists, where a rename would replace it.
            os.link(self._temp, self.uri)
        except FileExistsError:
            raise OutputError(
                f"{self.uri} was created by someone else meanwhile; outputs are never overwritten"
            ) from None
        finally:
            os.unlink(self._temp)
        self.published = True

    def discard(self) -> None:
        """Drop what was written, unless published; the output's name is not taken."""
        if self.published:
            return
        self._file.close()
        if self._blob is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp)


def _exists(blob, uri: str) -> bool:
    """Whether the object exists; a bucket that cannot be read is an OutputError."""
    from google.api_core.exceptions import GoogleAPIError

    try:
        return blob.exists()
    except GoogleAPIError as exc:
        raise OutputError(f"{uri}: cannot be checked ({str(exc).splitlines()[0]})") from None


def _blob(uri: str):
    """The storage blob of a gs:// URI, uploading in bounded pieces."""
    from salary.gcs import parse_gs_uri, storage_client

    bucket, path = parse_gs_uri(uri)
    if not path or path.endswith("/"):
        raise ValueError(f"{uri}: names no object")
    return storage_client().bucket(bucket).blob(path, chunk_size=UPLOAD_CHUNK_BYTES)
