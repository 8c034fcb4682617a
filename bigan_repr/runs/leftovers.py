"""Temporaries named after the process that made them, and removing those whose process is dead.

Everything this package writes under a temporary name carries its writer in that name, beside
the ``NAME`` it is for: ``.NAME.PID@HOST.XXXXXXXX.tmp[.EXT]`` is a file being written atomically
or a folder of shards being filled, ``.NAME.PID@HOST.old`` an output moved aside while its
replacement moves in. A process that is killed leaves them behind; the next write of the same
``NAME`` removes those whose process is gone. Only names of exactly this pattern are touched, and
only when their PID is not a live process on this host: a concurrent writer's temporary, one from
another machine sharing the folder, and any other file are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname().split(".")[0])[:32] or "localhost"


def owner_tag() -> str:
    """``PID@HOST`` of this process."""
    return f"{os.getpid()}@{HOST}"


def temp_prefix(name: str) -> str:
    """The start of a temporary's name for ``name`` (mkstemp/mkdtemp add XXXXXXXX and ``.tmp``)."""
    return f".{name}.{owner_tag()}."


def old_copy_name(name: str) -> str:
    """The hidden name an output ``name`` has while its replacement is moved into place."""
    return f".{name}.{owner_tag()}.old"


def _pattern(name: str, kind: str) -> re.Pattern[str]:
    tail = r"\.[a-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?" if kind == "tmp" else r"\.old"
    return re.compile(rf"\.{re.escape(name)}\.(\d+)@([A-Za-z0-9-]+){tail}")


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a process on this host (in doubt, yes: nothing is removed on a doubt)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: someone else's live process
        return True
    return True


def dead_leftovers(path: Path, kind: str) -> list[Path]:
    """Temporaries (``kind`` "tmp") or moved-aside copies ("old") of ``path`` whose writer is dead."""
    pattern = _pattern(path.name, kind)
    try:
        entries = os.listdir(path.parent)
    except OSError:
        return []
    found = []
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m and m.group(2) == HOST and not pid_alive(int(m.group(1))):
            found.append(path.parent / entry)
    return sorted(found)


def remove_dead_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files and staging folders of ``path`` left by dead processes; returns them."""
    removed = []
    for leftover in dead_leftovers(Path(path), "tmp"):
        try:
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        except OSError:
            continue  # not ours to fight over: it stays, and the write goes on
        removed.append(leftover)
    return removed
