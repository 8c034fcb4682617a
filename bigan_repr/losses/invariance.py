"""Invariance losses between two augmented views of the same images: pure functions, one registry.

Each takes ``h1, h2`` (B, d), the projector's outputs on the two views (row i of both comes
from image i), and returns a scalar to minimize.

- VICReg (Bardes, Ponce & LeCun, ICLR 2022): lambda * MSE(h1, h2) + mu * sum_j relu(1 - std_j)
  over both views + nu * sum_{i != j} Cov_ij^2 / d over both views, lambda = mu = 25, nu = 1.
- InfoNCE / NT-Xent (SimCLR): cross-entropy of each view picking its partner among the 2B - 1
  other embeddings by cosine similarity / temperature; optional extra ``negatives`` (ContraD's
  generated images) join every view's candidates without being anchors themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

VICREG_WEIGHTS = (25.0, 25.0, 1.0)  # invariance, variance, covariance (the paper's)
INFONCE_TEMPERATURE = 0.2


def _variance(h: Tensor) -> Tensor:
    std = torch.sqrt(h.var(dim=0) + 1e-4)
    return F.relu(1 - std).mean()


def _covariance(h: Tensor) -> Tensor:
    b, d = h.shape
    h = h - h.mean(dim=0)
    cov = (h.T @ h) / (b - 1)  # (d, d)
    off_diagonal = cov.pow(2).sum() - cov.diagonal().pow(2).sum()
    return off_diagonal / d


def vicreg(h1: Tensor, h2: Tensor) -> Tensor:
    """VICReg's loss; variance and covariance terms are per view, added (as in the paper's code)."""
    h1, h2 = h1.float(), h2.float()
    sim, var, cov = VICREG_WEIGHTS
    return (sim * F.mse_loss(h1, h2) + var * (_variance(h1) + _variance(h2))
            + cov * (_covariance(h1) + _covariance(h2)))


def info_nce(h1: Tensor, h2: Tensor, temperature: float = INFONCE_TEMPERATURE, negatives: Tensor | None = None
             ) -> Tensor:
    """NT-Xent over the 2B embeddings: each one's positive is the other view of its image; ``negatives``
    (N, d) are N more candidates that no view may pick."""
    b = h1.shape[0]
    h = F.normalize(torch.cat([h1, h2]).float(), dim=1)  # (2B, d)
    candidates = h if negatives is None else torch.cat([h, F.normalize(negatives.float(), dim=1)])
    logits = (h @ candidates.T) / temperature  # (2B, 2B + N)
    logits = logits.masked_fill(torch.eye(2 * b, len(candidates), dtype=torch.bool, device=h.device), float("-inf"))
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(h.device)
    return F.cross_entropy(logits, partner)


INVARIANCE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"vicreg": vicreg, "infonce": info_nce}


@dataclass(frozen=True)
class InvarianceSpec:
    """What a config chose for E's invariance term (``Config.invariance_spec``); the network that
    applies it is ``nets.invariance_head.InvarianceHead``."""

    loss: str  # a name in losses.invariance.INVARIANCE
    augment: str  # a policy in losses.augment.POLICIES (never "none": two views need one)
    weight: float
    width: int  # the projector's width
    generative_sigma: float = 0.0  # > 0: G(E(x) + sigma * noise) is one more positive view of x
    fake_negatives: bool = False  # G(z) as negatives of the InfoNCE loss

    @property
    def n_views(self) -> int:
        """Image batches the head projects per step: two views, then the hybrids' generated ones."""
        return 2 + bool(self.generative_sigma) + self.fake_negatives
