"""ClusterGAN's inversion term (Mukherjee et al. 2019), under a ``mixed:K`` prior: E recovers the code
G drew from, cross-entropy on the cluster (E's K logits against the one-hot part) plus the mean
squared error on the continuous part, both on G(z). ClusterGAN weighs each by 10 (beta_c = beta_n
= 10 in its code); here one weight, ``train.cluster_weight``, scales their sum."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..nets.prior import parse_prior
from .term import Batch, Pass, Setup, Term


def code_inversion_loss(raw: Tensor, z: Tensor, clusters: int) -> Tensor:
    """CE(E's cluster logits, z's cluster) + MSE(E's continuous part, z's): raw, z (B, z_dim)."""
    target = z[:, :clusters].argmax(dim=1)
    return F.cross_entropy(raw[:, :clusters].float(), target) + F.mse_loss(raw[:, clusters:].float(),
                                                                           z[:, clusters:].float())


class ClusterCode(Term):
    name, log, needs_prior = "cluster_code", "cluster_code", True

    def __init__(self, setup: Setup):
        self.encoder, self.weight = setup.model.encoder, setup.cfg.train.cluster_weight
        self.clusters = parse_prior(setup.cfg.model.prior).clusters

    @classmethod
    def build(cls, setup: Setup) -> ClusterCode | None:
        t = setup.cfg.train
        mixed = parse_prior(setup.cfg.model.prior).clusters > 0
        return cls(setup) if mixed and t.adversarial and t.cluster_weight > 0 else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        # E in train mode: its batch-norm statistics see G(z), as under the latent cycle
        return {"raw": self.encoder.raw(self.encoder.features(p.x_fake))}  # (B, z_dim)

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return code_inversion_loss(out["raw"], batch.z, self.clusters)
