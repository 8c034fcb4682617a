"""A run written before the package was laid out in folders (version 0.1.0, commit d5221ef) still loads,
and its encoder gives the very features it gave then, at every layer.

The fixture holds that run's config.json and checkpoint (a 3-step digits run with the invariance head,
unary scores and an encoder average) and the features that commit's ``load_encoder(...).encode``
returned for 16 test images.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from bigan_repr.features.encoder import load_encoder
from bigan_repr.model.checkpoint import load_checkpoint

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def old_run(tmp_path):
    run = tmp_path / "run-0.1.0"
    shutil.copytree(FIXTURES / "run-0.1.0", run)
    return run


def test_old_checkpoint_holds_every_part_of_the_model(old_run):
    ckpt = load_checkpoint(old_run)
    assert ckpt["version"] == "0.1.0" and ckpt["step"] == 3
    names = set(ckpt["model"])
    assert {"projector.0.weight", "projector.6.weight", "discriminator.unary.0.weight"} <= names
    assert ckpt["ema_encoder"] is not None


@pytest.mark.parametrize("layer", ["z", "penultimate", "d"])
def test_old_checkpoint_encodes_identically(old_run, layer):
    expected = np.load(FIXTURES / "run-0.1.0-features.npz")
    loaded = load_encoder(old_run, device="cpu")
    features = loaded.encode(expected["images"], layer=layer)
    assert features.shape == expected[layer].shape
    np.testing.assert_allclose(features, expected[layer], rtol=1e-5, atol=1e-6)


def test_old_run_loads_with_its_invariance_head(old_run):
    from bigan_repr.config import Config
    from bigan_repr.model.networks import networks_for

    ckpt = load_checkpoint(old_run)
    model = networks_for(Config.from_stored(ckpt["config"], where="fixture"), tuple(ckpt["image_shape"]))
    model.load_state_dict(ckpt["model"])  # strict: every stored weight has its place, and every place a weight
    assert model.projector.spec.loss == "vicreg" and model.projector.spec.width == 16
