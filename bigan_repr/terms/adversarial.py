"""The adversarial term: G and E against the updated D, by the objective's generator loss.

Its outputs, E(x) and G(z), are also what D's update of the same step compares (detached).
"""

from __future__ import annotations

from torch import Tensor

from .term import Batch, Pass, Setup, Term


class Adversarial(Term):
    name, log, needs_prior = "adversarial", "g_loss", True

    def __init__(self, setup: Setup):
        self.model, self.objective, self.for_d = setup.model, setup.objective, setup.for_d
        self.gen_loss = setup.cfg.train.gen_loss

    @classmethod
    def build(cls, setup: Setup) -> Adversarial | None:
        return cls(setup) if setup.cfg.train.adversarial else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"z_real": p.z_real, "x_fake": p.x_fake}

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        D = self.model.discriminator
        d_real, d_fake = D(self.for_d(batch.x), out["z_real"]), D(self.for_d(out["x_fake"]), batch.z)
        return self.objective.g_loss(d_real, d_fake, self.gen_loss)
