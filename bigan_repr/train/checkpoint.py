"""Checkpoints: everything needed to resume a run and to rebuild its models, saved safely.

A checkpoint is a dict of tensors and plain JSON-compatible values (config, version, step,
optimizer states, RNG states, data-stream position). It is written atomically and read with
``torch.load(weights_only=True)``, so a file carrying arbitrary pickled objects is refused
before any of its code can run. :func:`capture` and :func:`restore` are the one place that
knows which parts of a training run (``assembly.Assembly``) a checkpoint holds, and
:func:`check_resume_compatible` what a resumed run may change.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .. import __version__
from ..config import Config, ConfigError
from ..errors import UserError
from ..nets.bigan import BiGAN, build_bigan
from ..runs.atomic import atomic_write
from .distributed import gather_rng_states

if TYPE_CHECKING:
    from .assembly import Assembly

FORMAT = "bigan-repr-checkpoint/1"
CHECKPOINT_DIR = "checkpoints"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


# what may change when a run is resumed: its length and its bookkeeping, not what it learns
RESUMABLE_CHANGES = {
    "train": {"epochs", "steps", "log_every", "checkpoint_every", "sample_every", "keep", "threads",
              "device", "eval_every", "select", "compile", "precision", "sync_bn", "tensorboard"},
}


class CheckpointError(UserError):
    """A checkpoint is missing, unsafe, or not one of ours."""


def capture(run: Assembly, step: int, best: float | None) -> dict[str, Any]:
    """A run's whole state at ``step``; collective under DDP (every rank gives its RNG state)."""
    return {
        "version": __version__, "config": run.cfg.to_dict(), "step": step,
        "image_shape": list(run.model.image_shape),
        "model": run.model.state_dict(), "opt_d": run.opt_d.state_dict(),
        "opt_ge": run.opt_ge.state_dict(), "stream": run.stream.state_dict(),
        "rng": {"z": gather_rng_states(run.rng, run.dist), "torch": torch.get_rng_state()},
        "best_metric": best,
        "ema_encoder": run.ema.state_dict() if run.ema else None,
    }


def restore(run: Assembly, ckpt: dict[str, Any]) -> tuple[int, float | None]:
    """Load ``ckpt`` into ``run``; returns its step and best selection metric."""
    run.model.load_state_dict(ckpt["model"])
    run.opt_d.load_state_dict(ckpt["opt_d"])
    run.opt_ge.load_state_dict(ckpt["opt_ge"])
    if run.ema is not None:
        run.ema.load_state_dict(ckpt["ema_encoder"])
    run.stream.load_state_dict(ckpt["stream"])
    states, rank = ckpt["rng"]["z"], run.dist.rank
    if len(states) == run.dist.world:  # generator states are CPU byte tensors
        run.rng.set_state(states[rank].cpu())
    else:  # resumed on another number of processes: fresh, distinct streams per rank
        run.rng.manual_seed(run.cfg.train.seed + 7919 * rank + 104729 * int(ckpt["step"]))
    torch.set_rng_state(ckpt["rng"]["torch"].cpu())
    return int(ckpt["step"]), ckpt.get("best_metric")


def check_resume_compatible(stored: Config, requested: Config, run_dir: Path) -> None:
    a, b = stored.to_dict(), requested.to_dict()
    for section in a:
        for key in a[section]:
            if a[section][key] != b[section][key] and key not in RESUMABLE_CHANGES.get(section, ()):
                raise ConfigError(
                    f"cannot resume {run_dir} with {section}.{key}={b[section][key]!r}: the run was "
                    f"trained with {a[section][key]!r}. Only these may change on resume: "
                    f"{', '.join(sorted(RESUMABLE_CHANGES['train']))}"
                )


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
    model = build_bigan(cfg, tuple(ckpt["image_shape"]))
    model.load_state_dict(ckpt["model"])
    return model, cfg
