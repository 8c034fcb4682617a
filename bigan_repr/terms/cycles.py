"""ALICE's cycle terms (Li et al. 2017): ||x - G(E(x))||^2 and ||z - E(G(z))||^2, each built only when
weighted, so a run without one never computes it."""

from __future__ import annotations

from torch import Tensor

from .term import Batch, Pass, Setup, Term


class XCycle(Term):
    """x -> E -> G -> x: the squared error per image, summed over pixels, averaged over the batch."""

    name, log = "x_cycle", "x_cycle"

    def __init__(self, setup: Setup):
        self.generator, self.weight = setup.model.generator, setup.cfg.train.recon_weight

    @classmethod
    def build(cls, setup: Setup) -> XCycle | None:
        t = setup.cfg.train
        return cls(setup) if t.adversarial and t.recon_weight > 0 else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"x_rec": self.generator(p.z_real)}

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return (out["x_rec"] - batch.x).float().pow(2).flatten(1).sum(1).mean()


class ZCycle(Term):
    """z -> G -> E -> z: the squared error per code, averaged over the batch. E runs in train mode, so
    its batch-norm statistics see G(z) only when this term is on."""

    name, log = "z_cycle", "z_cycle"

    def __init__(self, setup: Setup):
        self.encoder, self.weight = setup.model.encoder, setup.cfg.train.latent_recon_weight

    @classmethod
    def build(cls, setup: Setup) -> ZCycle | None:
        t = setup.cfg.train
        return cls(setup) if t.adversarial and t.latent_recon_weight > 0 else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"z_rec": self.encoder(p.x_fake)}

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return (out["z_rec"] - batch.z).float().pow(2).sum(1).mean()
