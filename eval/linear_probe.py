"""Linear probe and label-budget (semi-supervised) evaluation of frozen features.

Owns the linear protocol: logistic regression on standardized features,
C chosen on labelled training data only (never on test), then refit on all training labels
and scored once on test. On a holdout, C values are fitted in ascending order, each from the
previous solution, until holdout accuracy falls: the weakly regularized fits, the slowest,
are skipped once they can no longer win. Also owns label budgets: per-class or fractional stratified
subsamples of the training labels, evaluated over several seeds as mean ± std.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split

from .logreg import BACKENDS, DEFAULT_BACKEND, check_backend
from .probe_fit import Fit, predict
from .validation import EvalInputError, check_features, check_pair

# the protocol's defaults (eval.protocol.EvalProtocol takes them from here)
DEFAULT_C_GRID = (0.01, 0.1, 1.0, 10.0)  # C values, chosen on held-out training labels
DEFAULT_MAX_ITER = 1000  # solver iterations
DEFAULT_BUDGETS = (10, 1.0)  # label budgets: ints per class, floats a share of the labels
DEFAULT_SEEDS = (0, 1, 2, 3, 4)  # label draws per budget

_MAX_CV_FOLDS = 5
_STAT_ROWS = 4096  # rows per block when accumulating the variance


def _standardize(fit_x: np.ndarray, *others: np.ndarray, own: bool = False) -> list[np.ndarray]:
    """Scale to zero mean, unit variance with fit_x's statistics (constant features: scale 1).

    Statistics accumulate in float64 over row blocks (no float64 copy of the data). `own`: the
    arrays are scratch copies of the caller's and are standardized in place.
    """
    mean = fit_x.mean(axis=0, dtype=np.float64)
    shift = mean.astype(np.float32)
    var = np.zeros_like(mean)
    for start in range(0, fit_x.shape[0], _STAT_ROWS):
        centred = fit_x[start : start + _STAT_ROWS] - shift
        var += np.einsum("ij,ij->j", centred, centred, dtype=np.float64)
    std = np.sqrt(var / fit_x.shape[0])
    std[std == 0] = 1.0
    shift_t, scale_t = torch.from_numpy(shift), torch.from_numpy((1.0 / std).astype(np.float32))
    out = []
    for x in (fit_x, *others):
        target = x if own else np.empty_like(x)
        torch.sub(torch.from_numpy(x), shift_t, out=torch.from_numpy(target)).mul_(scale_t)
        out.append(target)
    return out


def _fit_grid(solver, data, y_fit, n_classes, c_grid, max_iter, score=None, stop_early=False):
    """One fit per C, ascending, each warm-started from the more regularized one before it.

    The objective is convex, so the start changes the iterations needed, not the optimum.
    `score` gives a fit's holdout accuracy; with `stop_early`, the path stops at the first C
    that scores below the C before it: the less regularized fits after it, the slowest to
    converge, are skipped. Returns {grid position: fit} and {grid position: score} for the C
    values fitted.
    """
    fits, scores, previous = {}, {}, None
    for i in map(int, np.argsort(c_grid, kind="stable")):
        previous = fits[i] = solver.fit(data, y_fit, n_classes, c_grid[i], init=previous, max_iter=max_iter)
        if score is not None:
            scores[i] = score(previous)
            if stop_early and len(scores) > 1 and scores[i] < list(scores.values())[-2]:
                break
    return fits, scores


def _accuracy(fit: Fit, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(fit, x) == y))


def _select_holdout(solver, x, y, n_classes, c_grid, val_fraction, max_iter, seed, stop_early) -> dict:
    """Raises ValueError when a stratified split with every class on the fit side is impossible."""
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=val_fraction, stratify=y, random_state=seed
    )
    if np.unique(y_fit).size < n_classes:
        raise ValueError("selection-train part lacks a class")
    x_fit, x_val = _standardize(x_fit, x_val, own=True)  # the split made copies
    data = solver.prepare(x_fit)
    fits, scores = _fit_grid(solver, data, y_fit, n_classes, c_grid, max_iter,
                             score=lambda fit: _accuracy(fit, x_val, y_val), stop_early=stop_early)
    # The best holdout accuracy; a tie goes to the C listed first in the grid.
    best = max(sorted(scores), key=scores.__getitem__)
    return {"C": c_grid[best], "val_acc": scores[best], "selection": "holdout",
            "val_accs": {c_grid[i]: scores[i] for i in sorted(scores)}, "init": fits[best], "like": data}


def _select_cv(solver, x, y, n_classes, c_grid, n_folds, max_iter, seed) -> dict:
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    scores = np.zeros(len(c_grid))
    for fit_idx, val_idx in folds.split(x, y):
        x_fit, x_val = _standardize(x[fit_idx], x[val_idx], own=True)
        fits, _ = _fit_grid(solver, solver.prepare(x_fit), y[fit_idx], n_classes, c_grid, max_iter)
        scores += [_accuracy(fits[i], x_val, y[val_idx]) / n_folds for i in range(len(c_grid))]
    best = int(np.argmax(scores))
    return {"C": c_grid[best], "val_acc": float(scores[best]), "selection": "cv",
            "val_accs": {c: float(score) for c, score in zip(c_grid, scores, strict=True)}}


def _select_c(solver, x, y, n_classes, c_grid, val_fraction, max_iter, seed, stop_early) -> dict:
    """Pick C on training labels: holdout if possible, else k-fold CV, else C=1.0."""
    min_count = int(np.bincount(y).min())
    if len(c_grid) == 1 or min_count < 2:
        # One example of some class: no split can both train on and validate it.
        c = c_grid[0] if len(c_grid) == 1 else 1.0
        return {"C": c, "val_acc": None, "selection": "default", "val_accs": {}}
    try:
        return _select_holdout(solver, x, y, n_classes, c_grid, val_fraction, max_iter, seed, stop_early)
    except ValueError:
        # Too few labels for a stratified holdout (e.g. val part smaller than #classes).
        folds = min(_MAX_CV_FOLDS, min_count)
        return _select_cv(solver, x, y, n_classes, c_grid, folds, max_iter, seed)


def linear_probe(
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    seed: int = 0,
    c_grid=DEFAULT_C_GRID,
    val_fraction: float = 0.2,
    max_iter: int = DEFAULT_MAX_ITER,
    backend: str = DEFAULT_BACKEND,
    stop_early: bool = True,
) -> dict:
    """Test accuracy of a logistic-regression probe with C chosen on training labels.

    Returns {"acc", "C", "val_acc", "val_accs", "n_train", "selection", "converged"}.
    `selection` is "holdout" (stratified val_fraction split), "cv" (k-fold, k = min(5,
    smallest class) when the holdout is impossible) or "default" (no selection: a single C
    was given, or some class has one example and C=1.0 is used); val_acc is None for
    "default". The holdout fits C in ascending order and, with `stop_early`, stops at the
    first C whose holdout accuracy falls below the previous one's (the less regularized rest
    are not fitted); k-fold CV fits every C. `val_accs` maps each C fitted to its validation
    accuracy.
    `backend` picks the solver ("torch" or "sklearn", see eval.logreg); the protocol,
    the objective and the meaning of C are the same for both.
    """
    train_x, train_y = check_features(train_x, train_y, name="train features", require_labels=True)
    test_x, test_y = check_features(test_x, test_y, name="test features", require_labels=True)
    check_pair(train_x, test_x)
    check_backend(backend)
    if not 0.0 < val_fraction < 1.0:
        raise EvalInputError(f"val_fraction must be in (0, 1), got {val_fraction}")
    classes, y = np.unique(train_y, return_inverse=True)
    if classes.size < 2:
        raise EvalInputError("linear probe needs at least 2 classes in the training labels")
    solver = BACKENDS[backend]()
    choice = _select_c(solver, train_x, y, classes.size, tuple(c_grid), val_fraction, max_iter, seed, stop_early)
    # The refit on all labels starts from the selected solution and reuses the preconditioner
    # of the selection split (holdout only).
    init, like = choice.pop("init", None), choice.pop("like", None)
    x_all, x_test = _standardize(train_x, test_x)
    fit = solver.fit(solver.prepare(x_all, like=like), y, classes.size, choice["C"], init=init, max_iter=max_iter)
    return {
        "acc": float(np.mean(classes[predict(fit, x_test)] == test_y)),
        **choice,
        "n_train": int(train_x.shape[0]),
        "converged": fit.converged,
    }


def budget_name(budget: int | float) -> str:
    """10 -> "10/class", 0.01 -> "1%", 1.0 -> "100%"."""
    if _per_class(budget):
        return f"{budget}/class"
    return f"{float(budget) * 100:g}%"


def _fraction_quota(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Per-class sample sizes summing to round(fraction * N), at least 1 per class."""
    exact = counts * fraction
    quota = np.floor(exact).astype(np.int64)
    short = int(round(fraction * counts.sum())) - int(quota.sum())
    # Largest remainders get the leftover samples; stable sort makes ties deterministic.
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: max(short, 0)]] += 1
    return np.clip(quota, 1, counts)


