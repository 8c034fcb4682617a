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
    labels = np.repeat(np.arange(10), [50] * 9 + [10])
    idx = subsample_labels(labels, 10, seed=3)
    counts = np.bincount(labels[idx], minlength=10)
    np.testing.assert_array_equal(counts, [10] * 10)
    assert len(np.unique(idx)) == len(idx)
    assert not np.array_equal(idx, subsample_labels(labels, 10, seed=4))


@pytest.mark.parametrize("budget", [11, 100000])
def test_a_per_class_budget_beyond_the_smallest_class_is_refused(budget):
    """"N/class" means N of every class, as --labels-per-class N does in training: a budget a class cannot
    give is refused, never labelled N/class while using what exists."""
    labels = np.repeat(np.arange(10), [50] * 9 + [10])
    with pytest.raises(EvalInputError, match=rf"label budget {budget}/class: class 9 has only 10 training examples; "
                                             "give a per-class budget of at most 10"):
        subsample_labels(labels, budget, seed=0)


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
    accs = result["3/class"]["accs"]
    assert len(accs) == 5 and len(set(accs)) > 1  # the draws differ, so the spread is real
    for seed, acc in zip((0, 1, 2, 3, 4), accs, strict=True):  # each one is the probe on its own draw
        idx = subsample_labels(noisy, 3, seed)
        assert acc == linear_probe(train_x[idx], noisy[idx], test_x, test_y, seed=seed, c_grid=SMALL_GRID)["acc"]
    assert result["3/class"]["std"] == pytest.approx(np.std(accs, ddof=1)) and result["3/class"]["std"] > 0.01


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


# --- the torch solver against scikit-learn ------------------------------------------


def _digits_split():
    """The project's digits split (80/20 stratified), pixels as features."""
    from bigan_repr.config import DataConfig
    from bigan_repr.data.sources import load_images

    train, test = load_images(DataConfig(), "train"), load_images(DataConfig(), "test")
    flat = [s.images.reshape(len(s), -1).astype(np.float32) for s in (train, test)]
    return flat[0], flat[1], train.labels, test.labels


def _hard_blobs():
    # Overlapping classes: C and the solver's convergence both show in the accuracy.
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=900, centers=6, n_features=20, cluster_std=9.0, random_state=1)
    return x[:600], x[600:], y[:600], y[600:]


@pytest.mark.parametrize("split", [_digits_split, _hard_blobs], ids=["digits", "blobs"])
def test_torch_probe_agrees_with_sklearn_probe(split):
    train_x, test_x, train_y, test_y = split()
    ours = linear_probe(train_x, train_y, test_x, test_y, backend="torch")
    reference = linear_probe(train_x, train_y, test_x, test_y, backend="sklearn")
    # Near-tied C values can swap on one validation point, so the accuracies are what must agree.
    assert ours["val_acc"] == pytest.approx(reference["val_acc"], abs=0.01)
    assert ours["acc"] == pytest.approx(reference["acc"], abs=0.01)
    assert ours["acc"] < 0.99  # not a problem any solver gets right
    assert ours["converged"] and ours["selection"] == "holdout"
    assert set(ours) == set(reference)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("c", [0.01, 1.0])
def test_torch_penalty_means_what_sklearn_c_means(n_classes, c):
    # Same standardized data, same C: the two solvers must find the same model, so the
    # penalty is scaled like scikit-learn's 0.5 ||W||^2 + C sum_i loss_i.
    from sklearn.datasets import make_classification

    from eval.logreg import SklearnSolver, TorchSolver

    x, y = make_classification(n_samples=300, n_features=8, n_informative=6, n_classes=n_classes, random_state=0)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    fits = [s.fit(s.prepare(x), y, n_classes, c, init=None, max_iter=1000) for s in (TorchSolver(), SklearnSolver())]
    ours, reference = fits
    assert ours.coef.shape == reference.coef.shape == (1 if n_classes == 2 else n_classes, 8)
    assert np.linalg.norm(ours.coef) == pytest.approx(np.linalg.norm(reference.coef), rel=0.01)
    np.testing.assert_allclose(ours.coef, reference.coef, atol=0.02 * np.abs(reference.coef).max())
    intercept_scale = max(1.0, np.abs(reference.intercept).max())
    np.testing.assert_allclose(ours.intercept, reference.intercept, atol=0.02 * intercept_scale)


def test_torch_probe_is_deterministic():
    train_x, test_x, train_y, test_y = _hard_blobs()
    runs = [linear_probe(train_x, train_y, test_x, test_y, seed=3) for _ in range(2)]
    assert runs[0] == runs[1]


def test_fewer_points_than_dims_fit_in_the_row_space():
    # 30 points in 200 dims: the Gram-matrix path; the fit must still separate the classes.
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(3, 200))
    y = np.arange(60) % 3
    x = centers[y] + rng.normal(size=(60, 200))
    ours = linear_probe(x[:30], y[:30], x[30:], y[30:], c_grid=(1.0,))
    reference = linear_probe(x[:30], y[:30], x[30:], y[30:], c_grid=(1.0,), backend="sklearn")
    assert ours["acc"] == reference["acc"] == 1.0


def test_unknown_backend_is_refused_with_the_valid_list():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="unknown linear-probe backend 'cuml'; valid: torch, sklearn"):
        linear_probe(train_x, train_y, test_x, test_y, backend="cuml")
    with pytest.raises(EvalInputError, match="valid: torch, sklearn"):
        label_budget_probe(train_x, train_y, test_x, test_y, budgets=(3,), backend="cuml")
