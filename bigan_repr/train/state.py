"""What a checkpoint holds of a training run, and what a resumed run may change.

:func:`capture` and :func:`restore` are the one place that knows which parts of a run
(``assembly.Assembly``) a checkpoint holds; :func:`check_resume_compatible` decides what a resume
may change: the config values ``model/recipe.py`` calls bookkeeping, and nothing else.
:func:`resumable_checkpoint` reads the checkpoint a resume starts from and checks it before the run's
networks are built, so a config edited to train far wider networks is refused before they are allocated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import Config, ConfigError
from ..model.checkpoint import (
    CHECKPOINT_DIR,
    CheckpointError,
    load_checkpoint,
    load_weights,
    step_checkpoints,
    stored_config,
)
from ..model.recipe import BOOKKEEPING
from .assembly import Assembly
from .distributed import gather_rng_states


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
        # a semi-supervised run's classes: the label value of each classifier output, and its name
        "classes": None if run.labels is None else run.labels.classes.tolist(),
        "class_names": output_names(run),
    }


def output_names(run: Assembly) -> list[str] | None:
    """The class name of each classifier output (the source names its label values), as checkpoints store
    them; None for a run without a classifier or a source without names."""
    if run.labels is None or not run.class_names:
        return None
    names = [str(run.class_names[c]) if 0 <= c < len(run.class_names) else None for c in run.labels.classes]
    return names if None not in names else None


def restore(run: Assembly, ckpt: dict[str, Any]) -> tuple[int, float | None]:
    """Load ``ckpt`` into ``run``; returns its step and best selection metric. A checkpoint without a
    part of the run, or with one that does not fit, is refused in one line naming it."""
    load_weights(run.model, ckpt["model"], ckpt["path"])
    try:
        return _restore_state(run, ckpt)
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as e:
        what = f"it has no {e}" if isinstance(e, KeyError) else (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"{ckpt['path']}: cannot resume from it ({what})") from None


def _restore_state(run: Assembly, ckpt: dict[str, Any]) -> tuple[int, float | None]:
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
            if a[section][key] != b[section][key] and key not in BOOKKEEPING.get(section, ()):
                raise ConfigError(
                    f"cannot resume {run_dir} with {section}.{key}={b[section][key]!r}: the run was "
                    f"trained with {a[section][key]!r}. Only these may change on resume: "
                    f"{', '.join(sorted(BOOKKEEPING['train']))}"
                )


def resumable_checkpoint(cfg: Config, run_dir: Path) -> dict[str, Any]:
    """The run's latest checkpoint, read on the CPU (its weights checked against its stored config on the
    meta device) and its config checked against ``cfg``: what a resume may change, and nothing else."""
    if not step_checkpoints(run_dir):
        raise CheckpointError(
            f"cannot resume {run_dir}: it has no checkpoints in {CHECKPOINT_DIR}/ (it stopped before its first "
            f"one, or they were moved); nothing was changed. To start over, train into a new --out, or delete "
            f"{run_dir}"
        )
    ckpt = load_checkpoint(run_dir, map_location="cpu")
    check_resume_compatible(stored_config(ckpt), cfg, run_dir)
    return ckpt
