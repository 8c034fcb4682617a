"""Invariance losses on inputs whose values are known in closed form."""

import math

import pytest
import torch

from bigan_repr.losses.invariance import INFONCE_TEMPERATURE, INVARIANCE, VICREG_WEIGHTS, info_nce, vicreg


def _decorrelated(scale=2.0):
    # four samples, two zero-mean orthogonal columns: no covariance, per-dimension std 2*scale/sqrt(3)
    return scale * torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def test_vicreg_is_zero_for_identical_spread_out_uncorrelated_views():
    h = _decorrelated()
    assert vicreg(h, h.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_vicreg_terms_take_their_textbook_values():
    sim, var, _ = VICREG_WEIGHTS
    h = _decorrelated()
    assert vicreg(h, h + 1).item() == pytest.approx(sim * 1.0, rel=1e-5)  # MSE of a unit shift
    collapsed = torch.zeros(4, 2)
    per_view = 1 - math.sqrt(1e-4)  # hinge on std = sqrt(var + eps)
    assert vicreg(collapsed, collapsed).item() == pytest.approx(var * 2 * per_view, rel=1e-5)
    correlated = torch.tensor([[2.0, 2.0], [2.0, 2.0], [-2.0, -2.0], [-2.0, -2.0]])  # cov 16/3 off-diagonal
    off = 2 * (16 / 3) ** 2 / 2  # two off-diagonal entries, divided by d = 2
    assert vicreg(correlated, correlated).item() == pytest.approx(2 * off, rel=1e-5)


def test_infonce_with_orthogonal_pairs_matches_the_closed_form():
    b = 4
    h = torch.eye(8)[:b]  # one-hot rows: partner similarity 1, every other 0
    expected = math.log(1 + (2 * b - 2) * math.exp(-1 / INFONCE_TEMPERATURE))
    assert info_nce(h, h.clone()).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", INVARIANCE)
def test_descent_makes_views_agree(name):
    torch.manual_seed(0)
    base = torch.randn(64, 16)
    head = torch.nn.Linear(16, 8)
    opt = torch.optim.SGD(head.parameters(), lr=0.05)
    noise = lambda: base + 0.5 * torch.randn_like(base)  # noqa: E731 - two "views" of each row
    first = None
    for _ in range(100):
        loss = INVARIANCE[name](head(noise()), head(noise()))
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


def test_infonce_negatives_join_every_candidate_set_and_are_never_anchors():
    # one image, both views at e1; a negative at -e1 and one at e2: each view's candidates are its
    # partner (cos 1), the negatives (cos -1 and 0), and nothing else, so the closed form is exact
    t = INFONCE_TEMPERATURE
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    loss = info_nce(e1, e1, negatives=torch.cat([-3 * e1, 2 * e2]))  # scale: negatives are normalised too
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + math.exp(-1 / t) + math.exp(0)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # a negative that copies the positive makes the partner harder to pick: the loss grows
    assert info_nce(e1, e1, negatives=e1).item() == pytest.approx(math.log(2), rel=1e-5)
    assert torch.equal(info_nce(e1, e2, negatives=None), info_nce(e1, e2))
