"""The learning-rate schedule: a factor per step, computed for each step as it comes, applied before it.

``constant`` (the default) with no warmup leaves the optimizers' learning rates alone, exactly as before
the option existed. Otherwise step s (0-based) trains at base_lr * lr_factor(s): a linear warmup over the
first ``warmup`` steps ((s + 1) / warmup), then the constant 1, or a cosine decay from 1 towards 0 at the
end of the run (0.5 * (1 + cos(pi * (s - warmup) / (total - warmup)))). The factor is a function of the
step alone (nothing is precomputed: a run of 10^9 steps holds no table of 10^9 floats) and every group's
base rate comes from the config, never from an optimizer's state, so a resumed run trains at exactly the
rates the uninterrupted one would (changing --steps on resume reshapes the cosine, as it moves the end of
the run). A warmup must be shorter than the run: ``config`` refuses it against --steps, and
:func:`lr_schedule` against a budget in epochs, once the total is known.
"""

from __future__ import annotations

import math

import torch

from ..config import ConfigError, warmup_refusal


def lr_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """The factor of step ``step`` (0-based) of a run of ``total`` steps; past the end, the last step's."""
    s = min(step, total - 1)
    if s < warmup:
        return (s + 1) / warmup
    if kind == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup)))
    return 1.0


class LRSchedule:
    """Sets every param group's rate to its base rate times the step's factor."""

    def __init__(self, optimizers: tuple[torch.optim.Optimizer, ...], total: int, warmup: int, kind: str):
        self.optimizers, self.total, self.warmup, self.kind = optimizers, total, warmup, kind
        self.base = [[group["lr"] for group in opt.param_groups] for opt in optimizers]  # from the config

    def factor(self, step: int) -> float:
        return lr_factor(step, self.total, self.warmup, self.kind)

    def apply(self, step: int) -> None:
        """Before step ``step`` (0-based; past the end, the last factor holds)."""
        factor = self.factor(step)
        for opt, rates in zip(self.optimizers, self.base, strict=True):
            for group, rate in zip(opt.param_groups, rates, strict=True):
                group["lr"] = rate * factor


def lr_schedule(optimizers: tuple[torch.optim.Optimizer, ...], total: int, warmup: int,
                kind: str) -> LRSchedule | None:
    """The run's schedule; None for a constant rate without warmup (the optimizers are left as they are).
    A warmup as long as the run (its ``total`` steps) is refused."""
    if kind == "constant" and warmup == 0:
        return None
    if warmup >= total:
        raise ConfigError(warmup_refusal(warmup, total))
    return LRSchedule(optimizers, total, warmup, kind)
