"""E's invariance term: a loss between the projector's outputs on augmented views of each image
(``nets/invariance_head.py`` owns the projector, the views and the loss; this term runs them in the
step). With the hybrids, G's images join the views: positives G(E(x) + sigma * noise) and negatives
G(z), drawn without gradients to G."""

from __future__ import annotations

import torch
from torch import Tensor

from ..nets.bigan import sample_prior
from .term import Batch, Pass, Setup, Term


class Invariance(Term):
    name, log = "invariance", "invariance"

    def __init__(self, setup: Setup):
        self.model, self.head, self.rng = setup.model, setup.model.projector, setup.rng
        self.autocast, self.gather, self.weight = setup.autocast, setup.gather, self.head.spec.weight

    @classmethod
    def build(cls, setup: Setup) -> Invariance | None:
        return cls(setup) if setup.model.projector is not None else None

    def prepare(self, batch: Batch) -> None:
        batch.views = self.head.views(batch.x, self.rng, *self._hybrid_images(batch.x))  # (n_views * B, C, H, W)

    @torch.no_grad()
    def _hybrid_images(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        spec, model = self.head.spec, self.model
        positives = negatives = None
        with self.autocast:
            if spec.generative_sigma:
                code = model.encoder(x)
                noise = torch.randn(code.shape, generator=self.rng, device=code.device, dtype=code.dtype)
                positives = model.generator(code + spec.generative_sigma * noise)
            if spec.fake_negatives:
                cfg = model.cfg
                negatives = model.generator(sample_prior(x.shape[0], cfg.z_dim, cfg.prior, x.device, self.rng))
        return positives, negatives

    def forward(self, p: Pass) -> dict[str, Tensor]:
        return {"h": self.head(self.model.encoder.features(p.batch.views))}  # (n_views * B, width): one batch

    def loss(self, out: dict[str, Tensor], batch: Batch) -> Tensor:
        h = out["h"]
        return self.head.loss(h if self.gather is None else self.gather(h))
