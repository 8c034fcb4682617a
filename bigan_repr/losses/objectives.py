"""Adversarial objectives: pure functions of the discriminator's raw outputs, and one registry.

Every objective sees only ``d_real = D(x, E(x))`` and ``d_fake = D(G(z), z)``: tensors of raw
scores, shape (B,) or (B, S) when D has several heads (the joint score plus BigBiGAN's unary
ones). Losses average over the batch and sum over heads. The one function here that sees the
discriminator itself is :func:`joint_gradient_penalty`.

f-divergences follow Nowozin et al. (f-GAN): D maximizes the variational lower bound
``F = E_P[g_f(v)] - E_Q[f*(g_f(v))]`` with P = (x, E(x)) and Q = (G(z), z). Each composition
f*(g_f(v)) is written in closed, numerically stable form (softplus, expm1), because naive
forms overflow or produce NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LOG2 = math.log(2.0)
# exp-based activations overflow float32 near v = 88; beyond +-EXP_CLAMP the bound is flat
# anyway for any sane critic, so clamping keeps extreme logits finite without changing training.
EXP_CLAMP = 50.0

GEN_LOSS_MODES = ("swapped", "minimax")


def _clamp(v: Tensor) -> Tensor:
    return v.clamp(-EXP_CLAMP, EXP_CLAMP)


@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table.

    ``activation`` is g_f, ``conj_activation`` is the stable f*(g_f(v)); ``f``, ``f_prime``
    and ``conjugate`` are the textbook functions, used by tests and the divergence check.
    """

    f: Callable[[Tensor], Tensor]
    f_prime: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conj_activation: Callable[[Tensor], Tensor]
    in_domain: Callable[[Tensor], Tensor]  # t -> bool tensor: t lies in dom f*


F_DIVERGENCES: dict[str, FDivergence] = {
    "tv": FDivergence(
        f=lambda u: 0.5 * (u - 1).abs(),
        f_prime=lambda u: 0.5 * torch.sign(u - 1),
        conjugate=lambda t: t,
        activation=lambda v: 0.5 * torch.tanh(v),
        conj_activation=lambda v: 0.5 * torch.tanh(v),
        in_domain=lambda t: t.abs() <= 0.5,
    ),
    "kl": FDivergence(
        f=lambda u: u * torch.log(u),
        f_prime=lambda u: 1 + torch.log(u),
        conjugate=lambda t: torch.exp(t - 1),
        activation=lambda v: v,
        conj_activation=lambda v: torch.exp(_clamp(v) - 1),
        in_domain=lambda t: torch.isfinite(t),
    ),
    "rkl": FDivergence(
        f=lambda u: -torch.log(u),
        f_prime=lambda u: -1 / u,
        conjugate=lambda t: -1 - torch.log(-t),
        activation=lambda v: -torch.exp(-_clamp(v)),
        conj_activation=lambda v: v - 1,
        in_domain=lambda t: t < 0,
    ),
    "pearson": FDivergence(
        f=lambda u: (u - 1) ** 2,
        f_prime=lambda u: 2 * (u - 1),
        conjugate=lambda t: t**2 / 4 + t,
        activation=lambda v: v,
        conj_activation=lambda v: v**2 / 4 + v,
        in_domain=lambda t: torch.isfinite(t),
    ),
    "neyman": FDivergence(
        f=lambda u: (1 - u) ** 2 / u,
        f_prime=lambda u: 1 - 1 / u**2,
        conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
        activation=lambda v: -torch.expm1(-_clamp(v)),
        conj_activation=lambda v: 2 - 2 * torch.exp(-0.5 * _clamp(v)),
        in_domain=lambda t: t < 1,
    ),
    "hellinger": FDivergence(
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        f_prime=lambda u: 1 - 1 / torch.sqrt(u),
        conjugate=lambda t: t / (1 - t),
        activation=lambda v: -torch.expm1(-_clamp(v)),
        conj_activation=lambda v: torch.expm1(_clamp(v)),
        in_domain=lambda t: t < 1,
    ),
    "js": FDivergence(
        f=lambda u: -(u + 1) * torch.log((1 + u) / 2) + u * torch.log(u),
        f_prime=lambda u: torch.log(2 * u / (1 + u)),
        conjugate=lambda t: -torch.log(2 - torch.exp(t)),
        activation=lambda v: LOG2 - F.softplus(-v),
        conj_activation=lambda v: F.softplus(v) - LOG2,
        in_domain=lambda t: t < LOG2,
    ),
    "gan": FDivergence(
        f=lambda u: u * torch.log(u) - (u + 1) * torch.log(u + 1),
        f_prime=lambda u: torch.log(u / (u + 1)),
        conjugate=lambda t: -torch.log(1 - torch.exp(t)),
        activation=lambda v: F.logsigmoid(v),
        conj_activation=lambda v: F.softplus(v),
        in_domain=lambda t: t < 0,
    ),
}


