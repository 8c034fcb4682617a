"""A run directory: config.json, metrics.jsonl, PNG grids, checkpoints/, and its writer lock.

Only one process may train into a run directory at a time: ``lock`` holds the writer's PID and
a lock left by a dead process is taken over.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import UserError

LOCK_FILE = "lock"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan" / "inf": JSON has no literal for them
    return value


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.sinks: list = []  # other logs each metrics row also goes to (write_row), e.g. TensorBoard

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create run directory {self.path}: {e.strerror}") from None
        if not os.access(self.path, os.W_OK):
            raise UserError(f"run directory {self.path} is not writable")

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(self.config_path, json.dumps(config, indent=2) + "\n")

    def read_config(self) -> dict[str, Any]:
        if not self.config_path.is_file():
            raise UserError(f"{self.path} is not a run directory (no config.json)")
        try:
            return json.loads(self.config_path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{self.config_path} is not valid JSON: {e}") from None

    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps({k: _json_safe(v) for k, v in row.items()}) + "\n")
        for sink in self.sinks:
            sink.write_row(row)

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write carries nothing worth keeping
        return rows

    def truncate_metrics(self, step: int) -> None:
        """Drop rows logged after ``step``: a resumed run logs them again."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    # ---- one writer at a time ----
    def acquire_lock(self) -> None:
        lock = self.path / LOCK_FILE
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pid = _read_pid(lock)
                if pid is not None and _alive(pid) and pid != os.getpid():
                    raise UserError(
                        f"run directory {self.path} is in use by process {pid}; "
                        f"wait for it, or choose another --out"
                    ) from None
                lock.unlink(missing_ok=True)  # stale: its writer is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return

    def release_lock(self) -> None:
        lock = self.path / LOCK_FILE
        if _read_pid(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _read_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
