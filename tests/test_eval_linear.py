"""Behaviour of eval.linear_probe: probe accuracy, C selection fallbacks, label budgets."""

import numpy as np
import pytest

from eval import EvalInputError, label_budget_probe, linear_probe, subsample_labels
from tests.conftest import blobs

SMALL_GRID = (0.1, 1.0)


def test_separated_blobs_give_perfect_probe_with_holdout_selection():
    train_x, train_y, test_x, test_y = blobs()
    result = linear_probe(train_x, train_y, test_x, test_y)
    assert result["acc"] == pytest.approx(1.0)
    assert result["selection"] == "holdout"
    assert result["C"] in (0.01, 0.1, 1.0, 10.0)
    assert result["n_train"] == 300


def test_shuffled_labels_give_chance_accuracy():
    # Both splits shuffled: a label is then independent of its point, for every point.
    train_x, train_y, test_x, test_y = blobs()
    rng = np.random.default_rng(0)
    result = linear_probe(
        train_x, rng.permutation(train_y), test_x, rng.permutation(test_y), c_grid=SMALL_GRID
    )
    assert result["acc"] < 0.25


def test_c_is_chosen_on_training_labels_not_test():
    # Scoring against wrong test labels must not change C: test never enters selection.
    train_x, train_y, test_x, test_y = blobs()
    honest = linear_probe(train_x, train_y, test_x, test_y)
    wrong = linear_probe(train_x, train_y, test_x, (test_y + 1) % 10)
    assert honest["C"] == wrong["C"]
    assert honest["val_acc"] == wrong["val_acc"]
    assert wrong["acc"] == pytest.approx(0.0)


def test_too_few_labels_for_holdout_falls_back_to_cv():
    # 2 per class: a 20% holdout of 20 points has 4 < 10 classes, so it is impossible.
    train_x, train_y, test_x, test_y = blobs()
    idx = subsample_labels(train_y, 2, seed=0)
    result = linear_probe(train_x[idx], train_y[idx], test_x, test_y, c_grid=SMALL_GRID)
    assert result["selection"] == "cv"
    assert result["acc"] > 0.9


def test_one_example_per_class_uses_default_c():
    train_x, train_y, test_x, test_y = blobs()
    idx = subsample_labels(train_y, 1, seed=0)
    result = linear_probe(train_x[idx], train_y[idx], test_x, test_y)
    assert result["selection"] == "default"
    assert result["C"] == 1.0
    assert result["val_acc"] is None


def test_subsample_labels_per_class_budget():
    labels = np.repeat(np.arange(10), [50] * 9 + [5])
    idx = subsample_labels(labels, 10, seed=3)
    counts = np.bincount(labels[idx], minlength=10)
    # A class with fewer examples than the budget keeps all of them.
    np.testing.assert_array_equal(counts, [10] * 9 + [5])
    assert len(np.unique(idx)) == len(idx)
    assert not np.array_equal(idx, subsample_labels(labels, 10, seed=4))


@pytest.mark.parametrize("fraction, expected", [(0.1, 100), (0.01, 10), (1.0, 1000)])
def test_subsample_labels_fraction_is_stratified(fraction, expected):
    labels = np.repeat(np.arange(10), 100)
    idx = subsample_labels(labels, fraction, seed=0)
    assert len(idx) == expected
    np.testing.assert_array_equal(np.bincount(labels[idx]), [expected // 10] * 10)


def test_subsample_labels_fraction_keeps_every_class():
    labels = np.repeat(np.arange(10), [991] + [1] * 9)
    idx = subsample_labels(labels, 0.01, seed=0)
    assert set(labels[idx]) == set(range(10))


@pytest.mark.parametrize("budget", [0, -3, 0.0, 1.5, "10"])
def test_subsample_labels_rejects_bad_budgets(budget):
    with pytest.raises(EvalInputError, match="budget"):
        subsample_labels(np.arange(10) % 2, budget, seed=0)


def test_label_budget_probe_reports_mean_std_over_seeds():
    train_x, train_y, test_x, test_y = blobs()
    result = label_budget_probe(
        train_x,
        train_y,
        test_x,
        test_y,
        budgets=(3, 0.5, 1.0),
        seeds=(0, 1, 2, 3, 4),
        c_grid=SMALL_GRID,
    )
    assert list(result) == ["3/class", "50%", "100%"]
    assert len(result["3/class"]["accs"]) == 5
    assert result["3/class"]["n_labels"] == 30
    assert result["3/class"]["mean"] == pytest.approx(np.mean(result["3/class"]["accs"]))
    assert result["3/class"]["std"] == pytest.approx(np.std(result["3/class"]["accs"], ddof=1))
    assert result["50%"]["n_labels"] == 150
    # The full-label budget is deterministic: one run, no spread.
    assert len(result["100%"]["accs"]) == 1
    assert result["100%"]["std"] == 0.0
    assert result["100%"]["n_labels"] == 300
    assert result["100%"]["mean"] == pytest.approx(1.0)


def test_label_budget_probe_spread_is_nonzero_on_hard_data():
    # Noisy labels make each 3-per-class draw give a different probe: std must show it.
    train_x, train_y, test_x, test_y = blobs(n_classes=3, dim=4)
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(train_y)) < 0.4, rng.integers(0, 3, len(train_y)), train_y)
    result = label_budget_probe(
        train_x, noisy, test_x, test_y, budgets=(3,), seeds=(0, 1, 2, 3, 4), c_grid=SMALL_GRID
    )
    assert result["3/class"]["std"] > 0.0


def test_single_class_is_rejected():
    train_x, _, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="at least 2 classes"):
        linear_probe(train_x, np.ones(len(train_x), dtype=int), test_x, test_y)


def test_missing_labels_are_rejected():
    train_x, _, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="labels are required"):
        linear_probe(train_x, None, test_x, test_y)


def test_non_integer_labels_are_rejected():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="integers"):
        linear_probe(train_x, train_y + 0.5, test_x, test_y)
