"""The full evaluation suite: every protocol on one or many feature sets.

Owns which protocols run and how their results are flattened into one dict per feature
set (the rows of the report). Baselines (raw pixels, random encoder) are just more
feature sets passed to `evaluate_many`, evaluated on the same labels and protocol.
"""

from __future__ import annotations

from eval.clustering import cluster_eval
from eval.knn import knn_eval
from eval.knn_index import DEFAULT_INDEX, parse_index
from eval.linear_probe import budget_name, label_budget_probe, linear_probe
from eval.logreg import DEFAULT_BACKEND, check_backend
from eval.validation import check_features, check_pair

# During training, evaluation must be cheap: fewer C values and restarts, no budgets.
_QUICK_C_GRID = (0.1, 1.0)
_QUICK_RESTARTS = 3


def check_eval_options(index: str = DEFAULT_INDEX, probe_backend: str = DEFAULT_BACKEND) -> None:
    """Refuse an unknown k-NN index or probe backend before any work (EvalInputError)."""
    parse_index(index)
    check_backend(probe_backend)


def _budget_results(train_x, train_y, test_x, test_y, budgets, seeds, full_probe, backend) -> dict:
    """label_budget_probe, reusing the full-label probe already run for the 100% budget."""
    is_full = [isinstance(b, float) and b == 1.0 for b in budgets]
    partial = [b for b, full in zip(budgets, is_full, strict=True) if not full]
    results = label_budget_probe(
        train_x, train_y, test_x, test_y, budgets=partial, seeds=seeds, backend=backend
    )
    if any(is_full):
        # Same data, same seed (seeds[0]), same protocol: the probe would repeat exactly.
        results[budget_name(1.0)] = {
            "mean": full_probe["acc"],
            "std": 0.0,
            "accs": [full_probe["acc"]],
            "n_labels": full_probe["n_train"],
        }
    order = [budget_name(b) for b in budgets]
    return {name: results[name] for name in order}


def _kmeans_metrics(clusters: dict) -> dict:
    """kmeans_acc/nmi/ari: means over seeds; then their stds and the per-seed values."""
    names = ("acc", "nmi", "ari")
    return ({f"kmeans_{n}": clusters[n] for n in names} | {f"kmeans_{n}_std": clusters[f"{n}_std"] for n in names}
            | {f"kmeans_{n}s": clusters[f"{n}s"] for n in names} | {"kmeans_seeds": clusters["seeds"]})


def evaluate(
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    seeds=(0, 1, 2, 3, 4),
    budgets=(10, 1.0),
    k: int = 20,
    restarts: int = 10,
    quick: bool = False,
    index: str = DEFAULT_INDEX,
    probe_backend: str = DEFAULT_BACKEND,
) -> dict:
    """Run k-NN, linear probe, label budgets and k-means; one flat dict of metrics.

    Clustering runs on the test features, once per seed (kmeans_acc, _nmi, _ari are means over
    `seeds`, with _std and the per-seed lists beside). `quick=True` skips budgets and uses
    fewer C values, k-means restarts and one k-means seed, for monitoring during training. `index` is the
    k-NN search index (eval.knn_index), `probe_backend` the linear probe's solver
    (eval.logreg); every label budget uses the same solver.
    """
    check_eval_options(index, probe_backend)
    train_x, train_y = check_features(train_x, train_y, name="train features", require_labels=True)
    test_x, test_y = check_features(test_x, test_y, name="test features", require_labels=True)
    check_pair(train_x, test_x)
    probe_kw = {"c_grid": _QUICK_C_GRID, "backend": probe_backend} if quick else {"backend": probe_backend}
    knn = knn_eval(train_x, train_y, test_x, test_y, k=k, index=index)
    linear = linear_probe(train_x, train_y, test_x, test_y, seed=seeds[0], **probe_kw)
    clusters = cluster_eval(
        test_x, test_y, seeds=seeds[:1] if quick else seeds, restarts=_QUICK_RESTARTS if quick else restarts
    )
    budget_results = (
        {} if quick else _budget_results(
            train_x, train_y, test_x, test_y, budgets, seeds, linear, probe_backend
        )
    )
    return {
        "nn1_acc": knn["nn1_acc"],
        "knn_acc": knn["knn_acc"],
        "knn_index": knn["index"],
        "linear_acc": linear["acc"],
        "linear_C": linear["C"],
        "linear_backend": probe_backend,
        **_kmeans_metrics(clusters),
        "budgets": budget_results,
        "n_train": int(train_x.shape[0]),
        "n_test": int(test_x.shape[0]),
        "dim": int(train_x.shape[1]),
    }


def evaluate_many(methods: dict, train_y, test_y, **kw) -> dict[str, dict]:
    """Evaluate several feature sets {name: (train_x, test_x)} on the same labels.

    Keyword arguments go to `evaluate`; the result maps each name to its metrics.
    """
    return {
        name: evaluate(train_x, train_y, test_x, test_y, **kw)
        for name, (train_x, test_x) in methods.items()
    }
