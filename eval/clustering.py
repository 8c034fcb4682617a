"""k-means clustering of frozen features, scored against the true classes.

Owns the clustering protocol: k-means (eval.kmeans) with k = number of classes and
several restarts, the lowest-inertia one kept, scored by accuracy after Hungarian matching of
clusters to classes, NMI and ARI. Which local optimum k-means lands in moves these scores by
several points from one seed to the next, so the protocol runs once per seed and reports the
mean ± std, like the label budgets.

Easy problems must be solved: on 10 well-separated 32-d Gaussian blobs, faiss's k-means
(random initial centroids, at most 256 training points per centroid) gave ARI 0.78-1.0 across
seeds even with 10 restarts. Every restart here starts from greedy k-means++ centroids and
trains on every point, and the blobs are recovered exactly on every seed
(tests/eval/test_clustering.py).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .kmeans import DEFAULT_MAX_ITER, DEFAULT_TOL, kmeans_runs
from .validation import EvalInputError, check_features

DEFAULT_RESTARTS = 10  # per seed, the lowest inertia kept; eval.protocol.EvalProtocol takes it from here


def hungarian_accuracy(y_true, y_pred) -> float:
    """Best accuracy over one-to-one matchings of predicted clusters to true classes.

    Works for any label values and for #clusters != #classes: unmatched clusters count
    as wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise EvalInputError(
            f"y_true and y_pred must be non-empty 1-D arrays of equal length, got "
            f"shapes {y_true.shape} and {y_pred.shape}"
        )
    _, true_idx = np.unique(y_true, return_inverse=True)
    _, pred_idx = np.unique(y_pred, return_inverse=True)
    # (clusters, classes) co-occurrence counts; maximize the matched total.
    counts = np.zeros((pred_idx.max() + 1, true_idx.max() + 1), dtype=np.int64)
    np.add.at(counts, (pred_idx, true_idx), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / y_true.size)


def cluster_scores(y_true, y_pred) -> dict[str, float]:
    """One clustering scored against the classes: Hungarian accuracy, NMI and ARI (each in [0, 1])."""
    return {"acc": hungarian_accuracy(y_true, y_pred), "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
            "ari": float(adjusted_rand_score(y_true, y_pred))}


def over_seeds(runs: list[dict[str, float]]) -> dict:
    """acc/nmi/ari: the mean over seeds' ``cluster_scores``, then their stds (ddof 1) and per-seed lists."""
    result = {}
    for name in ("acc", "nmi", "ari"):
        values = [run[name] for run in runs]
        result[name] = float(np.mean(values))
        result[f"{name}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return result | {f"{name}s": [run[name] for run in runs] for name in ("acc", "nmi", "ari")}


def cluster_eval(
    x,
    y,
    *,
    n_clusters: int | None = None,
    restarts: int = DEFAULT_RESTARTS,
    seed: int = 0,
    seeds=None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> dict:
    """Cluster x with k-means and score against labels y, once per seed.

    One run of the protocol keeps the restart with the lowest inertia (the k-means objective,
    never the labels). Each restart stops when no point changes cluster, when the inertia falls
    by less than `tol` (relative) in an iteration, or after `max_iter` iterations. `seeds` runs
    the protocol once per seed (default: once, with `seed`); the restarts of every seed run
    together, one GEMM per pass over the data.

    Returns {"acc", "nmi", "ari"} as means over the seeds, {"acc_std", "nmi_std", "ari_std"}
    (sample standard deviations, ddof=1; 0.0 for one seed), the per-seed values {"accs",
    "nmis", "aris", "inertias"} in seed order, "seeds", "k" and "inertia" (the mean of the
    seeds' inertias). acc is Hungarian-matched accuracy.
    """
    x, y = check_features(x, y, name="clustering features", require_labels=True)
    k = int(np.unique(y).size) if n_clusters is None else int(n_clusters)
    if not 2 <= k <= x.shape[0]:
        raise EvalInputError(
            f"k-means needs 2 <= k <= number of points; got k={k} for {x.shape[0]} points"
        )
    if restarts < 1:
        raise EvalInputError(f"restarts must be >= 1, got {restarts}")
    if max_iter < 1 or not tol >= 0:
        raise EvalInputError(f"k-means needs max_iter >= 1 and tol >= 0, got {max_iter} and {tol}")
    seeds = _check_seeds((seed,) if seeds is None else seeds)
    # Restart r of seed s uses s*restarts + r, so different seeds never share a restart.
    runs = kmeans_runs(x, k, [[s * restarts + r for r in range(restarts)] for s in seeds],
                       max_iter=max_iter, tol=tol)
    result = over_seeds([cluster_scores(y, run["assign"]) for run in runs])
    inertias = [run["inertia"] for run in runs]
    return result | {"seeds": list(seeds), "k": k, "inertia": float(np.mean(inertias)), "inertias": inertias}


def _check_seeds(seeds) -> list[int]:
    values = list(seeds) if np.ndim(seeds) == 1 else None
    if not values or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                             for s in values):
        raise EvalInputError(f"k-means seeds must be a non-empty sequence of integers >= 0, got {seeds!r}")
    return [int(s) for s in values]
