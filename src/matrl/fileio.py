"""Files of a run directory: atomic durable writes, leftovers of killed writes, and the run lock.

Atomic: readers see either the old file or the complete new one, never a partial write. Durable: the file's
data and the rename are flushed to disk (fsync of the file, then of its directory) before a write returns,
so a checkpoint reported as written survives a crash of the process or of the machine's OS
(docs/reliability.md gives the limits: disks that lie about flushes, network file systems).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no flock, so runs are not locked there (docs/reliability.md)
    fcntl = None  # type: ignore[assignment]

#: Temporary files of `write_atomically`: ``.NAME.PID.HEX8.tmp``.
_TMP_PATTERN = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")
LOCK_FILE = ".lock"


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path in ``path``'s directory, then rename it onto ``path``.

    The temporary file lives in the same directory so that ``os.replace`` is an atomic rename on the same
    file system. It is fsynced before the rename and the directory after it; it gets the permissions of a
    file created with ``open`` under the umask (writers such as safetensors create 0600 files); it is removed
    if writing fails (a kill leaves it behind: `remove_stale_tmp` clears it on the next start).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from err  # name the file (a full disk: which)
        raise
    fsync_directory(path.parent)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (no newline translation)."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(text.encode("utf-8")))


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk; a no-op where not supported."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems refuse fsync on directories
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def remove_stale_tmp(directories: Iterable[Path]) -> list[Path]:
    """Delete the temporary files that writes killed mid-way left in ``directories``; returns them.

    Only call this while holding the directory's `RunLock`: nobody else may be writing there then.
    """
    removed = []
    for directory in directories:
        if not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            if _TMP_PATTERN.match(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (``os.umask`` sets it to read it)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class RunLockedError(RuntimeError):
    """Another process holds the run directory (its `RunLock`)."""


class RunLock:
    """An exclusive lock on a run directory, held while a process trains in it (``DIR/.lock``).

    ``fcntl.flock`` on the lock file: the kernel releases it when the holder exits in any way (even SIGKILL),
    so a stale lock never blocks a resume. The holder writes its PID into the file so that a refused process
    can name it. The file itself stays; its existence means nothing.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock now or raise `RunLockedError` naming the holder's PID (never waits)."""
        while fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise RunLockedError(
                    f"run directory {self.directory} is in use by another matrl process (pid {holder}); wait "
                    "for it to finish or stop it, or use another --out"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file as we opened it: lock the one there now
        else:
            return self  # no fcntl (Windows): not locked
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up (clearing the PID first, so that the file never names a finished process)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
