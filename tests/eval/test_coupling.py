"""Coupling numbers on constructed cases: an exact inverse, a shuffled one, D's ranking, the codes' scale,
the class kept by reconstructions, and the verdict line."""

import numpy as np
import pytest
from bigan_repr.eval.coupling import (
    COUPLED_RATIO,
    class_kept,
    code_scale,
    coupling_verdict,
    distance_ratio,
    ranking_accuracy,
    shuffled_partners,
)
from bigan_repr.eval.pixel_reference import PixelReference
from bigan_repr.eval.validation import EvalInputError

from tests.conftest import blobs


@pytest.fixture(scope="module")
def labelled_points():
    """Well-separated classes standing in for images, and the fixed classifier fit on their training part."""
    train_x, train_y, test_x, test_y = blobs(n_train=500, n_test=400, dim=16)
    return PixelReference.fit(train_x, train_y), test_x, test_y


def test_partners_are_a_permutation_without_fixed_points_even_on_sorted_rows():
    for n in (2, 3, 10, 1001):
        p = shuffled_partners(n, seed=n)
        assert sorted(p) == list(range(n)) and not np.any(p == np.arange(n))
    # rows sorted by class: a cyclic shift would pair each row with its own class; the partners do not
    labels = np.repeat(np.arange(10), 100)
    assert np.mean(labels == labels[shuffled_partners(1000)]) < 0.2
    with pytest.raises(EvalInputError):
        shuffled_partners(1)


def test_an_exact_inverse_gives_ratio_zero_and_keeps_every_class_the_classifier_sees(labelled_points):
    reference, x, y = labelled_points
    partner = shuffled_partners(len(x))
    assert distance_ratio(x, x.copy(), partner) == 0.0
    kept = class_kept(y, reference.classify(x), reference.classify(x), reference.classify(x[partner]))
    assert kept["class_kept"] == kept["class_kept_ceiling"] > 95
    assert kept["class_kept_floor"] < 20  # a random partner's class: about 1 in 10


def test_a_shuffled_inverse_gives_ratio_one_and_the_floor(labelled_points):
    reference, x, y = labelled_points
    partner = shuffled_partners(len(x), seed=0)
    x_rec = x[np.random.default_rng(1).permutation(len(x))]  # G(E(x)) is some other image
    assert distance_ratio(x, x_rec, partner) == pytest.approx(1.0, abs=0.1)
    kept = class_kept(y, reference.classify(x), reference.classify(x_rec), reference.classify(x_rec[partner]))
    assert kept["class_kept"] == pytest.approx(kept["class_kept_floor"], abs=6)
    assert kept["class_kept_ceiling"] > 95


def test_a_partial_inverse_lies_between():
    x = np.random.default_rng(0).normal(size=(300, 20))
    partner = shuffled_partners(300)
    near = x + 0.3 * np.random.default_rng(1).normal(size=x.shape)
    assert 0.1 < distance_ratio(x, near, partner) < 0.4


def test_d_accuracy_ranks_every_real_pair_against_every_fake_one():
    assert ranking_accuracy([1, 2, 3], [0, -1]) == 1.0
    assert ranking_accuracy([0, -1], [1, 2, 3]) == 0.0
    assert ranking_accuracy([5, 5], [5]) == 0.5  # ties count half
    assert ranking_accuracy([0, 2], [1]) == 0.5
    assert ranking_accuracy([0, 2, 4], [1, 3]) == pytest.approx(3 / 6)
    rng = np.random.default_rng(0)
    assert ranking_accuracy(rng.normal(size=2000), rng.normal(size=2000)) == pytest.approx(0.5, abs=0.03)
    with pytest.raises(EvalInputError):
        ranking_accuracy([np.nan], [0])


def test_code_scale_is_the_codes_std_over_the_priors():
    codes = np.random.default_rng(0).normal(scale=2.0, size=(5000, 8))
    assert code_scale(codes, 1.0) == pytest.approx(2.0, rel=0.02)
    uniform = np.random.default_rng(0).uniform(-1, 1, size=(5000, 8))
    assert code_scale(uniform, 1 / np.sqrt(3)) == pytest.approx(1.0, rel=0.02)


def _numbers(**changes):
    base = {"recon_ratio": 0.5, "d_accuracy": 0.7, "code_scale": 1.0, "class_kept": 80.0,
            "class_kept_ceiling": 97.0, "class_kept_floor": 10.0}
    return base | changes


def test_the_verdict_reads_the_threshold_and_names_what_the_numbers_point_to():
    coupled, line = coupling_verdict(_numbers(recon_ratio=COUPLED_RATIO))
    assert coupled and line.startswith("G and E coupled")
    coupled, line = coupling_verdict(_numbers(recon_ratio=0.99, d_accuracy=0.997))
    assert not coupled and "D wins" in line and "drift" not in line
    coupled, line = coupling_verdict(_numbers(recon_ratio=0.99, code_scale=230.0))
    assert not coupled and "codes drift" in line and "D wins" not in line
    coupled, line = coupling_verdict(_numbers(recon_ratio=0.99, code_scale=0.1, d_accuracy=1.0))
    assert "codes drift" in line and "D wins" in line
    coupled, line = coupling_verdict(_numbers(recon_ratio=0.95))
    assert not coupled and "does not use E's code" in line
