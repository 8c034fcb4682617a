"""k-means beside the plain features: L2-normalised and PCA-whitened + L2, each on a case where it is the
space that finds the classes, and the protocol field that names them."""

import numpy as np
import pytest
from bigan_repr.eval import DEFAULT_PROTOCOL, EvalProtocol, evaluate
from bigan_repr.eval.cluster_spaces import PCA_WHITEN_DIMS, l2_normalize, pca_whiten
from bigan_repr.eval.validation import EvalInputError
from click.testing import CliRunner

from bigan_repr.cli import main


def test_l2_rows_have_unit_length_and_zero_rows_stay_zero():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-1e-3, 0.0]])
    np.testing.assert_allclose(l2_normalize(x), [[0.6, 0.8], [0.0, 0.0], [-1.0, 0.0]], atol=1e-6)


def test_pca_whitening_gives_unit_variance_in_at_most_256_used_dims():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 300)) * np.linspace(0.1, 10, 300)
    w = pca_whiten(x)
    assert w.shape == (2000, PCA_WHITEN_DIMS)
    np.testing.assert_allclose(np.cov(w.T), np.eye(PCA_WHITEN_DIMS), atol=1e-8)
    low_rank = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 10))  # 10 columns, 3 directions used
    assert pca_whiten(low_rank).shape == (500, 3)


def _directions(n=300, seed=0):
    """Two classes told apart by direction alone (30 degrees apart); lengths vary 20-fold within each class,
    so near and far points of one class lie further apart than near points of both."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    angles = y * np.pi / 6 + rng.normal(scale=0.02, size=n)
    r = rng.uniform(1, 20, size=n)
    return np.stack([r * np.cos(angles), r * np.sin(angles)], 1), y


def _thin_axis(n=300, seed=0):
    """Two classes ±1 apart along an axis of little variance; a wide noise axis dominates distances."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = np.stack([2.0 * y - 1 + rng.normal(scale=0.05, size=n), rng.normal(scale=100.0, size=n)], 1)
    return x, y


@pytest.mark.parametrize(("make", "space"), [(_directions, "l2"), (_thin_axis, "pcaw")])
def test_each_space_finds_classes_that_plain_k_means_misses(make, space):
    train_x, train_y = make(seed=1)
    test_x, test_y = make(seed=2)
    r = evaluate(train_x, train_y, test_x, test_y, EvalProtocol(budgets=(), seeds=(0,), restarts=3))
    assert r[f"kmeans_{space}_acc"] > 0.97 and r["kmeans_acc"] < 0.8
    assert {"kmeans_l2_nmi", "kmeans_l2_ari", "kmeans_pcaw_nmi", "kmeans_pcaw_ari"} <= set(r)


def test_the_protocol_names_its_spaces():
    assert DEFAULT_PROTOCOL.kmeans_spaces == ("l2", "pcaw")
    assert DEFAULT_PROTOCOL.quick().kmeans_spaces == ()  # the validation probe stays cheap
    with pytest.raises(EvalInputError, match="whiten"):
        EvalProtocol(kmeans_spaces=("whiten",))
    train_x, train_y = _directions(seed=1)
    r = evaluate(train_x, train_y, train_x, train_y, EvalProtocol(budgets=(), seeds=(0,), restarts=2,
                                                                  kmeans_spaces=()))
    assert "kmeans_acc" in r and not any(k.startswith(("kmeans_l2", "kmeans_pcaw")) for k in r)


def test_an_unknown_space_on_the_command_line_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["report", str(tmp_path), "--kmeans-spaces", "l2,bogus"])
    assert r.exit_code == 2 and "bogus" in r.output and "Traceback" not in r.output
