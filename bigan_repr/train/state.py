"""What a checkpoint holds of a training run, and what a resumed run may change.

:func:`capture` and :func:`restore` are the one place that knows which parts of a run
(``assembly.Assembly``) a checkpoint holds; :func:`check_resume_compatible` decides what a resume
may change: the config values ``model/recipe.py`` calls bookkeeping, and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..config import Config, ConfigError
from ..model.checkpoint import CheckpointError, load_weights
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
        # a semi-supervised run's classes: the label value of each classifier output, and their names
        "classes": None if run.labels is None else run.labels.classes.tolist(),
        "class_names": run.class_names if run.labels is not None else None,
    }


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
