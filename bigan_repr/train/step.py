"""One BiGAN training step, the same for every objective.

D is updated ``n_critic`` times (one real batch each), then G and E together on the last batch.
Two optional additions, each measured in the README's ablation:
- augmentation inside D's input (DiffAugment): D compares (T(x), E(x)) with (T(G(z)), z) for
  random T drawn afresh for every call, so G is never taught to produce augmented images;
- an invariance term for E: a loss between the projector's outputs on two augmented views of
  each image, added to E's adversarial loss, or alone (no D, no G: the control).
A semi-supervised run adds the classifier on E's penultimate layer: cross-entropy on an augmented
labelled batch and, with D and G, the (K+1)-class terms on x and on G(z) (``losses/semisup.py``).
Feature matching (Salimans et al. 2016), when weighted, adds to G's loss the gap between the mean
penultimate features of x and of G(z), read through a fixed copy of E so that only G moves.
The step returns detached tensors and never synchronizes with the device; the caller decides
when to read them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ..losses.augment import AugmentPolicy, augment
from ..losses.objectives import Objective, joint_gradient_penalty
from ..losses.semisup import generated_loss, labelled_loss, unlabelled_real_loss
from ..nets.bigan import BiGAN, sample_prior
from ..nets.invariance_head import InvarianceHead
from .labelled import LabelledBatches


class CriticPair(nn.Module):
    """D on both joints (and the joint gradient penalty) in one forward call.

    One call per D update keeps DistributedDataParallel to one forward per backward.
    """

    def __init__(self, discriminator: nn.Module, objective: Objective):
        super().__init__()
        self.discriminator, self.objective = discriminator, objective

    def forward(self, x, z_real, x_fake, z, rng: torch.Generator | None = None):
        D = self.discriminator
        d_real, d_fake = D(x, z_real), D(x_fake, z)
        penalty = None
        if self.objective.gradient_penalty:
            penalty = joint_gradient_penalty(D, x, z_real, x_fake, z, rng)
        return d_real, d_fake, penalty


class GEOutputs(NamedTuple):
    """What G and E compute with gradients in one step; None where the step has no such part."""

    z_real: Tensor | None  # E(x)
    x_fake: Tensor | None  # G(z)
    x_rec: Tensor | None  # G(E(x)), for the cycle terms
    z_rec: Tensor | None  # E(G(z)), likewise
    h: Tensor | None  # the invariance head's projections of both views, (2B, width)
    logits_labelled: Tensor | None = None  # the classifier on the labelled batch, (B_l, K)
    logits_real: Tensor | None = None  # the classifier on x, whose labels are not used, (B, K)
    logits_fake: Tensor | None = None  # the classifier on G(z), detached from G: E's (K+1)-class term, (B, K)
    feature_gap: Tensor | None = None  # feature matching's gap for G, E held fixed, ()


class GeneratorEncoderPair(nn.Module):
    """Everything G and E compute with gradients, in one forward call: E(x) and G(z) when adversarial
    (plus the x-cycle's G(E(x)) and the latent cycle's E(G(z)), each only when its term is weighted),
    the invariance head's outputs on the views when E has that term, the classifier's logits in a
    semi-supervised run. ``generator`` is None when E trains without D and G."""

    def __init__(self, generator: nn.Module | None, encoder: nn.Module, head: nn.Module | None,
                 classifier: nn.Module | None = None):
        super().__init__()
        self.generator, self.encoder, self.head, self.classifier = generator, encoder, head, classifier

    def forward(self, x: Tensor, z: Tensor, x_cycle: bool = False, z_cycle: bool = False,
                views: Tensor | None = None, x_labelled: Tensor | None = None,
                feature_matching: bool = False) -> GEOutputs:
        z_real = x_fake = x_rec = z_rec = h = logits_labelled = logits_real = logits_fake = feature_gap = None
        E, C = self.encoder, self.classifier
        if self.generator is not None:
            f_real = E.features(x)
            z_real, x_fake = E.code(f_real), self.generator(z)
            if x_cycle:
                x_rec = self.generator(z_real)
            if z_cycle:  # E in train mode: its batch-norm statistics see G(z) only when the term is on
                z_rec = E(x_fake)
            if C is not None:  # real images (labels unused) and generated ones: the (K+1)-th class
                logits_real, logits_fake = C(f_real), C(E.features(x_fake.detach()))
            if feature_matching:
                gap = f_real.detach().float().mean(0) - fixed_features(E, x_fake).float().mean(0)
                feature_gap = gap.pow(2).sum()  # ||.||^2, as published
        if views is not None:
            h = self.head(E.features(views))  # (2B, width): both views in one batch
        if x_labelled is not None:
            logits_labelled = C(E.features(x_labelled))
        return GEOutputs(z_real, x_fake, x_rec, z_rec, h, logits_labelled, logits_real, logits_fake, feature_gap)


def fixed_features(encoder: nn.Module, x: Tensor) -> Tensor:
    """E's penultimate layer on x through a fixed copy of E: gradients reach x, never E's weights, and
    batch norm's running statistics are left as they were (it normalizes by x's own batch, as E does)."""
    frozen = {name: p.detach() for name, p in encoder.body.named_parameters()}
    frozen |= {name: b.clone() for name, b in encoder.body.named_buffers()}
    return functional_call(encoder.body, frozen, (x,))


@dataclass
class StepContext:
    """Everything a step needs besides the batch; built once by the trainer."""

    model: BiGAN  # the bare networks: no-grad passes, weight clipping, the G/E loss through D
    critic: nn.Module  # CriticPair, possibly wrapped in DistributedDataParallel
    gen_enc: nn.Module  # GeneratorEncoderPair, possibly wrapped likewise
    objective: Objective
    opt_d: torch.optim.Optimizer
    opt_ge: torch.optim.Optimizer
    gen_loss: str
    recon_weight: float
    latent_recon_weight: float
    rng: torch.Generator
    autocast: AbstractContextManager
    d_augment: AugmentPolicy | None = None  # applied to both joints' x inside D's input
    adversarial: bool = True  # False: E learns from the invariance term (and labels) alone
    labelled: LabelledBatches | None = None  # a semi-supervised run's labelled images
    class_weight: float = 1.0  # the weight of the classifier's losses
    feature_matching: float = 0.0  # the weight of G's feature-matching term (0: not computed)
    gather: Callable[[Tensor], Tensor] | None = None  # under torchrun: every process's projections, with gradients

    @property
    def head(self) -> InvarianceHead | None:
        """E's invariance head: its views, its loss and their weight (None: no such term)."""
        return self.model.projector

    def for_d(self, x: Tensor) -> Tensor:
        """x as D sees it: augmented with fresh draws when DiffAugment is on."""
        return augment(x, self.d_augment, self.rng)


