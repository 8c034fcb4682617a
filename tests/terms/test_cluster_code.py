"""ClusterGAN's code inversion on constructed codes."""

import math

import torch

from bigan_repr.terms.cluster_code import code_inversion_loss


def _codes(clusters, rest):
    return torch.cat([torch.nn.functional.one_hot(torch.tensor(clusters), 3).float(), torch.tensor(rest)], dim=1)


def test_an_exact_confident_inversion_costs_nothing_and_a_wrong_cluster_costs_its_margin():
    z = _codes([0, 2, 1], [[0.1, -0.2], [0.0, 0.3], [0.05, 0.05]])
    right = torch.cat([z[:, :3] * 30, z[:, 3:]], dim=1)  # logits 30 on the drawn cluster, 0 elsewhere
    assert code_inversion_loss(right, z, 3).item() < 1e-10
    wrong = torch.cat([z[:, [1, 2, 0]] * 30, z[:, 3:]], dim=1)  # every image's logit 30 on another cluster
    assert math.isclose(code_inversion_loss(wrong, z, 3).item(), 30 + math.log(1 + 2 * math.exp(-30)), rel_tol=1e-6)
    uninformed = torch.cat([torch.zeros(3, 3), z[:, 3:]], dim=1)
    assert math.isclose(code_inversion_loss(uninformed, z, 3).item(), math.log(3), rel_tol=1e-6)


def test_the_continuous_part_is_the_mean_squared_error():
    z = _codes([1, 1], [[0.0, 0.0], [0.0, 0.0]])
    raw = torch.cat([z[:, :3] * 30, torch.tensor([[0.2, 0.0], [0.0, -0.4]])], dim=1)
    assert math.isclose(code_inversion_loss(raw, z, 3).item(), (0.04 + 0.16) / 4, rel_tol=1e-5)
