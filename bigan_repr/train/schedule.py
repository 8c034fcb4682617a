"""The learning-rate schedule: a factor per step, computed once for the whole run, applied before each step.

``constant`` (the default) with no warmup leaves the optimizers' learning rates alone, exactly as before
the option existed. Otherwise step s (0-based) trains at base_lr * factor[s]: a linear warmup over the
first ``warmup`` steps ((s + 1) / warmup), then the constant 1, or a cosine decay from 1 towards 0 at the
end of the run (0.5 * (1 + cos(pi * (s - warmup) / (total - warmup)))). The factors depend on the step
alone and every group's base rate comes from the config, never from an optimizer's state, so a resumed
run trains at exactly the rates the uninterrupted one would (changing --steps on resume reshapes the
cosine, as it moves the end of the run).
"""

from __future__ import annotations

import math

import torch


def lr_factors(total: int, warmup: int, kind: str) -> list[float]:
    """The factor of each of the run's ``total`` steps."""
    factors = []
    for s in range(total):
        if s < warmup:
            factors.append((s + 1) / warmup)
        elif kind == "cosine":
            factors.append(0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup))))
        else:
            factors.append(1.0)
    return factors


class LRSchedule:
    """Sets every param group's rate to its base rate times the step's factor."""

    def __init__(self, optimizers: tuple[torch.optim.Optimizer, ...], factors: list[float]):
        self.optimizers, self.factors = optimizers, factors
        self.base = [[group["lr"] for group in opt.param_groups] for opt in optimizers]  # from the config

    def apply(self, step: int) -> None:
        """Before step ``step`` (0-based; past the end, the last factor holds)."""
        factor = self.factors[min(step, len(self.factors) - 1)]
        for opt, rates in zip(self.optimizers, self.base, strict=True):
            for group, rate in zip(opt.param_groups, rates, strict=True):
                group["lr"] = rate * factor


def lr_schedule(optimizers: tuple[torch.optim.Optimizer, ...], total: int, warmup: int,
                kind: str) -> LRSchedule | None:
    """The run's schedule; None for a constant rate without warmup (the optimizers are left as they are)."""
    if kind == "constant" and warmup == 0:
        return None
    return LRSchedule(optimizers, lr_factors(total, warmup, kind))
