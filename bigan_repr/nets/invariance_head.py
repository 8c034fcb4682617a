"""E's invariance term as one object: the projector over E's penultimate layer, the loss between its
outputs on two augmented views of each image, the policy that makes the views, and the loss's weight.

The projector's layers (VICReg's expander, narrower: 3 layers) are the module's own children, so its
weights keep the names checkpoints have always stored them under (``projector.0.weight``, ...).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses.augment import POLICIES, augment
from ..losses.invariance import INVARIANCE, InvarianceSpec


class InvarianceHead(nn.Sequential):
    def __init__(self, in_dim: int, spec: InvarianceSpec):
        w = spec.width
        super().__init__(
            nn.Linear(in_dim, w), nn.BatchNorm1d(w), nn.ReLU(),
            nn.Linear(w, w), nn.BatchNorm1d(w), nn.ReLU(),
            nn.Linear(w, w),
        )  # (B, width)
        self.spec = spec
        self._loss, self._policy = INVARIANCE[spec.loss], POLICIES[spec.augment]

    def views(self, x: Tensor, rng: torch.Generator, positives: Tensor | None = None,
              negatives: Tensor | None = None) -> Tensor:
        """Two augmented views of each image in one batch, view 1 then view 2, then (augmented likewise) the
        hybrids' generated images when the spec asks for them: (n_views * B, C, H, W)."""
        extra = [p for p in (positives, negatives) if p is not None]
        if len(extra) != self.spec.n_views - 2:
            raise ValueError(f"the invariance term takes {self.spec.n_views} views, got {2 + len(extra)}")
        # G's images come in autocast's dtype (bf16 on CUDA): the views are one batch of x's dtype
        return torch.cat([augment(v.to(x.dtype), self._policy, rng) for v in (x, x, *extra)])

    def loss(self, h: Tensor) -> Tensor:
        """The unweighted loss between the projections of both views (h as ``views`` orders it); with the
        hybrids, plus the same loss between view 1 and the generated positive, and the generated negatives
        among every InfoNCE candidate set."""
        parts = h.chunk(self.spec.n_views)
        kw = {"negatives": parts[-1]} if self.spec.fake_negatives else {}
        loss = self._loss(parts[0], parts[1], **kw)
        if self.spec.generative_sigma:
            loss = loss + self._loss(parts[0], parts[2], **kw)
        return loss
