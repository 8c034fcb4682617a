"""Checkpoint files read back: where a run keeps them and how they are named, reading one, and the model
rebuilt from one.

A checkpoint is a dict of tensors and plain JSON-compatible values (config, version, step,
optimizer states, RNG states, data-stream position). It is read with ``torch.load(weights_only=True)``,
so a file carrying arbitrary pickled objects is refused before any of its code can run; a file torch
cannot read at all (random bytes, a truncated copy) is said to be no checkpoint. What every use needs is
checked before use (:func:`check_contents`: the config an object, the step an integer, the image shape
three sizes, the weights a mapping of tensors), and weights that do not fit the networks their config
builds are refused naming the file (:func:`load_weights`). Writing checkpoints during training is
``train/checkpointing.py``'s; which parts of a training run one holds is ``train/state.py``'s.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from ..config import MAX_IMAGE_SIZE, Config, ConfigError
from ..errors import UserError
from ..nets.bigan import BiGAN
from .networks import networks_for

FORMAT = "bigan-repr-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(UserError):
    """A checkpoint is missing, unsafe, or not one of ours."""


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
        unsafe = [line.strip() for line in str(e).splitlines() if "Unsupported global" in line]
        if unsafe:  # a pickled object that needs code: never built
            raise CheckpointError(f"refusing to load {path}: it holds objects other than tensors and plain data, "
                                  f"and loading it could run code ({unsafe[0][:160]})") from None
        raise CheckpointError(f"{path} is not a checkpoint: torch cannot read it (random or damaged bytes, or a "
                              "pickle of a form torch.save does not write)") from None
    except (RuntimeError, EOFError, OSError, KeyError, ValueError, IndexError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): "
                              f"{str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a bigan-repr checkpoint (expected format {FORMAT})")
    ckpt["path"] = str(path)
    check_contents(ckpt)
    return ckpt


def check_contents(ckpt: dict[str, Any]) -> None:
    """Refuse, naming the file, a checkpoint without what every use of it needs, or with it malformed."""
    path = ckpt["path"]
    shape, weights = ckpt.get("image_shape"), ckpt.get("model")
    problems = [
        (not isinstance(ckpt.get("config"), dict), "no 'config' object"),
        (type(ckpt.get("step")) is not int or ckpt["step"] < 0, "no 'step' (an integer >= 0)"),
        (not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()),
         "no 'model' weights (a mapping of tensors)"),
        (not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(type(n) is int for n in shape)
              and shape[0] in (1, 3) and 1 <= shape[1] == shape[2] <= MAX_IMAGE_SIZE),
         f"'image_shape' must be [channels 1 or 3, size, size] with size 1 to {MAX_IMAGE_SIZE}, not "
         f"{str(shape)[:60]}"),
        (ckpt.get("ema_encoder") is not None and not isinstance(ckpt["ema_encoder"], dict),
         "'ema_encoder' is not a mapping of weights"),
        (ckpt.get("classes") is not None and not (isinstance(ckpt["classes"], list)
                                                  and all(type(c) is int for c in ckpt["classes"])),
         "'classes' is not a list of integer labels"),
    ]
    for bad, what in problems:
        if bad:
            raise CheckpointError(f"{path} is not a usable bigan-repr checkpoint: {what}")


def load_weights(module: torch.nn.Module, state: dict[str, Any], path: str | Path, what: str = "weights") -> None:
    """``module.load_state_dict(state)``, refused in one line naming ``path`` where they do not fit."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        detail = " ".join(str(e).split())[len(first):][:200]
        raise CheckpointError(f"{path}: its {what} do not fit the networks its config builds ({first}{detail})") \
            from None


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


def best_checkpoint_path(run_dir: Path) -> Path:
    """Where a run trained with --select keeps the checkpoint its selection metric chose."""
    return Path(run_dir) / CHECKPOINT_DIR / "best.pt"


def model_from_checkpoint(ckpt: dict[str, Any]) -> tuple[BiGAN, Config]:
    """Rebuild the networks from the config stored in the checkpoint and load their weights."""
    path = ckpt.get("path", "checkpoint")
    cfg = Config.from_stored(ckpt["config"], where=f"config stored in {path}")
    classes = ckpt.get("classes")  # a semi-supervised run's, absent from checkpoints before classifiers
    try:
        model = networks_for(cfg, tuple(ckpt["image_shape"]), None if classes is None else len(classes))
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e}") from None
    load_weights(model, ckpt["model"], path)
    return model, cfg
