"""One BiGAN training step, the same for every objective and every set of terms.

D is updated ``n_critic`` times (one real batch each), then G and E together on the last batch,
by the weighted sum of the run's terms (``terms/``: the adversarial loss, ALICE's cycles, feature
matching, E's invariance term, the semi-supervised classifier's). The step knows none of them by
name but the adversarial one, whose E(x) and G(z) D's update of the same step compares.
DiffAugment, when on, transforms x inside D's input for both joints, drawn afresh for every call,
so G is never taught to produce augmented images.
The step returns detached tensors and never synchronizes with the device; the caller decides
when to read them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..losses.augment import AugmentPolicy, augment
from ..losses.objectives import Objective, joint_gradient_penalty
from ..nets.bigan import BiGAN, sample_prior
from ..terms.adversarial import Adversarial
from ..terms.term import Batch, Pass, Term


class CriticPair(nn.Module):
    """D on both joints (and the joint gradient penalty) in one forward call, with the outputs of the terms
    that train D (a classifier on D's image pathway) when the step's batch is given.

    One call per D update keeps DistributedDataParallel to one forward per backward.
    """

    def __init__(self, model: BiGAN, objective: Objective, terms: list[Term]):
        super().__init__()
        self.discriminator, self.objective = model.discriminator, objective
        self.model, self.terms = [model], terms  # a list: the model's modules are registered once
        # a classifier on D's image pathway trains with D: registered here, so DDP syncs its gradients
        self.classifier = model.classifier if model.cfg.classifier_on == "d" else None

    def forward(self, x, z_real, x_fake, z, rng: torch.Generator | None = None, batch: Batch | None = None,
                x_fake_plain: Tensor | None = None):
        D = self.discriminator
        d_real, d_fake = D(x, z_real), D(x_fake, z)
        penalty = None
        if self.objective.gradient_penalty:
            penalty = joint_gradient_penalty(D, x, z_real, x_fake, z, rng)
        outs = {}
        if batch is not None:  # G(z) as G drew it, not as DiffAugment showed it to D
            p = Pass(self.model[0], batch, x_fake=x_fake_plain)
            outs = {term.name: term.forward(p) for term in self.terms if term.trains == "d"}
        return d_real, d_fake, penalty, outs


class GeneratorEncoderPass(nn.Module):
    """Everything G and E compute with gradients in one step, in one forward call: the outputs of each term
    they train (``terms/``), keyed by the term's name. It holds the networks the terms use, so that
    DistributedDataParallel sees their parameters; ``generator`` is None when E trains without D and G."""

    def __init__(self, model: BiGAN, terms: list[Term], adversarial: bool):
        super().__init__()
        self.model, self.terms = [model], terms  # a list: the model's modules are registered below, once
        self.generator = model.generator if adversarial else None
        self.encoder, self.projector = model.encoder, model.projector
        self.classifier = model.classifier if model.cfg.classifier_on == "e" else None

    def forward(self, batch: Batch) -> dict[str, dict[str, Tensor]]:
        p = Pass(self.model[0], batch)
        return {term.name: term.forward(p) for term in self.terms if term.trains == "ge"}


@dataclass
class StepContext:
    """Everything a step needs besides the batch; built once by the trainer."""

    model: BiGAN  # the bare networks: no-grad passes, weight clipping
    critic: nn.Module  # CriticPair, possibly wrapped in DistributedDataParallel
    gen_enc: nn.Module  # GeneratorEncoderPass, possibly wrapped likewise
    objective: Objective
    opt_d: torch.optim.Optimizer
    opt_ge: torch.optim.Optimizer
    rng: torch.Generator
    autocast: AbstractContextManager
    terms: list[Term]  # summed with each term's weight (terms/registry.py): by G and E, or by D (term.trains)
    d_augment: AugmentPolicy | None = None  # applied to both joints' x inside D's input

    def trained_by(self, side: str) -> list[Term]:
        """The terms of G and E's update ("ge") or of D's ("d")."""
        return [term for term in self.terms if term.trains == side]

    @property
    def adversarial(self) -> bool:
        """Whether the step plays the game: draws z and updates D (False: E learns without D and G)."""
        return any(term.needs_prior for term in self.terms)

    def for_d(self, x: Tensor) -> Tensor:
        """x as D sees it: augmented with fresh draws when DiffAugment is on."""
        return augment(x, self.d_augment, self.rng)


def _z(ctx: StepContext, n: int, device) -> Tensor:
    cfg = ctx.model.cfg
    return sample_prior(n, cfg.z_dim, cfg.prior, device, ctx.rng)


def discriminator_update(ctx: StepContext, x: Tensor, z_real: Tensor, x_fake: Tensor, z: Tensor,
                         batch: Batch | None = None) -> dict[str, Tensor]:
    # ---- D: maximize the objective's bound between (x, E(x)) and (G(z), z), plus the terms D trains ----
    terms = ctx.trained_by("d") if batch is not None else []  # no batch: the n_critic - 1 extra D updates
    stats: dict[str, Tensor] = {}
    with ctx.autocast:
        d_real, d_fake, penalty, outs = ctx.critic(ctx.for_d(x), z_real, ctx.for_d(x_fake), z, ctx.rng,
                                                   batch if terms else None, x_fake)
        game = ctx.objective.d_loss(d_real, d_fake)
        if penalty is not None:
            game = game + ctx.objective.gradient_penalty * penalty
        loss = game
        for term in terms:
            value = term.loss(outs[term.name], batch)
            loss = loss + term.weight * value
            stats[term.log] = value.detach().float()
    ctx.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_d.step()
    if ctx.objective.weight_clip is not None:
        with torch.no_grad():
            for p in ctx.model.discriminator.parameters():
                p.clamp_(-ctx.objective.weight_clip, ctx.objective.weight_clip)
    real, fake = d_real.detach().float()[:, 0], d_fake.detach().float()[:, 0]
    return stats | {
        "d_loss": game.detach().float(),  # the game's part, comparable across recipes
        "bound": ctx.objective.bound(d_real.detach(), d_fake.detach()),
        "d_real": real.mean(),
        "d_fake": fake.mean(),
        # share of (real, fake) pairs D ranks correctly: objective-agnostic, no threshold needed
        "d_acc": (real > fake).float().mean(),
    }


def generator_encoder_update(ctx: StepContext, batch: Batch, out: dict[str, dict[str, Tensor]]) -> dict[str, Tensor]:
    # ---- G and E: minimize the terms' weighted sum, the adversarial one against the updated D ----
    stats = {}
    D = ctx.model.discriminator
    D.requires_grad_(False)  # D's gradients are not needed here; skip computing them
    with ctx.autocast:
        loss = torch.zeros((), device=batch.x.device)
        for term in ctx.trained_by("ge"):
            value = term.loss(out[term.name], batch)
            loss = loss + term.weight * value
            stats[term.log] = value.detach().float()
    ctx.opt_ge.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_ge.step()
    D.requires_grad_(True)
    return stats


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
    batch = Batch(x, z=_z(ctx, x.shape[0], x.device) if ctx.adversarial else None)
    for term in ctx.terms:  # each term's inputs, drawn in registry order
        term.prepare(batch)
    with ctx.autocast:
        out = ctx.gen_enc(batch)
    stats = {}
    if ctx.adversarial:
        played = out[Adversarial.name]
        stats = discriminator_update(ctx, x, played["z_real"].detach(), played["x_fake"].detach(), batch.z, batch)
    return stats | generator_encoder_update(ctx, batch, out)
