"""Checkpoint files read back: where a run keeps them and how they are named, reading one, and the model
rebuilt from one.

A checkpoint is a dict of tensors and plain JSON-compatible values (config, version, step,
optimizer states, RNG states, data-stream position). It is read with ``torch.load(weights_only=True)``,
so a file carrying arbitrary pickled objects is refused before any of its code can run; a file torch
cannot read at all (random bytes, a truncated copy) is said to be no checkpoint. What every use needs is
checked on load, before any network is allocated (:func:`check_contents`: the config an object, the step
an integer, the image shape three sizes, the weights a mapping of tensors, every number stored finite
(weights, optimizer moments, plain floats), a classifier's class label values distinct and its class names
one distinct non-empty string per output); then
:func:`check_weight_shapes` builds the networks the stored config describes on the ``meta`` device (shapes
only, no memory) and refuses, naming the file, weights missing, extra or of another shape, so a config
edited to ``hidden 65536`` never allocates what its weights do not hold. Writing checkpoints during
training is ``train/checkpointing.py``'s; which parts of a training run one holds is ``train/state.py``'s.
"""

from __future__ import annotations

import math
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
    check_weight_shapes(ckpt)
    return ckpt


def check_contents(ckpt: dict[str, Any]) -> None:
    """Refuse, naming the file, a checkpoint without what every use of it needs, or with it malformed."""
    path = ckpt["path"]
    shape, weights, ema = ckpt.get("image_shape"), ckpt.get("model"), ckpt.get("ema_encoder")
    classes, names = ckpt.get("classes"), ckpt.get("class_names")
    problems = [
        (not isinstance(ckpt.get("config"), dict), "no 'config' object"),
        (type(ckpt.get("step")) is not int or ckpt["step"] < 0, "no 'step' (an integer >= 0)"),
        (not _tensors(weights), "no 'model' weights (a mapping of tensors)"),
        (not (isinstance(shape, (list, tuple)) and len(shape) == 3 and all(type(n) is int for n in shape)
              and shape[0] in (1, 3) and 1 <= shape[1] == shape[2] <= MAX_IMAGE_SIZE),
         f"'image_shape' must be [channels 1 or 3, size, size] with size 1 to {MAX_IMAGE_SIZE}, not "
         f"{str(shape)[:60]}"),
        (ema is not None and not _tensors(ema), "'ema_encoder' is not a mapping of weights"),
        (classes is not None and not (isinstance(classes, list) and all(type(c) is int and c >= 0 for c in classes)
                                      and len(set(classes)) == len(classes) >= 2),
         f"'classes' must be a list of at least 2 distinct integer labels (>= 0), not {_described(classes)}"),
        (names is not None and not (isinstance(classes, list) and isinstance(names, list) and len(names) == len(classes)
                                    and all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names)),
         f"'class_names' must be a list of {len(classes) if isinstance(classes, list) else 'K'} distinct non-empty "
         f"strings, one per classifier output, not {_described(names)}"),
    ]
    for bad, what in problems:
        if bad:
            raise CheckpointError(f"{path} is not a usable bigan-repr checkpoint: {what}")
    if (where := _not_finite(ckpt)) is not None:
        raise CheckpointError(f"{path} is not a usable bigan-repr checkpoint: {where} holds NaN or infinity; every "
                              f"number a checkpoint stores must be finite")


def _not_finite(ckpt: dict[str, Any]) -> str | None:
    """Where the first float (a tensor's or a plain one) that is not finite sits, as 'model/classifier.weight'
    or 'opt_ge/state/3/exp_avg'; None when every one is finite. Walked with a stack: nothing recurses."""
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in reversed(ckpt.items()) if k != "path"]
    while stack:
        where, value = stack.pop()
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and not value.isfinite().all():
                return where
        elif isinstance(value, float) and not math.isfinite(value):
            return where
        elif isinstance(value, (dict, list, tuple)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((f"{where}/{str(k)[:80]}", v) for k, v in reversed(list(items)))
    return None


def _described(value: Any) -> str:
    """'a list of 3 items', 'a str of 10 characters', 'an int': what a stored value is, never formatted whole."""
    kind = type(value).__name__
    size = f" of {len(value)} {'characters' if isinstance(value, str) else 'items'}" if isinstance(
        value, (str, list, tuple, dict)) else ""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}{size}"


def _tensors(weights: Any) -> bool:
    return isinstance(weights, dict) and all(isinstance(v, torch.Tensor) for v in weights.values())


def stored_config(ckpt: dict[str, Any]) -> Config:
    """The config a checkpoint stored, validated as such."""
    return Config.from_stored(ckpt["config"], where=f"config stored in {ckpt.get('path', 'checkpoint')}")


def _n_classes(ckpt: dict[str, Any]) -> int | None:
    classes = ckpt.get("classes")  # a semi-supervised run's, absent from checkpoints before classifiers
    return None if classes is None else len(classes)


def check_weight_shapes(ckpt: dict[str, Any]) -> None:
    """Refuse, naming the file, weights that are not those of the networks the stored config builds: the
    networks are built on the ``meta`` device (shapes, no memory), so nothing is allocated before the
    file's own tensors are known to fit."""
    path = ckpt["path"]
    try:
        with torch.device("meta"):
            model = networks_for(stored_config(ckpt), tuple(ckpt["image_shape"]), _n_classes(ckpt))
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e}") from None
    check_shapes(model.state_dict(), ckpt["model"], path, "weights")
    if ckpt.get("ema_encoder"):
        check_shapes(model.encoder.state_dict(), ckpt["ema_encoder"], path, "averaged encoder weights")


def check_shapes(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], path: str | Path,
                 what: str) -> None:
    """Refuse, naming ``path``, ``found`` tensors (``what``) that are not ``expected``'s names and shapes (a
    meta-device state dict): missing, unexpected or of another shape, counted with an example of each."""
    missing, extra = [k for k in expected if k not in found], [k for k in found if k not in expected]
    differ = [k for k in expected if k in found and found[k].shape != expected[k].shape]
    if missing or extra or differ:
        detail = "; ".join(part for part in (
            f"{len(missing)} missing, e.g. {missing[0]}" if missing else "",
            f"{len(extra)} unexpected, e.g. {str(extra[0])[:80]}" if extra else "",
            f"{len(differ)} of another shape, e.g. {differ[0]}: {list(found[differ[0]].shape)} in the file, "
            f"{list(expected[differ[0]].shape)} by the config" if differ else "") if part)
        raise CheckpointError(f"{path}: its {what} do not fit the networks its config builds ({detail})")


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
    """Rebuild the networks from the config stored in a checkpoint :func:`load_checkpoint` read (its weights'
    shapes already checked against that config) and load their weights."""
    path = ckpt.get("path", "checkpoint")
    cfg = stored_config(ckpt)
    try:
        model = networks_for(cfg, tuple(ckpt["image_shape"]), _n_classes(ckpt))
    except ConfigError as e:
        raise CheckpointError(f"{path}: {e}") from None
    load_weights(model, ckpt["model"], path)
    return model, cfg
