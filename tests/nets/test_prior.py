"""The prior's names, draws, support and spread."""

import math

import pytest
import torch

from bigan_repr.nets.prior import PriorError, parse_prior


@pytest.mark.parametrize("name", ["mixed", "mixed:1", "mixed:x", "mixed:10:0", "mixed:10:nan", "mixed:10:1:2", "gauss"])
def test_unreadable_prior_names_are_refused(name):
    with pytest.raises(PriorError):
        parse_prior(name)


def test_a_mixed_prior_draws_one_hot_clusters_at_equal_rates_and_a_narrow_gaussian():
    prior = parse_prior("mixed:10")
    assert (prior.clusters, prior.sigma) == (10, 0.1)
    z = prior.sample(20000, 30, "cpu", torch.Generator().manual_seed(0))
    one_hot, rest = z[:, :10], z[:, 10:]
    assert set(one_hot.unique().tolist()) == {0.0, 1.0} and torch.equal(one_hot.sum(1), torch.ones(20000))
    rates = one_hot.mean(0)  # each 0.1, binomial std 0.0021
    assert (rates - 0.1).abs().max() < 0.008
    assert abs(rest.std().item() - 0.1) < 0.003 and abs(rest.mean().item()) < 0.003
    assert math.isclose(z.var(0).mean().sqrt().item(), prior.std(30), rel_tol=0.02)


def test_es_output_lands_in_each_priors_support():
    raw = torch.randn(8, 12) * 5
    assert parse_prior("uniform").into_support(raw).abs().max() < 1
    assert torch.equal(parse_prior("normal").into_support(raw), raw)
    code = parse_prior("mixed:4:0.5").into_support(raw)
    torch.testing.assert_close(code[:, :4].sum(1), torch.ones(8))  # cluster probabilities
    assert torch.equal(code[:, 4:], raw[:, 4:])


def test_the_continuous_part_must_have_room():
    with pytest.raises(PriorError, match="z_dim above"):
        parse_prior("mixed:10").check_width(10)
    parse_prior("mixed:10").check_width(11)


def test_the_sample_grid_holds_one_row_per_cluster():
    prior = parse_prior("mixed:4:0.1")
    codes = prior.grid_codes(64, 12, torch.Generator().manual_seed(0))
    assert codes.shape == (32, 12)  # 4 clusters x 8 per row, whatever n asks
    assert codes[:, :4].argmax(1).tolist() == [k for k in range(4) for _ in range(8)]
    assert len({tuple(row) for row in codes[:8, 4:].tolist()}) == 8  # each with its own continuous part
    normal = parse_prior("normal").grid_codes(64, 12, torch.Generator().manual_seed(0))
    assert torch.equal(normal, parse_prior("normal").sample(64, 12, "cpu", torch.Generator().manual_seed(0)))
