"""Atomic file writes: a temporary file in the target folder, fsynced, then renamed into place.

A reader (or a crash) sees either the old file or the complete new one, never a torn one. The
temporary's name carries its writer (:mod:`leftovers`), so one left by a killed process is
removed when the same file is next written. A write the file system refuses (the disk or quota
full, a file-size limit, a read-only or failing disk) is one :class:`UserError` line naming the
file; the temporary is removed and the old file stays as it was.

Every path is first checked by :func:`targets.check_target`, the one rule of what may be written
where: never a device, FIFO or folder, never an empty path or one ending in "/", never a file of a
run directory whose writer lock this process does not hold, never a file the command reads.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import UserError
from . import fault_injection
from .leftovers import remove_dead_temporaries, temp_prefix
from .targets import check_target

_UMASK = os.umask(0o022)
os.umask(_UMASK)
# what a write can meet that the user fixes (free space, raise a limit), not a bug
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


class _Recording:
    """A file that keeps the error of a failed write: torch.save reports one as a RuntimeError."""

    def __init__(self, f: IO[bytes]):
        self._f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str):
        return getattr(self._f, name)


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    ``path`` is refused (:func:`targets.check_target`) before anything is written."""
    path = check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    os.close(fd)
    try:
        yield Path(tmp)
        fault_injection.reached(f"write:{path.name}")  # tests interrupt a write here
        fd = os.open(tmp, os.O_WRONLY)  # to sync: a read-only open would count it as a file the command reads
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        if e.errno not in _WRITE_ERRORS:
            raise
        raise UserError(f"cannot write {path}: {e.strerror}; it was left as it was") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically with ``write(file)``; returns the path."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        f = _Recording(raw)
        try:
            write(f)
            f.flush()
        except Exception as e:
            if f.error is not None and f.error is not e:  # e.g. torch's RuntimeError for the failed write
                raise f.error from None
            raise
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
