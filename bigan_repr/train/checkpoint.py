"""Checkpoint files: where they live, how they are named, written and read, and the models rebuilt
from one.

A checkpoint is a dict of tensors and plain JSON-compatible values (config, version, step,
optimizer states, RNG states, data-stream position). It is written atomically and read with
``torch.load(weights_only=True)``, so a file carrying arbitrary pickled objects is refused
before any of its code can run. Which parts of a training run it holds is ``state.py``'s.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..errors import UserError
from ..nets.bigan import BiGAN
from ..runs.atomic import atomic_write
from .networks import networks_for

FORMAT = "bigan-repr-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(UserError):
    """A checkpoint is missing, unsafe, or not one of ours."""


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **payload}, f))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint file, or the latest checkpoint of a run directory."""
    path = Path(path)
    if path.is_dir():
        path = latest_checkpoint(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refusing to load {path}: it holds objects other than tensors and plain data, and "
            f"loading it could run code ({str(e).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a bigan-repr checkpoint (expected format {FORMAT})")
    ckpt["path"] = str(path)
    return ckpt


def step_checkpoints(run_dir: Path) -> list[Path]:
    """The run's step checkpoints, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    found = [(int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path:
    found = step_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"run directory {run_dir} has no checkpoints in {CHECKPOINT_DIR}/")
    return found[-1]


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def clean_partial_writes(run_dir: Path) -> None:
    """Remove temporary files a killed process left mid-write; complete files are untouched."""
    for tmp in (Path(run_dir) / CHECKPOINT_DIR).glob(".*.tmp*"):
        tmp.unlink(missing_ok=True)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for old in step_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)


def model_from_checkpoint(ckpt: dict[str, Any]) -> tuple[BiGAN, Config]:
    """Rebuild the networks from the config stored in the checkpoint and load their weights."""
    cfg = Config.from_stored(ckpt["config"], where=f"config stored in {ckpt.get('path', 'checkpoint')}")
    classes = ckpt.get("classes")  # a semi-supervised run's, absent from checkpoints before classifiers
    model = networks_for(cfg, tuple(ckpt["image_shape"]), None if classes is None else len(classes))
    model.load_state_dict(ckpt["model"])
    return model, cfg
