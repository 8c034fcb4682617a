"""The semi-supervised classifier's terms (Salimans et al. 2016): K class logits on E's penultimate
layer, the "generated" class holding the fixed logit 0 (``losses/semisup.py``).

- ``Labelled``: cross-entropy on an augmented labelled batch;
- ``RealOrGenerated``: with D and G, -log p(real | x) on x (labels unused) and -log p(generated | x)
  on G(z), detached from G, so the (K+1)-class decision trains the classifier a user predicts with.
"""

from __future__ import annotations

from torch import Tensor

from ..losses.semisup import generated_loss, labelled_loss, unlabelled_real_loss
from .term import Batch, Pass, Setup, Term


class Labelled(Term):
    name, log = "labelled", "class_loss"

    def __init__(self, setup: Setup):
        self.encoder, self.classifier = setup.model.encoder, setup.model.classifier
        self.labelled, self.rng, self.weight = setup.labelled, setup.rng, setup.cfg.train.class_weight

    @classmethod
    def build(cls, setup: Setup) -> Labelled | None:
        return cls(setup) if setup.labelled is not None else None

    def prepare(self, batch: Batch) -> None:
        batch.x_labelled, batch.y_labelled = self.labelled.next(self.rng)

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"logits": self.classifier(self.encoder.features(p.batch.x_labelled))}  # (B_l, K)

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return labelled_loss(out["logits"], batch.y_labelled)


class RealOrGenerated(Term):
    name, log = "real_or_generated", "generated_class_loss"

    def __init__(self, setup: Setup):
        self.encoder, self.classifier = setup.model.encoder, setup.model.classifier
        self.weight = setup.cfg.train.class_weight

    @classmethod
    def build(cls, setup: Setup) -> RealOrGenerated | None:
        return cls(setup) if setup.labelled is not None and setup.cfg.train.adversarial else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        C = self.classifier
        return {"real": C(p.f_real), "fake": C(self.encoder.features(p.x_fake.detach()))}  # (B, K) each

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return unlabelled_real_loss(out["real"]) + generated_loss(out["fake"])
