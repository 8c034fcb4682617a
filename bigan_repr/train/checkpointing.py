"""Checkpoints written during training: one file per saved step, written atomically, the oldest pruned,
and what a killed process left mid-write cleared away.

The file's format, names and reading back are ``model/checkpoint.py``'s; what a checkpoint holds of a
training run is ``state.py``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..model.checkpoint import CHECKPOINT_DIR, FORMAT, step_checkpoints
from ..runs.atomic import atomic_write


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **payload}, f))


def clean_partial_writes(run_dir: Path) -> None:
    """Remove temporary files a killed process left mid-write; complete files are untouched."""
    for tmp in (Path(run_dir) / CHECKPOINT_DIR).glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for old in step_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
