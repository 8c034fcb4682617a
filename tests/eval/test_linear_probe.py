"""Behaviour of eval.linear_probe: probe accuracy, C selection fallbacks, label budgets."""

import numpy as np
import pytest
from bigan_repr.eval import EvalInputError, label_budget_probe, linear_probe, subsample_labels

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
    from bigan_repr.eval.logreg import TorchSolver
    from bigan_repr.eval.logreg_sklearn import SklearnSolver
    from sklearn.datasets import make_classification

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


# --- the fast path: warm starts, the coarse step, sharded evaluations, early stopping ----------


def _wide_problem(n=1500, d=600, n_classes=5, seed=0):
    """Standardized correlated features wide enough (d >= 4 x 128) for the coarse step."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=n, n_features=d, n_informative=min(40, d // 3), n_redundant=d // 3,
                               n_classes=n_classes, class_sep=0.8, random_state=seed)
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32), y


def _assert_same_model(a, b, rel=0.02):
    scale = np.abs(b.coef).max()
    np.testing.assert_allclose(a.coef, b.coef, atol=rel * scale)
    np.testing.assert_allclose(a.intercept, b.intercept, atol=rel * max(1.0, np.abs(b.intercept).max()))


def test_warm_start_reaches_the_cold_start_solution():
    from bigan_repr.eval.logreg import TorchSolver

    x, y = _wide_problem(d=60)
    solver = TorchSolver()
    data = solver.prepare(x)
    strong = solver.fit(data, y, 5, 0.01, init=None, max_iter=1000)
    warm = solver.fit(data, y, 5, 1.0, init=strong, max_iter=1000)
    cold = solver.fit(data, y, 5, 1.0, init=None, max_iter=1000)
    assert warm.converged and cold.converged
    _assert_same_model(warm, cold)


def test_coarse_step_changes_the_work_not_the_solution():
    # A cold start first solves over the 128 axes of largest variance; the answer must be the
    # full problem's: the same as without that step and as scikit-learn's.
    from bigan_repr.eval.logreg import TorchSolver, _TorchData
    from bigan_repr.eval.logreg_sklearn import SklearnSolver

    x, y = _wide_problem()
    solver = TorchSolver()
    data = solver.prepare(x)
    with_step = solver.fit(data, y, 5, 0.1, init=None, max_iter=1000)
    assert data.top is not None and data.top.shape == (1500, 128)  # the step ran
    without = solver.fit(_TorchData(data.x, data.axes, data.variances), y, 5, 0.1, init=None, max_iter=1000)
    reference = SklearnSolver().fit(x, y, 5, 0.1, init=None, max_iter=1000)
    assert with_step.converged and without.converged
    _assert_same_model(with_step, without)
    _assert_same_model(with_step, reference)


def test_reused_preconditioner_gives_the_same_refit():
    from bigan_repr.eval.logreg import TorchSolver

    x, y = _wide_problem()
    solver = TorchSolver()
    selection = solver.prepare(x[:1200])
    reused = solver.prepare(x, like=selection)
    assert reused.axes is selection.axes  # no second eigendecomposition
    fits = [solver.fit(data, y, 5, 1.0, init=None, max_iter=1000) for data in (reused, solver.prepare(x))]
    _assert_same_model(*fits)
    # Too few points for the dims: the row-space axes of its own data are needed, not reused.
    assert solver.prepare(x[:100], like=selection).axes.shape[1] < 600


@pytest.mark.parametrize("n_classes", [2, 4])
def test_sharded_evaluation_equals_one_pass(n_classes):
    # Row blocks on two worker threads must give the loss and gradient of the whole matrix at once.
    import torch
    from bigan_repr.eval import logreg
    from bigan_repr.eval.torch_threads import Workers

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(3001, 40)).astype(np.float32))
    targets = logreg._targets(torch.from_numpy(rng.integers(0, n_classes, 3001)), n_classes)
    coef = torch.from_numpy(rng.normal(size=(targets.shape[0], 40)).astype(np.float32))
    intercept = torch.from_numpy(rng.normal(size=targets.shape[0]).astype(np.float32))
    loss, residual = logreg._loss_and_residual(torch.addmm(intercept[:, None], coef, x.T), targets)
    block = logreg._BLOCK_BYTES
    logreg._BLOCK_BYTES = 4 * 40 * 256  # 256-row blocks: 12 of them, the last one short
    try:
        with Workers(2) as workers:
            sharded = logreg._Shards(x, targets, workers).loss_and_grad(coef, intercept)
    finally:
        logreg._BLOCK_BYTES = block
    assert sharded[0] == pytest.approx(float(loss), rel=1e-5)
    torch.testing.assert_close(sharded[1], residual @ x, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(sharded[2], residual.sum(dim=1), rtol=1e-4, atol=1e-3)


class _CountingSolver:
    """A backend that records the C of every fit."""

    def __init__(self, backend):
        self.inner, self.cs = backend, []

    def prepare(self, x, like=None):
        return self.inner.prepare(x, like=like)

    def fit(self, data, y, n_classes, c, **kw):
        self.cs.append(c)
        return self.inner.fit(data, y, n_classes, c, **kw)


@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_c_path_stops_when_holdout_accuracy_falls(backend, monkeypatch):
    # Few points, many noisy dims: strong regularization wins and weaker C overfit, so the
    # path stops at the first C that scores below the one before it, whatever the backend.
    import importlib

    from bigan_repr.eval.logreg import BACKENDS

    # the module: bigan_repr.eval.linear_probe is also the name of the function
    probe_module = importlib.import_module("bigan_repr.eval.linear_probe")

    rng = np.random.default_rng(0)
    y = np.arange(400) % 4
    x = rng.normal(size=(400, 300)) + 0.35 * np.eye(4, 300)[y] * 3
    solver = _CountingSolver(BACKENDS[backend]())
    monkeypatch.setitem(probe_module.BACKENDS, backend, lambda: solver)
    result = probe_module.linear_probe(x[:300], y[:300], x[300:], y[300:], c_grid=(10.0, 0.001, 0.1, 1.0),
                                       backend=backend)
    accs = list(result["val_accs"].values())
    fitted = sorted(result["val_accs"])
    assert solver.cs[: len(fitted)] == fitted  # ascending, one fit per C, then the refit
    assert len(fitted) < 4 and accs[-1] < accs[-2]  # stopped at the first fall
    assert all(a <= b for a, b in zip(accs[:-2], accs[1:-1], strict=True))
    assert result["C"] == fitted[int(np.argmax(accs))]
    # stop_early=False fits the whole grid; the path it shares with the stopped one is the same.
    every = probe_module.linear_probe(x[:300], y[:300], x[300:], y[300:], c_grid=(10.0, 0.001, 0.1, 1.0),
                                      backend=backend, stop_early=False)
    assert sorted(every["val_accs"]) == [0.001, 0.1, 1.0, 10.0]
    assert [every["val_accs"][c] for c in fitted] == accs


def test_fast_probe_chooses_the_c_scikit_learn_chooses():
    # Few informative dims among many: holdout accuracy rises, then falls once weak
    # regularization overfits (0.40, 0.43, 0.47, 0.43 for C = 0.001 ... 1). Both backends fit the
    # same C values, find the same accuracies and choose the same C, inside the grid.
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=1000, n_features=300, n_informative=10, n_redundant=0, n_classes=4,
                               flip_y=0.05, random_state=1)
    split = (x[:750], y[:750], x[750:], y[750:])
    grid = (0.001, 0.01, 0.1, 1.0, 10.0)
    ours = linear_probe(*split, c_grid=grid)
    reference = linear_probe(*split, c_grid=grid, backend="sklearn")
    assert ours["C"] == reference["C"] == 0.1
    assert list(ours["val_accs"]) == list(reference["val_accs"]) == [0.001, 0.01, 0.1, 1.0]
    assert list(ours["val_accs"].values()) == pytest.approx(list(reference["val_accs"].values()), abs=0.007)
    assert ours["acc"] == pytest.approx(reference["acc"], abs=0.008)