def _mean_sum(t: Tensor) -> Tensor:
    """Average over the batch, sum over heads: the loss of a (B,) or (B, S) score tensor."""
    return t.float().mean(dim=0).sum()


def f_bound(fdiv: FDivergence, d_real: Tensor, d_fake: Tensor) -> Tensor:
    """The variational lower bound F = E_P[g_f(v)] - E_Q[f*(g_f(v))] that D maximizes."""
    return _mean_sum(fdiv.activation(d_real.float())) - _mean_sum(
        fdiv.conj_activation(d_fake.float())
    )


def wasserstein_bound(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Kantorovich-Rubinstein estimate E_P[C] - E_Q[C]; W1 when C is 1-Lipschitz."""
    return _mean_sum(d_real) - _mean_sum(d_fake)


def hinge_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return _mean_sum(F.relu(1 - d_real.float())) + _mean_sum(F.relu(1 + d_fake.float()))


@dataclass(frozen=True)
class Objective:
    """An adversarial objective and the training defaults its paper recommends.

    ``bound`` is what D maximizes (its estimate of a divergence); ``d_loss`` and ``g_loss``
    are what D and (G, E) minimize. ``g_loss`` takes the generator-loss mode.
    """

    name: str
    bound: Callable[[Tensor, Tensor], Tensor]
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor, Tensor, str], Tensor]
    optimizer: str = "adam"  # "adam" or "rmsprop"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    weight_clip: float | None = None  # clamp D's parameters to [-c, c] after each D step
    gradient_penalty: float | None = None  # lambda of the joint gradient penalty
    fdiv: FDivergence | None = None


def _f_objective(name: str) -> Objective:
    fdiv = F_DIVERGENCES[name]

    def bound(d_real: Tensor, d_fake: Tensor) -> Tensor:
        return f_bound(fdiv, d_real, d_fake)

    def d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
        return -f_bound(fdiv, d_real, d_fake)

    def g_loss(d_real: Tensor, d_fake: Tensor, mode: str) -> Tensor:
        if mode == "minimax":
            return f_bound(fdiv, d_real, d_fake)
        # swapped: the same bound with the roles of the two joints exchanged, maximized
        return -f_bound(fdiv, d_fake, d_real)

    return Objective(name, bound, d_loss, g_loss, fdiv=fdiv)


def _wasserstein_g_loss(d_real: Tensor, d_fake: Tensor, mode: str) -> Tensor:
    return wasserstein_bound(d_real, d_fake)


def _wasserstein_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return -wasserstein_bound(d_real, d_fake)


OBJECTIVES: dict[str, Objective] = {name: _f_objective(name) for name in F_DIVERGENCES}
OBJECTIVES["wgan-clip"] = Objective(
    "wgan-clip",
    bound=wasserstein_bound,
    d_loss=_wasserstein_d_loss,
    g_loss=_wasserstein_g_loss,
    optimizer="rmsprop",
    lr=5e-5,
    n_critic=5,
    weight_clip=0.01,
)
OBJECTIVES["wgan-gp"] = Objective(
    "wgan-gp",
    bound=wasserstein_bound,
    d_loss=_wasserstein_d_loss,
    g_loss=_wasserstein_g_loss,
    lr=1e-4,
    betas=(0.5, 0.9),
    n_critic=5,
    gradient_penalty=10.0,
)
OBJECTIVES["hinge"] = Objective(
    "hinge",
    bound=wasserstein_bound,
    d_loss=hinge_d_loss,
    g_loss=_wasserstein_g_loss,
)


def get_objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ValueError(
            f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}"
        ) from None


def joint_gradient_penalty(
    critic: Callable[[Tensor, Tensor], Tensor],
    x_real: Tensor,
    z_real: Tensor,
    x_fake: Tensor,
    z_fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP on the joint: E[(||[grad_x C; grad_z C]||_2 - 1)^2] at random interpolates.

    One eps ~ U(0,1) per sample is shared by the x and z parts, and one norm is taken over the
    concatenated gradient, so the penalty constrains the critic on the joint space.
    Only the first (joint) head of the critic is penalized.
    """
    b = x_real.shape[0]
    eps = torch.rand(b, 1, device=x_real.device, generator=generator)
    eps_x = eps.view(b, *([1] * (x_real.dim() - 1)))
    x_hat = (eps_x * x_real.detach() + (1 - eps_x) * x_fake.detach()).requires_grad_(True)
    z_hat = (eps * z_real.detach() + (1 - eps) * z_fake.detach()).requires_grad_(True)
    score = critic(x_hat, z_hat)
    score = score[:, 0] if score.dim() == 2 else score
    grad_x, grad_z = torch.autograd.grad(score.float().sum(), (x_hat, z_hat), create_graph=True)
    grad = torch.cat([grad_x.reshape(b, -1), grad_z.reshape(b, -1)], dim=1).float()
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()
