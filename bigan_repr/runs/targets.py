"""What a command may write: the one rule every output path passes before anything is written.

A path to write is refused, in one line naming it and the problem (:func:`check_target`), when
- it is empty;
- it ends in "/" where a file is written: a trailing slash names a folder, everywhere;
- it exists and is not what is written: a folder, FIFO, device, socket or symbolic link where a
  file goes (an atomic write would replace ``/dev/null``, or the link ``/dev/stdout``, itself), a
  file where a folder goes;
- it lies inside a run directory this process does not own. A run's files are written only by the
  process holding its writer lock (:meth:`run_dir.RunDir.acquire_lock`: training, and the report),
  so ``export --out RUN/checkpoints/step_N.pt`` cannot destroy the checkpoint it exports;
- it is a file this command reads (``neighbors --grid QUERY.png``), outside a run it owns.

The writer (:mod:`atomic`) applies the rule to every file it writes; the command line applies it
to every output path a command names before the command starts (:func:`command_scope`), so a
refusal comes before any work and any write. While a command runs, every file it opens for
reading is noted (an audit hook on ``open``), so a file read inside an input folder or a data
source counts as read too.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError

# a folder holding these is a run directory: its config (what RunDir reads) beside its metrics or checkpoints
RUN_CONFIG, RUN_EVIDENCE = "config.json", ("metrics.jsonl", "checkpoints")

_owned: set[Path] = set()  # run directories whose writer lock this process holds
_reads: set[tuple[int, int]] | None = None  # (device, inode) of the files the running command reads
_hooked = False


def is_run_dir(folder: Path) -> bool:
    # os.path's tests answer False on any error (a path too long to look up included)
    return os.path.isfile(folder / RUN_CONFIG) and any(os.path.exists(folder / name) for name in RUN_EVIDENCE)


def own(run_dir: Path) -> None:
    """This process holds ``run_dir``'s writer lock: its files are this process's to write."""
    _owned.add(Path(os.path.realpath(run_dir)))


def disown(run_dir: Path) -> None:
    _owned.discard(Path(os.path.realpath(run_dir)))


@contextmanager
def owning(run_dir: Path):
    """Write ``run_dir``'s files for the duration: :class:`run_dir.RunDir` writes its own files so."""
    folder = Path(os.path.realpath(run_dir))
    added = folder not in _owned
    _owned.add(folder)
    try:
        yield
    finally:
        if added:
            _owned.discard(folder)


def _identity(path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _note_reads(event: str, args: tuple) -> None:
    """Audit hook: a file opened for reading while a command runs is one it reads: by ``open()`` (a mode
    without w, a, x or +), or by ``os.open`` read-only (the bounded reader's way; mode None, the flags given),
    a regular file only (a folder opened to be synced is not read)."""
    if event != "open" or _reads is None:
        return
    path, mode, flags = args
    if not isinstance(path, (str, bytes, os.PathLike)):
        return
    if isinstance(mode, str):
        reading = not set(mode) & set("wax+")
    else:
        reading = isinstance(flags, int) and flags & os.O_ACCMODE == os.O_RDONLY and os.path.isfile(path)
    if reading and (found := _identity(path)) is not None:
        _reads.add(found)


@contextmanager
def command_scope(inputs: Iterable[str | Path] = ()):
    """While a command runs: the files it reads (the files among ``inputs``, and every file it opens to read)
    are noted."""
    global _reads, _hooked
    if not _hooked:
        sys.addaudithook(_note_reads)  # for the life of the process; it notes nothing outside a scope
        _hooked = True
    _reads = {found for path in inputs if os.path.isfile(path) and (found := _identity(path)) is not None}
    try:
        yield
    finally:
        _reads = None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"),
             (stat.S_ISREG, "a regular file"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _run_dir_holding(path: Path) -> Path | None:
    """The nearest run directory among the folders holding ``path`` (links followed)."""
    for folder in (Path(os.path.realpath(path.parent)), *Path(os.path.realpath(path.parent)).parents):
        if is_run_dir(folder):
            return folder
    return None


def check_target(path: str | Path, *, folder: bool = False, what: str | None = None, example: str | None = None
                 ) -> Path:
    """``path`` as a Path if a file (or with ``folder``, a folder) may be written there; else the refusal.

    ``what`` names the flag in the message (``--out``), ``example`` a file name to suggest; ``path`` is
    taken as given, so that a trailing slash is seen.
    """
    text, want = os.fspath(path), "folder" if folder else "file"
    shown = f"{what} {text}" if what else text
    if not text:
        raise UserError(f"{what or 'the output path'} '' is empty: name the {want} to write")
    if not folder and text.endswith(("/", os.sep)):  # a trailing slash names a folder, for every command
        raise UserError(f"{shown} names a folder; give a file name" + (f" such as {example}" if example else ""))
    target = Path(text)
    try:  # a folder may be named through a link (encode follows it); a file's link would itself be replaced
        mode = os.stat(target).st_mode if folder else os.lstat(target).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not (stat.S_ISDIR(mode) if folder else stat.S_ISREG(mode)):
        raise UserError(f"{shown} is {_kind(mode)}, not a {'folder' if folder else 'regular file'}, and is never "
                        f"replaced: name a {want} to write")
    run = _run_dir_holding(target)
    if run is not None and run not in _owned:
        raise UserError(f"{shown} is inside run directory {run}, whose files only its own training and report "
                        f"write: name a {want} outside it")
    if run is None and _reads and mode is not None and _identity(target) in _reads:
        raise UserError(f"{shown} is a file this command reads: name another file to write")
    return target
