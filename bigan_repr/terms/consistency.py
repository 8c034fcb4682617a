"""FixMatch's consistency term (Sohn et al. 2020) for the semi-supervised classifier: on each unlabelled
image, the class the classifier gives a weakly augmented view (translation only), where it is confident
(probability >= ``train.consistency_threshold``, 0.95 as published), is the target of its prediction on a
strongly augmented view (the run's ``train.augment``). No G or D is needed: with ``--no-adversarial`` it
is the modern non-GAN control; beside the BiGAN's terms, their hybrid."""

from __future__ import annotations

import torch
from torch import Tensor

from ..losses.augment import POLICIES, augment
from ..losses.semisup import pseudo_label_loss
from .classes import ClassifierTerm
from .term import Batch, Pass, Setup

WEAK = "shift"  # a translation keeps any image's class (a mirrored digit may be another digit)


class Consistency(ClassifierTerm):
    name, log = "consistency", "consistency"

    def __init__(self, setup: Setup):
        super().__init__(setup)
        t = setup.cfg.train
        self.rng = setup.rng
        self.weight, self.threshold = t.consistency, t.consistency_threshold
        self.weak, self.strong = POLICIES[WEAK], POLICIES[t.augment]

    @classmethod
    def build(cls, setup: Setup) -> Consistency | None:
        return cls(setup) if setup.labelled is not None and setup.cfg.train.consistency > 0 else None

    def prepare(self, batch: Batch) -> None:
        batch.drawn[self.name] = torch.cat([augment(batch.x, self.weak, self.rng),
                                            augment(batch.x, self.strong, self.rng)])  # (2B, C, H, W)

    def forward(self, p: Pass) -> dict[str, Tensor]:
        logits = self.logits(p.batch.drawn[self.name])  # (2B, K): both views in one batch
        weak, strong = logits.chunk(2)
        return {"weak": weak, "strong": strong}

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        return pseudo_label_loss(out["weak"], out["strong"], self.threshold)[0]