def _per_class(budget) -> bool:
    return isinstance(budget, (int, np.integer)) and not isinstance(budget, bool)


def check_budget(budget: int | float) -> None:
    """A label budget is an int >= 1 (labels per class) or a float in (0, 1] (a share of the labels)."""
    if _per_class(budget):
        if budget < 1:
            raise EvalInputError(f"label budget per class must be >= 1, got {budget}")
    elif not (isinstance(budget, float) and 0.0 < budget <= 1.0):
        raise EvalInputError(f"label budget must be an int (per class) or a float in (0, 1], got {budget!r}")


def check_budget_fits(labels, budget: int | float) -> None:
    """``check_budget``, and a per-class budget no larger than the smallest class of ``labels``
    (callers check before hours of work what ``subsample_labels`` would refuse after them)."""
    check_budget(budget)
    if _per_class(budget):
        classes, counts = np.unique(np.asarray(labels), return_counts=True)
        smallest = int(np.argmin(counts))
        if budget > counts[smallest]:
            raise EvalInputError(
                f"label budget {budget}/class: class {classes[smallest]} has only {counts[smallest]} training "
                f"examples; give a per-class budget of at most {counts[smallest]}, or a share such as 0.1"
            )


def subsample_labels(labels, budget: int | float, seed: int) -> np.ndarray:
    """Sorted training indices for a label budget, stratified by class.

    An int budget is labels per class, exactly: one larger than a class is refused (the result is
    labelled "N/class", and training refuses --labels-per-class N by the same rule, so the two draw
    the same images). A float in (0, 1] is a fraction of the training set, with at least one
    example per class.
    """
    check_budget_fits(labels, budget)
    _, inverse, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    if _per_class(budget):
        quota = np.full_like(counts, int(budget))
    else:
        quota = _fraction_quota(counts, budget)
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(inverse == c), size=int(q), replace=False)
        for c, q in enumerate(quota)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def label_budget_probe(
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    budgets=DEFAULT_BUDGETS,
    seeds=DEFAULT_SEEDS,
    **probe_kw,
) -> dict:
    """Linear-probe accuracy per label budget over seeds: {name: {mean, std, accs, n_labels}}.

    The full-label budget (1.0) runs only the first seed: the subsample is the whole set.
    `std` is the sample standard deviation (ddof=1), 0.0 for a single run.
    """
    train_x, train_y = check_features(train_x, train_y, name="train features", require_labels=True)
    results = {}
    for budget in budgets:
        is_full = isinstance(budget, float) and budget == 1.0
        run_seeds = tuple(seeds)[:1] if is_full else tuple(seeds)
        accs, n_labels = [], 0
        for seed in run_seeds:
            idx = subsample_labels(train_y, budget, seed)
            n_labels = int(idx.size)
            probe = linear_probe(train_x[idx], train_y[idx], test_x, test_y, seed=seed, **probe_kw)
            accs.append(probe["acc"])
        results[budget_name(budget)] = {
            "mean": float(np.mean(accs)),
            "std": float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0,
            "accs": accs,
            "n_labels": n_labels,
        }
    return results
