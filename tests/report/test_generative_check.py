"""The model side of the coupling and generation numbers: networks that invert each other exactly, a
2-step digits run (not coupled, and the report line says so), and a run without G or D."""

import numpy as np
import pytest
import torch
from torch import nn

from bigan_repr.config import Config
from bigan_repr.features.encoder import LoadedEncoder, dataset_for, load_encoder
from bigan_repr.report.generative_check import coupling_and_generation
from bigan_repr.train.trainer import train


class _ScoreByMismatch(nn.Module):
    """D(x, z) = -||flat(x) - z||: 0 for a pair that matches exactly, below 0 otherwise."""

    def forward(self, x, z):
        return -(x.flatten(1) - z).norm(dim=1, keepdim=True)


@pytest.fixture(scope="module")
def digits():
    cfg = Config().updated({"model": {"z_dim": 64, "prior": "normal"}})
    loaded = LoadedEncoder(nn.Flatten(), _ScoreByMismatch(), cfg, (1, 8, 8), 0, "constructed", torch.device("cpu"),
                           generator=nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Hardtanh()))
    return loaded, dataset_for(loaded, None, "train"), dataset_for(loaded, None, "test")


def test_exact_inverse_networks_read_as_coupled(digits):
    loaded, train_set, test_set = digits
    c = coupling_and_generation(loaded, train_set, test_set)["coupling"]
    assert c["recon_ratio"] == 0.0  # G(E(x)) = x
    assert c["class_kept"] == c["class_kept_ceiling"] > 90
    assert c["class_kept_floor"] < 25
    assert c["coupled"] and c["verdict"].startswith("G and E coupled")
    # real pairs match exactly; G clips z ~ N(0, I) to [-1, 1], so nearly every fake pair mismatches
    assert c["d_accuracy"] > 0.99


def test_a_two_step_digits_run_reads_as_not_coupled(tmp_path):
    out = tmp_path / "run"
    train(Config().updated({"train": {"steps": 2, "threads": 1}}), out, progress=False)
    loaded = load_encoder(out)
    judged = coupling_and_generation(loaded, dataset_for(loaded, None, "train"), dataset_for(loaded, None, "test"))
    c, g = judged["coupling"], judged["generation"]
    assert not c["coupled"] and c["verdict"].startswith("G and E did not couple")
    assert c["recon_ratio"] > 0.9
    assert c["class_kept"] < c["class_kept_ceiling"]
    assert g["samples"] == 360 and g["classes_covered_realistic"] <= g["classes_covered"] <= 10
    assert np.isfinite(g["precision"]) and np.isfinite(g["recall"])


def test_a_run_without_g_and_d_has_no_coupling(tmp_path):
    out = tmp_path / "run"
    train(Config().updated({"train": {"steps": 2, "threads": 1, "adversarial": False}}), out, progress=False)
    loaded = load_encoder(out)
    assert loaded.generator is None
    assert coupling_and_generation(loaded, dataset_for(loaded, None, "train"), dataset_for(loaded, None, "test")) \
        is None
