"""What every training term shares: the batch one G/E update sees, the activations the terms share
within it, and the interface each term implements.

A step's order: the terms' ``prepare`` (inputs drawn without gradients: views, a labelled batch),
one forward call in which each term's ``forward`` computes its outputs with gradients (one call,
so DistributedDataParallel sees one forward per backward), D's update, then each term's ``loss``.
A term that trains D (``trains == "d"``: a classifier on D's image pathway) computes its outputs in D's
forward call and adds its loss to D's instead.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import torch
from torch import Tensor

from ..config import Config
from ..losses.objectives import Objective
from ..nets.bigan import BiGAN


class LabelledSource(Protocol):
    def next(self, rng: torch.Generator) -> tuple[Tensor, Tensor]: ...


@dataclass
class Setup:
    """What a run's terms are built from (``registry.terms_for``): the config decides which terms exist,
    the rest is what they compute with."""

    cfg: Config
    model: BiGAN  # the bare networks; a term holds the ones it uses
    objective: Objective
    rng: torch.Generator  # the process's draws: z, views, labelled batches
    autocast: AbstractContextManager
    for_d: Callable[[Tensor], Tensor]  # x as D sees it (DiffAugment when on)
    gather: Callable[[Tensor], Tensor] | None = None  # under torchrun: every process's projections
    labelled: LabelledSource | None = None  # a semi-supervised run's labelled images


@dataclass
class Batch:
    """The inputs of one G/E update; the optional parts are drawn by the terms that need them."""

    x: Tensor  # (B, C, H, W) real images in [-1, 1]
    z: Tensor | None = None  # (B, z_dim) prior draws, when a term needs G
    views: Tensor | None = None  # (n_views * B, C, H, W) augmented views, when a term compares them
    x_labelled: Tensor | None = None  # (B_l, C, H, W) labelled images, in a semi-supervised run
    y_labelled: Tensor | None = None  # (B_l,) their class indices
    drawn: dict[str, Tensor] = field(default_factory=dict)  # a term's own inputs, under its name


class Pass:
    """The activations several terms read within one forward call, each computed once, on first use:
    E's penultimate layer on x, E(x) from it, and G(z) (given, detached, in D's forward call)."""

    def __init__(self, model: BiGAN, batch: Batch, x_fake: Tensor | None = None):
        self.model, self.batch = model, batch
        if x_fake is not None:
            self.__dict__["x_fake"] = x_fake  # what the cached property would hold

    @cached_property
    def f_real(self) -> Tensor:
        return self.model.encoder.features(self.batch.x)  # (B, F)

    @cached_property
    def z_real(self) -> Tensor:
        return self.model.encoder.code(self.f_real)  # (B, z_dim)

    @cached_property
    def x_fake(self) -> Tensor:
        return self.model.generator(self.batch.z)  # (B, C, H, W)


class Term:
    """One loss of G and E (or of D). ``name`` is its registry key, ``log`` the metric its unweighted loss
    is logged under, ``weight`` what the step multiplies it by. ``needs_prior``: the step draws z (and
    updates D) for it. ``trains``: "ge" (G and E's update) or "d" (D's)."""

    name: str
    log: str
    weight: float = 1.0
    needs_prior: bool = False
    trains: str = "ge"

    @classmethod
    def build(cls, setup: Setup) -> Term | None:
        """The term as ``setup``'s config asks for it, or None when the run trains without it."""
        raise NotImplementedError

    def prepare(self, batch: Batch) -> None:
        """Draw the inputs this term needs into ``batch``, without gradients (default: none)."""

    def forward(self, p: Pass) -> dict[str, Tensor]:
        """This term's outputs with gradients, read off ``p`` or computed from it."""
        raise NotImplementedError

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        """The unweighted loss (a scalar) from ``forward``'s outputs, after D's update."""
        raise NotImplementedError