def _z(ctx: StepContext, n: int, device) -> Tensor:
    cfg = ctx.model.cfg
    return sample_prior(n, cfg.z_dim, cfg.prior, device, ctx.rng)


def discriminator_update(ctx: StepContext, x: Tensor, z_real: Tensor, x_fake: Tensor, z: Tensor) -> dict[str, Tensor]:
    # ---- D: maximize the objective's bound between (x, E(x)) and (G(z), z) ----
    with ctx.autocast:
        d_real, d_fake, penalty = ctx.critic(ctx.for_d(x), z_real, ctx.for_d(x_fake), z, ctx.rng)
        loss = ctx.objective.d_loss(d_real, d_fake)
        if penalty is not None:
            loss = loss + ctx.objective.gradient_penalty * penalty
    ctx.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_d.step()
    if ctx.objective.weight_clip is not None:
        with torch.no_grad():
            for p in ctx.model.discriminator.parameters():
                p.clamp_(-ctx.objective.weight_clip, ctx.objective.weight_clip)
    real, fake = d_real.detach().float()[:, 0], d_fake.detach().float()[:, 0]
    return {
        "d_loss": loss.detach().float(),
        "bound": ctx.objective.bound(d_real.detach(), d_fake.detach()),
        "d_real": real.mean(),
        "d_fake": fake.mean(),
        # share of (real, fake) pairs D ranks correctly: objective-agnostic, no threshold needed
        "d_acc": (real > fake).float().mean(),
    }


def _adversarial_loss(ctx: StepContext, x: Tensor, z: Tensor, out: GEOutputs) -> Tensor:
    D = ctx.model.discriminator
    loss = ctx.objective.g_loss(D(ctx.for_d(x), out.z_real), D(ctx.for_d(out.x_fake), z), ctx.gen_loss)
    if out.x_rec is not None:  # ALICE-style cycle terms, each computed only when weighted
        loss = loss + ctx.recon_weight * (out.x_rec - x).float().pow(2).flatten(1).sum(1).mean()
    if out.z_rec is not None:
        loss = loss + ctx.latent_recon_weight * (out.z_rec - z).float().pow(2).sum(1).mean()
    return loss


