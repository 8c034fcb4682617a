"""One BiGAN training step, the same for every objective.

D is updated ``n_critic`` times (one real batch each), then G and E together on the last batch.
The step returns detached tensors and never synchronizes with the device; the caller decides
when to read them.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .models import BiGAN, sample_prior
from .objectives import Objective, joint_gradient_penalty


class CriticPair(nn.Module):
    """D on both joints (and the joint gradient penalty) in one forward call.

    One call per D update keeps DistributedDataParallel to one forward per backward.
    """

    def __init__(self, discriminator: nn.Module, gradient_penalty: float | None):
        super().__init__()
        self.discriminator, self.gradient_penalty = discriminator, gradient_penalty

    def forward(self, x, z_real, x_fake, z, rng: torch.Generator | None = None):
        D = self.discriminator
        d_real, d_fake = D(x, z_real), D(x_fake, z)
        penalty = None
        if self.gradient_penalty:
            penalty = joint_gradient_penalty(D, x, z_real, x_fake, z, rng)
        return d_real, d_fake, penalty


class GeneratorEncoderPair(nn.Module):
    """E(x) and G(z) (plus the optional cycle terms' G(E(x)), E(G(z))) in one forward call."""

    def __init__(self, generator: nn.Module, encoder: nn.Module):
        super().__init__()
        self.generator, self.encoder = generator, encoder

    def forward(self, x: Tensor, z: Tensor, cycles: bool = False):
        z_real, x_fake = self.encoder(x), self.generator(z)
        if not cycles:
            return z_real, x_fake, None, None
        return z_real, x_fake, self.generator(z_real), self.encoder(x_fake)


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
    weight_clip: float | None
    gradient_penalty: float | None
    recon_weight: float
    latent_recon_weight: float
    rng: torch.Generator
    autocast: AbstractContextManager


def _z(ctx: StepContext, n: int, device) -> Tensor:
    cfg = ctx.model.cfg
    return sample_prior(n, cfg.z_dim, cfg.prior, device, ctx.rng)


def discriminator_update(ctx: StepContext, x: Tensor, z_real: Tensor, x_fake: Tensor, z: Tensor) -> dict[str, Tensor]:
    # ---- D: maximize the objective's bound between (x, E(x)) and (G(z), z) ----
    with ctx.autocast:
        d_real, d_fake, penalty = ctx.critic(x, z_real, x_fake, z, ctx.rng)
        loss = ctx.objective.d_loss(d_real, d_fake)
        if penalty is not None:
            loss = loss + ctx.gradient_penalty * penalty
    ctx.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_d.step()
    if ctx.weight_clip is not None:
        with torch.no_grad():
            for p in ctx.model.discriminator.parameters():
                p.clamp_(-ctx.weight_clip, ctx.weight_clip)
    real, fake = d_real.detach().float()[:, 0], d_fake.detach().float()[:, 0]
    return {
        "d_loss": loss.detach().float(),
        "bound": ctx.objective.bound(d_real.detach(), d_fake.detach()),
        "d_real": real.mean(),
        "d_fake": fake.mean(),
        # share of (real, fake) pairs D ranks correctly: objective-agnostic, no threshold needed
        "d_acc": (real > fake).float().mean(),
    }


def generator_encoder_update(ctx: StepContext, x: Tensor, z: Tensor, outputs: tuple) -> dict[str, Tensor]:
    # ---- G and E: minimize the objective's G/E loss (swapped or minimax) against the updated D ----
    z_real, x_fake, x_rec, z_rec = outputs
    D = ctx.model.discriminator
    D.requires_grad_(False)  # D's gradients are not needed here; skip computing them
    with ctx.autocast:
        loss = ctx.objective.g_loss(D(x, z_real), D(x_fake, z), ctx.gen_loss)
        if x_rec is not None:  # ALICE-style cycle terms, off by default
            loss = loss + ctx.recon_weight * (x_rec - x).float().pow(2).flatten(1).sum(1).mean()
            loss = loss + ctx.latent_recon_weight * (z_rec - z).float().pow(2).sum(1).mean()
    ctx.opt_ge.zero_grad(set_to_none=True)
    loss.backward()
    ctx.opt_ge.step()
    D.requires_grad_(True)
    return {"g_loss": loss.detach().float()}


def train_step(ctx: StepContext, batches: list[Tensor]) -> dict[str, Tensor]:
    """n_critic D updates (one batch each), then one G/E update on the last batch.

    E(x) and G(z) of the last batch are computed once, with gradients: D's update uses them
    detached, and the G/E update reuses them against the updated D (as the DCGAN reference
    loop does), which saves a forward pass of both networks per step.
    """
    for x in batches[:-1]:
        z = _z(ctx, x.shape[0], x.device)
        with torch.no_grad(), ctx.autocast:
            z_real, x_fake = ctx.model.encoder(x), ctx.model.generator(z)
        discriminator_update(ctx, x, z_real, x_fake, z)
    x = batches[-1]
    z = _z(ctx, x.shape[0], x.device)
    with ctx.autocast:
        outputs = ctx.gen_enc(x, z, bool(ctx.recon_weight or ctx.latent_recon_weight))
    stats = discriminator_update(ctx, x, outputs[0].detach(), outputs[1].detach(), z)
    return stats | generator_encoder_update(ctx, x, z, outputs)
