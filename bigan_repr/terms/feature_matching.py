"""Feature matching for G (Salimans et al. 2016): the squared distance between the mean penultimate
features of x and of G(z), read through a fixed copy of E so that only G moves."""

from __future__ import annotations

from torch import Tensor, nn
from torch.func import functional_call

from .term import Batch, Pass, Setup, Term


def fixed_features(encoder: nn.Module, x: Tensor) -> Tensor:
    """E's penultimate layer on x through a fixed copy of E: gradients reach x, never E's weights, and
    batch norm's running statistics are left as they were (it normalizes by x's own batch, as E does)."""
    frozen = {name: p.detach() for name, p in encoder.body.named_parameters()}
    frozen |= {name: b.clone() for name, b in encoder.body.named_buffers()}
    return functional_call(encoder.body, frozen, (x,))


class FeatureMatching(Term):
    name, log = "feature_matching", "feature_gap"

    def __init__(self, setup: Setup):
        self.encoder, self.weight = setup.model.encoder, setup.cfg.train.feature_matching

    @classmethod
    def build(cls, setup: Setup) -> FeatureMatching | None:
        return cls(setup) if setup.cfg.train.feature_matching > 0 else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        gap = p.f_real.detach().float().mean(0) - fixed_features(self.encoder, p.x_fake).float().mean(0)
        return {"gap": gap.pow(2).sum()}  # ||.||^2, as published

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return out["gap"]