def _classifier_loss(ctx: StepContext, out: GEOutputs, y_labelled: Tensor | None, stats: dict) -> Tensor:
    """The semi-supervised classifier's terms: labelled cross-entropy, and with G the (K+1)-class ones."""
    loss = torch.zeros((), device=ctx.rng.device)
    if out.logits_labelled is not None:
        labelled = labelled_loss(out.logits_labelled, y_labelled)
        loss = loss + ctx.class_weight * labelled
        stats["class_loss"] = labelled.detach().float()
    if out.logits_real is not None:
        real_or_generated = unlabelled_real_loss(out.logits_real) + generated_loss(out.logits_fake)
        loss = loss + ctx.class_weight * real_or_generated
        stats["generated_class_loss"] = real_or_generated.detach().float()
    return loss


def generator_encoder_update(ctx: StepContext, x: Tensor, z: Tensor, out: GEOutputs,
                             y_labelled: Tensor | None = None) -> dict[str, Tensor]:
    # ---- G and E: minimize the G/E loss against the updated D, plus E's invariance term ----
    stats = {}
    D = ctx.model.discriminator
    D.requires_grad_(False)  # D's gradients are not needed here; skip computing them
    with ctx.autocast:
        loss = torch.zeros((), device=x.device)
        if ctx.adversarial:
            loss = _adversarial_loss(ctx, x, z, out)
            stats["g_loss"] = loss.detach().float()
        if out.h is not None:
            invariance = ctx.head.loss(out.h if ctx.gather is None else ctx.gather(out.h))
            loss = loss + ctx.head.spec.weight * invariance
            stats["invariance"] = invariance.detach().float()
        loss = loss + _classifier_loss(ctx, out, y_labelled, stats)
        if out.feature_gap is not None:
            loss = loss + ctx.feature_matching * out.feature_gap
            stats["feature_gap"] = out.feature_gap.detach().float()
    ctx.opt_ge.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_ge.step()
    D.requires_grad_(True)
    return stats


@torch.no_grad()
def _hybrid_images(ctx: StepContext, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
    """The generated images the hybrids add to the invariance term, without gradients to G (or through E's
    code): positives G(E(x) + sigma * noise) and negatives G(z), each None unless the spec asks for it."""
    spec = ctx.head.spec
    positives = negatives = None
    with ctx.autocast:
        if spec.generative_sigma:
            code = ctx.model.encoder(x)
            noise = torch.randn(code.shape, generator=ctx.rng, device=code.device, dtype=code.dtype)
            positives = ctx.model.generator(code + spec.generative_sigma * noise)
        if spec.fake_negatives:
            negatives = ctx.model.generator(_z(ctx, x.shape[0], x.device))
    return positives, negatives


def train_step(ctx: StepContext, batches: list[Tensor]) -> dict[str, Tensor]:
    """n_critic D updates (one batch each), then one G/E update on the last batch.

    E(x) and G(z) of the last batch are computed once, with gradients: D's update uses them
    detached, and the G/E update reuses them against the updated D (as the DCGAN reference
    loop does), which saves a forward pass of both networks per step.
    """
    if ctx.adversarial:
        for x in batches[:-1]:
            z = _z(ctx, x.shape[0], x.device)
            with torch.no_grad(), ctx.autocast:
                z_real, x_fake = ctx.model.encoder(x), ctx.model.generator(z)
            discriminator_update(ctx, x, z_real, x_fake, z)
    x = batches[-1]
    z = _z(ctx, x.shape[0], x.device) if ctx.adversarial else None
    views = None if ctx.head is None else ctx.head.views(x, ctx.rng, *_hybrid_images(ctx, x))  # (n_views * B, C, H, W)
    x_labelled, y_labelled = ctx.labelled.next(ctx.rng) if ctx.labelled is not None else (None, None)
    with ctx.autocast:
        out = ctx.gen_enc(x, z, ctx.recon_weight > 0, ctx.latent_recon_weight > 0, views, x_labelled,
                          ctx.feature_matching > 0)
    stats = {}
    if ctx.adversarial:
        stats = discriminator_update(ctx, x, out.z_real.detach(), out.x_fake.detach(), z)
    return stats | generator_encoder_update(ctx, x, z, out, y_labelled)
