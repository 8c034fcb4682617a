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

    def views(self, x: Tensor, rng: torch.Generator) -> Tensor:
        """Two augmented views of each image in one batch: (2B, C, H, W), view 1 then view 2."""
        return torch.cat([augment(x, self._policy, rng), augment(x, self._policy, rng)])

    def loss(self, h: Tensor) -> Tensor:
        """The unweighted loss between the projections of both views (h: (2B, width), as ``views``)."""
        h1, h2 = h.chunk(2)
        return self._loss(h1, h2)
