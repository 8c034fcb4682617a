"""The objective registry: the f-GAN table's identities, stable forms, and divergence estimates."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bigan_repr.losses.divergence_check import CHECKABLE, estimate_divergence, true_divergence
from bigan_repr.losses.objectives import (
    F_DIVERGENCES,
    GEN_LOSS_MODES,
    OBJECTIVES,
    get_objective,
    joint_gradient_penalty,
)

U = torch.tensor([0.1, 0.5, 0.9, 1.5, 3.0, 7.0], dtype=torch.float64)


@pytest.mark.parametrize("name", OBJECTIVES)
@pytest.mark.parametrize("mode", GEN_LOSS_MODES)
@pytest.mark.parametrize("heads", [1, 3])
def test_losses_push_scores_the_right_way_on_random_logits(name, mode, heads):
    """D's loss falls as it scores the real joint higher and the fake one lower; the G/E loss falls the
    other way. (Summed over the batch: Pearson's conjugate t^2/4 + t is not monotone, so a single very
    negative fake score can pull the other way.)"""
    obj = get_objective(name)
    g = torch.Generator().manual_seed(0)
    d_real = (3 * torch.randn(64, heads, generator=g)).requires_grad_(True)
    d_fake = (3 * torch.randn(64, heads, generator=g)).requires_grad_(True)
    for loss, sign in ((obj.d_loss(d_real, d_fake), 1), (obj.g_loss(d_real, d_fake, mode), -1)):
        assert loss.shape == () and torch.isfinite(loss)
        gr, gf = torch.autograd.grad(loss, (d_real, d_fake))
        assert torch.isfinite(gr).all() and torch.isfinite(gf).all()
        assert sign * gr.sum() < 0 < sign * gf.sum()


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_activation_lands_in_conjugate_domain(name):
    fdiv = F_DIVERGENCES[name]
    v = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    assert fdiv.in_domain(fdiv.activation(v)).all()


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_fenchel_identity_at_f_prime(name):
    """f*(f'(u)) = u f'(u) - f(u): the conjugate is tight where T = f'(u)."""
    fdiv = F_DIVERGENCES[name]
    u = U[U != 1] if name == "tv" else U  # tv's f' is a sign: its identity holds off u = 1
    lhs = fdiv.conjugate(fdiv.f_prime(u))
    rhs = u * fdiv.f_prime(u) - fdiv.f(u)
    torch.testing.assert_close(lhs, rhs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", F_DIVERGENCES)
def test_stable_composition_matches_textbook_form(name):
    fdiv = F_DIVERGENCES[name]
    v = torch.linspace(-8, 8, 161, dtype=torch.float64)
    if name == "js":  # exp(t) reaches 2 numerically only at huge v; keep to where the naive form is exact
        v = v[v < 6]
    torch.testing.assert_close(fdiv.conj_activation(v), fdiv.conjugate(fdiv.activation(v)), rtol=1e-7, atol=1e-9)


def test_f_divergences_vanish_at_u_equal_one():
    """f(1) = 0, except the GAN row, whose f(1) = -log 4 (its bound is 2 JSD - log 4)."""
    one = torch.tensor(1.0, dtype=torch.float64)
    for name, fdiv in F_DIVERGENCES.items():
        expected = -math.log(4) if name == "gan" else 0.0
        assert float(fdiv.f(one)) == pytest.approx(expected, abs=1e-12), name


def test_gan_swapped_loss_is_the_bigan_label_swap():
    d_real, d_fake = torch.randn(32, 1), torch.randn(32, 1)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(d_fake, torch.ones_like(d_fake)) + bce(d_real, torch.zeros_like(d_real))
    torch.testing.assert_close(get_objective("gan").g_loss(d_real, d_fake, "swapped"), expected)
    d_expected = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    torch.testing.assert_close(get_objective("gan").d_loss(d_real, d_fake), d_expected)


def test_minimax_generator_loss_is_minus_discriminator_loss():
    d_real, d_fake = torch.randn(16, 1), torch.randn(16, 1)
    for name in F_DIVERGENCES:
        obj = get_objective(name)
        torch.testing.assert_close(obj.g_loss(d_real, d_fake, "minimax"), -obj.d_loss(d_real, d_fake))


def test_unknown_objective_lists_valid_names():
    with pytest.raises(ValueError, match="valid: .*wgan-gp"):
        get_objective("lsgan")


def test_joint_gradient_penalty_takes_one_norm_over_x_and_z():
    """For a linear critic a.[x; z] the penalty is (||a|| - 1)^2 with ONE norm over both parts."""
    a_x, a_z = torch.tensor([0.6, 0.0, 0.0, 0.0]), torch.tensor([0.8, 0.5])

    def critic(x, z):
        return (x.flatten(1) @ a_x + z @ a_z)[:, None]

    x, z = torch.randn(8, 1, 2, 2), torch.randn(8, 2)
    penalty = joint_gradient_penalty(critic, x, z, torch.randn(8, 1, 2, 2), torch.randn(8, 2))
    norm = math.sqrt(0.6**2 + 0.8**2 + 0.5**2)
    assert float(penalty) == pytest.approx((norm - 1) ** 2, rel=1e-5)


def test_true_divergences_match_closed_forms():
    assert true_divergence("kl") == pytest.approx(0.5, rel=1e-6)
    assert true_divergence("rkl") == pytest.approx(0.5, rel=1e-6)
    assert true_divergence("pearson") == pytest.approx(math.e - 1, rel=1e-6)
    assert true_divergence("hellinger") == pytest.approx(2 * (1 - math.exp(-1 / 8)), rel=1e-6)
    assert true_divergence("tv") == pytest.approx(math.erf(0.5 / math.sqrt(2)), rel=1e-6)


@pytest.mark.parametrize("name", CHECKABLE)
def test_trained_critic_estimates_the_divergence(name):
    """P = N(0,1), Q = N(1,1): the maximized bound is within 10% of D_f(P||Q) (or W1)."""
    torch.set_num_threads(1)
    est = estimate_divergence(name, steps=1000, batch=512, seed=0)
    assert est.relative_error < 0.10, (est.estimate, est.truth)


extreme = st.one_of(
    st.sampled_from([1e4, -1e4, 0.0, 1e-45, -1e-45, 88.0, -88.0]),
    st.floats(-1e4, 1e4, allow_nan=False, width=32),
)


@pytest.mark.parametrize("name", OBJECTIVES)
@pytest.mark.parametrize("mode", GEN_LOSS_MODES)
@settings(max_examples=30, deadline=None)
@given(values=st.lists(extreme, min_size=4, max_size=4))
def test_extreme_logits_give_finite_losses_and_gradients(name, mode, values):
    obj = get_objective(name)
    d_real = torch.tensor(values[:2], dtype=torch.float32)[:, None].requires_grad_(True)
    d_fake = torch.tensor(values[2:], dtype=torch.float32)[:, None].requires_grad_(True)
    for loss in (obj.d_loss(d_real, d_fake), obj.g_loss(d_real, d_fake, mode)):
        assert torch.isfinite(loss), (name, values, loss)
        grads = torch.autograd.grad(loss, (d_real, d_fake))
        assert all(torch.isfinite(g).all() for g in grads), (name, values, grads)
