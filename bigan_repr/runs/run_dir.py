"""A run directory: config.json, metrics.jsonl, PNG grids, checkpoints/, skipped_files.txt and its
writer lock.

config.json and metrics.jsonl are read as files anyone may have edited, through :mod:`untrusted`:
bounded, UTF-8, a config that is an object, metrics rows that are objects with an integer step. A
last row cut off by a kill mid-write is skipped; any other bad row is refused naming its line.
metrics.jsonl grows with the run, so it is streamed a row at a time (:mod:`metrics_log`), never read
whole, by its readers and by the resume that truncates it.

Everything written is strict JSON, which the readers take back. A metric that is not finite (the
row a diverged run logs as it stops, its ``stopped`` naming the quantity) is written as ``null``:
JSON has no NaN, and :mod:`untrusted` refuses the ``NaN`` token Python would write.

Only one process may train into a run directory at a time. The writer holds an exclusive
``flock`` on ``lock`` for the run's life (the file also names its PID, for the message others
see). The kernel drops the lock when its process dies, however it dies, so a lock file left by a
dead process is simply taken over, and no two processes can hold it at once. Holding it is also
what lets a process write the run's files (:mod:`targets`), besides this class's own writes of its
config, metrics and skipped files: training and the report hold it, so a command that does not
(``export --out RUN/...``) cannot overwrite them.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError
from . import fault_injection, targets
from .atomic import atomic_write, atomic_write_text
from .metrics_log import METRICS_FILE, metrics_rows
from .untrusted import read_mapping

LOCK_FILE = "lock"
SKIPPED_FILE = "skipped_files.txt"  # with --skip-bad: the unreadable files training passed over


def _json_safe(value: Any) -> Any:
    """``value`` with every number that is not finite as None (null): JSON has no literal for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def metrics_line(row: dict[str, Any]) -> str:
    """One metrics.jsonl line: ``row`` as strict JSON, a number that is not finite written as null."""
    return json.dumps(_json_safe(row), allow_nan=False) + "\n"


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / targets.RUN_CONFIG
        self.metrics_path = self.path / METRICS_FILE
        self.sinks: list = []  # other logs each metrics row also goes to (write_row), e.g. TensorBoard
        self._lock_fd: int | None = None  # open while this object holds the writer lock

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.path}: {e.strerror}") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"run directory {self.path} is not writable")

    def write_config(self, config: dict[str, Any]) -> None:
        with targets.owning(self.path):  # the run's own file, written through its own API
            atomic_write_text(self.config_path, json.dumps(config, indent=2, allow_nan=False) + "\n")

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise UserError(f"{self.path} is not a run directory (no config.json)")
        return read_mapping(self.config_path, yaml=False, what="a run's config (an object of sections)")

    def write_skipped(self, files: list[str]) -> None:
        with targets.owning(self.path):
            atomic_write_text(self.path / SKIPPED_FILE, "".join(f"{f}\n" for f in files))

    def append_metrics(self, row: dict[str, Any]) -> None:
        try:
            with open(self.metrics_path, "a") as f:
                f.write(metrics_line(row))
        except OSError as e:  # e.g. the disk is full: the rows before stay, a torn last one is skipped on read
            raise UserError(f"cannot write {self.metrics_path}: {e.strerror}") from None
        for sink in self.sinks:
            sink.write_row(row)
        fault_injection.reached(f"metrics:{row.get('step')}")  # tests interrupt a run here

    def metrics(self) -> Iterator[dict[str, Any]]:
        """The rows logged, each checked, one at a time (:func:`metrics_log.metrics_rows`); none without a file."""
        return metrics_rows(self.metrics_path)

    def truncate_metrics(self, step: int) -> None:
        """Drop rows logged after ``step``: a resumed run logs them again. The rows kept are streamed into
        the new file, which replaces the old one atomically; a last row torn by a kill is dropped."""
        def write(f) -> None:
            for row in self.metrics():
                if row.get("step", 0) <= step:
                    f.write(metrics_line(row).encode())

        with targets.owning(self.path):
            atomic_write(self.metrics_path, write)

    # ---- one writer at a time ----
    def acquire_lock(self) -> None:
        """Take the writer lock, or refuse naming the process that holds it."""
        lock = self.path / LOCK_FILE
        while True:
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise UserError(f"cannot lock run directory {self.path}: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _read_pid(lock)
                raise UserError(
                    f"run directory {self.path} is in use by {f'process {holder}' if holder else 'another process'}; "
                    f"wait for it to finish"
                ) from None
            except OSError as e:  # e.g. a file system without locks
                os.close(fd)
                raise UserError(f"cannot lock run directory {self.path}: {e.strerror}") from None
            if _same_file(fd, lock):
                break
            os.close(fd)  # locked a file its last holder had already removed: try the current one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        targets.own(self.path)

    def release_lock(self) -> None:
        if self._lock_fd is None:
            return
        targets.disown(self.path)
        (self.path / LOCK_FILE).unlink(missing_ok=True)  # while still held: see acquire_lock's check
        os.close(self._lock_fd)
        self._lock_fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None
