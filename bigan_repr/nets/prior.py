"""The latent prior p(z): its names, its draws, the spread the diagnostics measure codes against,
and how E's raw output is put into its support.

- ``uniform``: U(-1, 1)^d, as in the BiGAN paper (E squashed by 2*sigmoid - 1, the official code's);
- ``normal``: N(0, I);
- ``mixed:K`` or ``mixed:K:SIGMA`` (ClusterGAN, Mukherjee et al. 2019): a one-hot code over K
  clusters, drawn uniformly, followed by z_dim - K dimensions of N(0, SIGMA^2), SIGMA = 0.1 by
  default (the paper's). E's first K outputs are cluster logits, which it hands on as their softmax,
  so D compares one-hot codes with E's probabilities; its other outputs are the continuous part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

PRIOR_NAMES = ("uniform", "normal", "mixed:K")  # as shown in help and errors
MIXED_SIGMA = 0.1  # ClusterGAN's sigma for the continuous part


class PriorError(ValueError):
    """A prior name this module cannot read."""


@dataclass(frozen=True)
class Prior:
    kind: str  # "uniform", "normal" or "mixed"
    clusters: int = 0  # K, for "mixed"
    sigma: float = 1.0  # the continuous part's std, for "mixed"

    def check_width(self, z_dim: int) -> None:
        if self.clusters and z_dim <= self.clusters:
            raise PriorError(f"prior mixed:{self.clusters} needs z_dim above its {self.clusters} clusters "
                             f"(the rest is the continuous part), not {z_dim}")

    def sample(self, n: int, z_dim: int, device, generator: torch.Generator | None) -> Tensor:
        """(n, z_dim) draws."""
        if self.kind == "uniform":
            return torch.rand(n, z_dim, device=device, generator=generator).mul_(2).sub_(1)
        if self.kind == "normal":
            return torch.randn(n, z_dim, device=device, generator=generator)
        cluster = torch.randint(self.clusters, (n,), device=device, generator=generator)
        rest = torch.randn(n, z_dim - self.clusters, device=device, generator=generator).mul_(self.sigma)
        return torch.cat([torch.nn.functional.one_hot(cluster, self.clusters).float(), rest], dim=1)

    def grid_codes(self, n: int, z_dim: int, generator: torch.Generator | None, per_row: int = 8) -> Tensor:
        """(rows * per_row, z_dim) codes for a picture of G's samples: n draws, or with clusters one row of
        ``per_row`` draws per cluster (row k: one-hot k, each with its own continuous part)."""
        if not self.clusters:
            return self.sample(n, z_dim, "cpu", generator)
        cluster = torch.arange(self.clusters).repeat_interleave(per_row)
        rest = torch.randn(len(cluster), z_dim - self.clusters, generator=generator).mul_(self.sigma)
        return torch.cat([torch.nn.functional.one_hot(cluster, self.clusters).float(), rest], dim=1)

    def into_support(self, raw: Tensor) -> Tensor:
        """E's raw output (B, z_dim) as a code of this prior's support."""
        if self.kind == "uniform":  # else D separates the joints by z's range alone
            return 2 * torch.sigmoid(raw) - 1
        if self.kind == "normal":
            return raw
        k = self.clusters
        return torch.cat([torch.softmax(raw[:, :k].float(), dim=1).to(raw.dtype), raw[:, k:]], dim=1)

    def std(self, z_dim: int) -> float:
        """The root mean per-dimension variance of a draw: the scale the coupling diagnostics divide by."""
        if self.kind == "uniform":
            return 1 / math.sqrt(3)
        if self.kind == "normal":
            return 1.0
        k = self.clusters
        one_hot = k * (1 / k) * (1 - 1 / k)  # summed variance of the one-hot part
        return math.sqrt((one_hot + (z_dim - k) * self.sigma**2) / z_dim)


def parse_prior(name: str) -> Prior:
    """The prior a config names: "uniform", "normal", "mixed:K" or "mixed:K:SIGMA" (2 <= K <= 1000)."""
    if name in ("uniform", "normal"):
        return Prior(name)
    parts = name.split(":")
    if parts[0] != "mixed" or len(parts) not in (2, 3):
        raise PriorError(f"unknown prior {name!r}; valid: {', '.join(PRIOR_NAMES)} (or mixed:K:SIGMA)")
    try:
        clusters, sigma = int(parts[1]), float(parts[2]) if len(parts) == 3 else MIXED_SIGMA
    except ValueError:
        raise PriorError(f"prior {name!r}: K must be an integer and SIGMA a number") from None
    if not 2 <= clusters <= 1000:
        raise PriorError(f"prior {name!r}: K must be between 2 and 1000")
    if not (math.isfinite(sigma) and 0 < sigma <= 10):
        raise PriorError(f"prior {name!r}: SIGMA must be a number in (0, 10]")
    return Prior("mixed", clusters, sigma)
