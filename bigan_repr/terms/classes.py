"""The semi-supervised classifier's terms (Salimans et al. 2016): K class logits on E's penultimate
layer, or on D's image pathway (``model.classifier_on``), the "generated" class holding the fixed logit 0
(``losses/semisup.py``).

- ``Labelled``: cross-entropy on an augmented labelled batch;
- ``RealOrGenerated``: with D and G, -log p(real | x) on x (labels unused) and -log p(generated | x)
  on G(z), detached from G, so the (K+1)-class decision trains the classifier a user predicts with.

On E they train with G and E; on D (Salimans et al.'s and ALI's place for them) in D's update.
"""

from __future__ import annotations

from functools import partial

from torch import Tensor

from ..losses.semisup import generated_loss, labelled_loss, unlabelled_real_loss
from ..nets.bigan import CLASSIFIER_LAYERS, layer_features
from .term import Batch, Pass, Setup, Term


class ClassifierTerm(Term):
    """A term of the classifier: its body (E's penultimate layer or D's image pathway) and its head."""

    def __init__(self, setup: Setup):
        model, on = setup.model, setup.cfg.model.classifier_on
        self.layer, self.trains, self.classifier = CLASSIFIER_LAYERS[on], "ge" if on == "e" else "d", model.classifier
        self.body = partial(layer_features, model.encoder, model.discriminator, layer=self.layer)

    def logits(self, x: Tensor) -> Tensor:
        return self.classifier(self.body(x=x))  # (B, K)


class Labelled(ClassifierTerm):
    name, log = "labelled", "class_loss"

    def __init__(self, setup: Setup):
        super().__init__(setup)
        self.labelled, self.rng, self.weight = setup.labelled, setup.rng, setup.cfg.train.class_weight

    @classmethod
    def build(cls, setup: Setup) -> Labelled | None:
        return cls(setup) if setup.labelled is not None else None

    def prepare(self, batch: Batch) -> None:
        batch.x_labelled, batch.y_labelled = self.labelled.next(self.rng)

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"logits": self.logits(p.batch.x_labelled)}  # (B_l, K)

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return labelled_loss(out["logits"], batch.y_labelled)


class RealOrGenerated(ClassifierTerm):
    name, log = "real_or_generated", "generated_class_loss"

    def __init__(self, setup: Setup):
        super().__init__(setup)
        self.weight = setup.cfg.train.class_weight

    @classmethod
    def build(cls, setup: Setup) -> RealOrGenerated | None:
        return cls(setup) if setup.labelled is not None and setup.cfg.train.adversarial else None

    def forward(self, p: Pass) -> dict[str, Tensor]:
        real = self.classifier(p.f_real) if self.layer == "penultimate" else self.logits(p.batch.x)  # E's shared
        return {"real": real, "fake": self.logits(p.x_fake.detach())}  # (B, K) each

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return unlabelled_real_loss(out["real"]) + generated_loss(out["fake"])
