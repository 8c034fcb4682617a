"""A benchmark's results file: rows kept as JSON as each is measured, so a rerun measures only what is missing,
each row saying where it came from.

A row carries its provenance beside its numbers: the full resolved config, the command line, the commit of the
checkout and the seconds it took. Rows written before these fields existed load as they are. Every write
replaces the file atomically (the package's writer), so an interrupted one leaves the last complete file. The
scripts that keep such a file also share their ``--threads`` option and the publishing of their table here.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bigan_repr.config import Config
from bigan_repr.model.runtime import set_threads
from bigan_repr.runs.atomic import atomic_write, atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def parse_args(parser: argparse.ArgumentParser, threads: int = 2, argv: list[str] | None = None) -> argparse.Namespace:
    """Add ``--threads`` (torch's and BLAS's), parse the command line and use that many threads."""
    parser.add_argument("--threads", type=int, default=threads)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    commit()  # read now: the rows measured later run the code imported now, whatever the checkout becomes
    return args


def command() -> str:
    """The command line of this process as typed from the repository's root: ``python benchmarks/NAME.py ...``."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass  # a script outside the checkout keeps the name it was run by
    return shlex.join(["python", str(script), *sys.argv[1:]])


DIRTY = "+dirty"  # the suffix of a commit whose checkout had tracked files changed
UNKNOWN = "unknown"  # the commit of a run outside a git checkout


@functools.cache
def commit() -> str:
    """HEAD of the checkout, with DIRTY where tracked files differ from it; UNKNOWN outside a git checkout."""
    try:
        head = _git("rev-parse", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return UNKNOWN
    return head + (DIRTY if changed else "")


def same_clean_commit(*rows: dict) -> bool:
    """Whether every row was measured at one commit, known and clean: what a paired claim needs."""
    commits = {row.get("commit") for row in rows}
    return len(commits) == 1 and None not in commits and UNKNOWN not in commits and not commits.pop().endswith(DIRTY)


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def provenance(config: Config, started: float) -> dict:
    """A row's config, command, commit and seconds; ``started`` is ``time.perf_counter()`` when the row began."""
    return {"config": config.to_dict(), "command": command(), "commit": commit(),
            "seconds": round(time.perf_counter() - started)}


def serialized(document: dict, indent: int) -> str:
    # default=str: a value JSON has no type for (a path, say) is kept as its text instead of failing the write
    return json.dumps(document, indent=indent, default=str) + "\n"


@dataclass
class ResultsFile:
    """A JSON document holding rows by key: the whole document, or its ``rows_key`` field beside the
    benchmark's own fields (``document``)."""

    path: Path
    rows_key: str | None = None
    indent: int = 1
    document: dict = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.document = json.loads(self.path.read_text()) if self.path.exists() else {}

    @property
    def rows(self) -> dict[str, dict]:
        return self.document if self.rows_key is None else self.document.setdefault(self.rows_key, {})

    def __contains__(self, key: str) -> bool:
        return key in self.rows

    def add(self, key: str, row: dict, config: Config, started: float) -> dict:
        """Keep ``row`` with its provenance under ``key`` and write the file; returns the row as kept."""
        self.rows[key] = row | provenance(config, started)
        self.save()
        return self.rows[key]

    def save(self) -> None:
        atomic_write(self.path, lambda f: f.write(serialized(self.document, self.indent).encode()))


def publish(path: Path, markdown: str) -> None:
    """Write a benchmark's table atomically and print it."""
    atomic_write_text(path, markdown)
    print(markdown)
