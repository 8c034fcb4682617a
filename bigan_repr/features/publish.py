"""Where a shard directory goes: the folder ``--out`` may name, what it may replace, the staging
folder the shards are written into, the move into place, and the repair of a move cut short.

- ``--out`` may not be the current folder or a folder holding it (``./``, ``..``, ``/``).
- An existing folder is replaced only when it is empty, or a feature folder (its manifest passes
  :func:`manifest.read_manifest`) holding nothing but the files its manifest names. Any other
  entry (a user's file, a folder) makes encode refuse, naming it, before anything is written;
  nothing the package did not write is ever deleted.
- Publishing swaps the staging folder and the existing output in one step (Linux's
  ``renameat2(RENAME_EXCHANGE)``), so ``NAME`` always holds a complete output, the old or the new,
  however the process dies; the old one, now under the staging folder's name, is then removed (a
  kill first leaves it as a dead staging folder, which the next encode removes). A new output, or
  an empty folder, is simply renamed over.
- Where the file system or libc cannot exchange (EINVAL, ENOSYS, no ``renameat2``), publishing
  renames the existing output to ``.NAME.PID@HOST.old``, then the staging folder to ``NAME``, then
  removes the old copy. A kill between the two renames leaves the old copy under its hidden name:
  the next encode into ``NAME``, or reading ``NAME``, moves it back first (:func:`restore_interrupted`),
  so whoever looks finds the old output or the new one, complete. The next encode also removes an
  old copy left after the second rename (``NAME`` is complete) and staging folders whose process is
  dead (:mod:`..runs.leftovers`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
from pathlib import Path

from ..runs import fault_injection
from ..runs.atomic import fsync_dir
from ..runs.leftovers import dead_leftovers, old_copy_name, remove_dead_temporaries, temp_prefix
from .manifest import MANIFEST, FeatureFileError, ManifestError, read_manifest


def output_folder(out: str | Path) -> Path:
    """``--out`` as an absolute path (a link followed); refused if it is or holds the current folder."""
    path = Path(os.path.abspath(out))
    if path.is_symlink():
        path = path.resolve()
    cwd = Path.cwd().resolve()
    if cwd.is_relative_to(path.resolve()):
        which = "the current folder" if cwd == path.resolve() else "a folder holding the current folder"
        raise FeatureFileError(f"--out {out} is {which} ({path}); encode will not replace it: name a new folder "
                               "for the shards, e.g. --out features/")
    return path


def _has_content(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def is_feature_folder(path: Path) -> bool:
    try:
        read_manifest(path)
    except ManifestError:
        return False
    return True


def check_replaceable(out: Path) -> None:
    """Refuse ``out`` unless it is new, empty, or a feature folder holding only what its manifest names."""
    if out.exists() and not out.is_dir():
        raise FeatureFileError(f"{out} exists and is not a folder; name a new folder for the shards")
    if not _has_content(out):
        return
    try:
        owned = read_manifest(out).files()
    except ManifestError as e:
        why = f"{MANIFEST}: {e.reason}" if (out / MANIFEST).is_file() else f"no {MANIFEST}"
        raise FeatureFileError(f"{out} is a folder that holds other files and is not a feature folder ({why}); "
                               "name an empty or new folder for the shards") from None
    foreign = sorted(name for name in os.listdir(out)
                     if name not in owned or ((out / name).is_dir() and not (out / name).is_symlink()))
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise FeatureFileError(f"{out} holds {foreign[0]!r}{more}, which its manifest does not name: encode "
                               "replaces only its own files; move it out, or name another folder for the shards")


def new_staging_dir(out: Path) -> Path:
    """A hidden folder beside ``out``, named after this process, that the shards are written into."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=temp_prefix(out.name), suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise FeatureFileError(f"cannot write {out}: {e.strerror}") from None


def restore_interrupted(out: Path) -> bool:
    """Move back the copy of ``out`` that a killed publish left aside, if ``out`` is missing or empty."""
    olds = dead_leftovers(out, "old")
    if not olds or _has_content(out):
        return False
    if len(olds) > 1:
        raise FeatureFileError(f"{out} is missing, and interrupted encodes left several earlier copies beside it "
                               f"({', '.join(p.name for p in olds)}); rename the one to keep to {out.name}")
    try:
        os.replace(olds[0], out)
    except OSError as e:
        raise FeatureFileError(f"{out} is missing; an interrupted encode left its previous copy in {olds[0]}, "
                               f"which cannot be moved back ({e.strerror}): rename it to {out.name}") from None
    fsync_dir(out.parent)
    return True


def recover(out: Path) -> None:
    """Before an encode into ``out``: undo an interrupted publish and remove what dead encodes left."""
    restore_interrupted(out)
    if is_feature_folder(out):  # complete: an old copy beside it is one a killed publish had not removed yet
        for old in dead_leftovers(out, "old"):
            shutil.rmtree(old, ignore_errors=True)
    remove_dead_temporaries(out)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2  # <fcntl.h>, <linux/fs.h>


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step; False (nothing done) where this system cannot."""
    if fault_injection.unsupported("renameat2"):  # tests take the fallback path this way
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a libc without it (glibc < 2.28, not Linux)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS):  # a file system or kernel without RENAME_EXCHANGE
        return False
    raise OSError(code, os.strerror(code), str(b))


def move_into_place(staging: Path, out: Path) -> None:
    """Replace ``out`` (checked by :func:`check_replaceable`) with the complete ``staging`` folder."""
    fault_injection.reached("publish:staged")  # tests kill the process at each step of the move
    try:
        exchanged = _has_content(out) and exchange(staging, out)
    except OSError as e:
        raise _not_moved(out, e) from None
    if not exchanged:
        _rename_into_place(staging, out)
        return
    fsync_dir(out.parent)
    fault_injection.reached("publish:exchanged")
    shutil.rmtree(staging, ignore_errors=True)  # it holds the old output now


def _not_moved(out: Path, e: OSError) -> FeatureFileError:
    return FeatureFileError(f"cannot move the shards into {out}: {e.strerror} (another encode into it at the same "
                            "time?); it was left as it was")


def _rename_into_place(staging: Path, out: Path) -> None:
    """The fallback: the old output aside, the new one renamed in, the old one removed."""
    old = None
    if _has_content(out):
        old = out.with_name(old_copy_name(out.name))
        os.replace(out, old)
        fault_injection.reached("publish:old-aside")
    try:
        os.replace(staging, out)
    except OSError as e:
        if old is not None:
            os.replace(old, out)
        raise _not_moved(out, e) from None
    fsync_dir(out.parent)
    fault_injection.reached("publish:new-in-place")
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
