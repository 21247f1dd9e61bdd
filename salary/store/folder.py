"""A model store on a local folder: exclusive create, temp file + os.replace, a file lock; no symlink is followed for a change.

Everything the store writes, deletes or locks is reached one path component at a time from the store's own
directory descriptor, each opened with O_NOFOLLOW (dir_fd): a symlink planted in the store (history/ pointing
elsewhere, a .lock naming another file) is refused at the moment of use, with no window between a check and the
write. The root itself is the operator's path and may be a symlink. Reads may follow symlinks: they are bounded,
refuse non-regular files and are verified by sha256 before anything is used.
"""

import contextlib
import errno
import fcntl
import os
import secrets
import stat as file_stat
import time
from pathlib import Path
from typing import Any

from salary.errors import ObjectExists, ObjectRefused, PointerConflict, StoreError, StoreUnavailable

# An unlocked temp file older than this was left by a publisher that died; the next write removes it.
ABANDONED_TEMP_SECONDS = 60.0
_NO_FOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


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
                generation = (stat.st_ino, stat.st_mtime_ns)
                if not file_stat.S_ISREG(stat.st_mode):
                    raise ObjectRefused(str(path), "is not a regular file", generation)
                if max_bytes is not None and stat.st_size > max_bytes:
                    raise ObjectRefused(
                        str(path), f"is {stat.st_size} bytes, over the limit of {max_bytes}", generation
                    )
                content = handle.read(-1 if max_bytes is None else max_bytes + 1)
                if max_bytes is not None and len(content) > max_bytes:
                    raise ObjectRefused(
                        str(path), f"has more than {max_bytes} bytes, the limit (found while reading)", generation
                    )
                return content, generation
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
        with self._folder(key, create=True) as (folder, name), self._temp_file(folder, name, data) as temp:
            try:
                os.link(temp, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError:
                raise ObjectExists(f"{self.root / key} already exists; versions are never overwritten") from None

    def replace(self, key: str, data: bytes, generation: Any) -> None:
        """Compare-and-set under an exclusive lock on the folder."""
        with self._folder(key, create=True) as (folder, name), self._locked():
            try:
                _, current = self.read(key)
            except ObjectRefused as exc:  # a refused object (oversized, not a file) may still be replaced by a repair
                current = exc.generation
            if current != generation:
                raise PointerConflict(f"{self.root / key} changed since it was read")
            with self._temp_file(folder, name, data) as temp:
                self._change(key, lambda: os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder))

    def keys(self, prefix: str) -> list[str]:
        """Files under the root whose relative path starts with `prefix`; temp files excluded."""
        found = []
        for folder, _, files in os.walk(self.root):
            relative = Path(folder).relative_to(self.root)
            found.extend((relative / name).as_posix() for name in files if not name.startswith("."))
        return sorted(key for key in found if key.startswith(prefix))

    def delete(self, key: str) -> None:
        """Unlink the file, then its folder once empty; neither through a symlink."""
        parent_key, _, _ = key.rpartition("/")
        with self._folder(key, create=False) as (folder, name):
            if folder is None:
                return
            with contextlib.suppress(FileNotFoundError):
                self._change(key, lambda: os.unlink(name, dir_fd=folder))
        if parent_key:
            with self._folder(parent_key, create=False) as (above, folder_name), contextlib.suppress(OSError):
                if above is not None:
                    os.rmdir(folder_name, dir_fd=above)

    @contextlib.contextmanager
    def _folder(self, key: str, create: bool):
        """(descriptor of the folder holding `key`, its file name), reached without following a symlink below the root.

        The descriptor is None when a folder on the way is missing and `create` is false.
        """
        *folders, name = key.split("/")
        if create:
            try:
                self._change("", self.root.mkdir, parents=True, exist_ok=True)
            except FileExistsError:
                raise StoreError(f"{self.root}: is not a folder") from None
        opened = []
        try:
            opened.append(self._change("", lambda: os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)))
            for index, part in enumerate(folders):
                where = "/".join(folders[: index + 1])
                if create:
                    with contextlib.suppress(FileExistsError):
                        self._change(where, os.mkdir, part, dir_fd=opened[-1])
                try:
                    opened.append(self._change(where, os.open, part, _NO_FOLLOW_DIR, dir_fd=opened[-1]))
                except FileNotFoundError:
                    yield None, name
                    return
            yield opened[-1], name
        except FileNotFoundError:
            if create:
                raise StoreError(f"{self.root}: the store folder disappeared") from None
            yield None, name
        finally:
            for fd in opened:
                os.close(fd)

    @contextlib.contextmanager
    def _locked(self):
        """The store's exclusive lock (.lock), opened without following a symlink (one would be refused)."""
        with self._folder(".lock", create=True) as (root, name):
            fd = self._change(
                name, lambda: os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o666, dir_fd=root)
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _change(self, key: str, operation, *args, **kwargs):
        """operation(*args, **kwargs); a symlink in the way, or any other OS refusal, becomes a one-line StoreError."""
        try:
            return operation(*args, **kwargs)
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError as exc:
            where = self.root / key if key else self.root
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise StoreError(f"{where}: is a symbolic link or not a folder; the store follows no symlink") from None
            raise StoreError(f"{where}: cannot be changed ({exc.strerror})") from None

    @contextlib.contextmanager
    def _temp_file(self, folder: int, name: str, data: bytes):
        """A fully written, synced temp file beside `name`, locked while in use and removed afterwards."""
        _remove_abandoned_temp_files(folder)
        # Not mkstemp: its 0600 would hide the store from a reader running as another user (a
        # read-only mount into the web app's container); 0666 less the umask is what open() would give.
        temp = f".{name}.{secrets.token_hex(8)}"
        fd = self._change(
            name, lambda: os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=folder)
        )
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
                os.unlink(temp, dir_fd=folder)
            os.close(fd)


def _remove_abandoned_temp_files(folder: int) -> None:
    """Remove temp files a killed publisher left in `folder`: regular files, unlocked, older than a live write could be."""
    cutoff = time.time() - ABANDONED_TEMP_SECONDS
    for entry in os.scandir(folder):
        if not (entry.name.startswith(".") and "." in entry.name[1:]):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
            if not file_stat.S_ISREG(stat.st_mode) or stat.st_mtime >= cutoff:
                continue
            fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(entry.name, dir_fd=folder)
            finally:
                os.close(fd)
        except OSError:  # in use by a live publisher, already gone, or not ours to touch
            continue
