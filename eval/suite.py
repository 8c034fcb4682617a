"""The full evaluation suite: every protocol on one or many feature sets.

Owns which protocols run and how their results are flattened into one dict per feature
set (the rows of the report). Baselines (raw pixels, random encoder) are just more
feature sets passed to `evaluate_many`, evaluated on the same labels and protocol.
"""

from __future__ import annotations

from .cluster_spaces import CLUSTER_SPACES
from .clustering import cluster_eval
from .knn import knn_eval
from .linear_probe import budget_name, label_budget_probe, linear_probe
from .n2d import n2d_eval
from .protocol import DEFAULT_PROTOCOL, EvalProtocol
from .validation import check_features, check_pair


def _budget_results(train_x, train_y, test_x, test_y, protocol: EvalProtocol, full_probe: dict) -> dict:
    """label_budget_probe, reusing the full-label probe already run for the 100% budget."""
    budgets = protocol.budgets
    is_full = [isinstance(b, float) and b == 1.0 for b in budgets]
    partial = [b for b, full in zip(budgets, is_full, strict=True) if not full]
    results = label_budget_probe(
        train_x, train_y, test_x, test_y, budgets=partial, seeds=protocol.seeds, c_grid=protocol.c_grid,
        max_iter=protocol.max_iter, backend=protocol.probe_backend,
    )
    if any(is_full):
        # Same data, same seed (seeds[0]), same protocol: the probe would repeat exactly.
        results[budget_name(1.0)] = {
            "mean": full_probe["acc"],
            "std": 0.0,
            "accs": [full_probe["acc"]],
            "n_labels": full_probe["n_train"],
        }
    return {name: results[name] for name in map(budget_name, budgets)}


def _cluster_metrics(clusters: dict, prefix: str = "kmeans") -> dict:
    """<prefix>_acc/nmi/ari: means over seeds; then their stds and the per-seed values."""
    names = ("acc", "nmi", "ari")
    return ({f"{prefix}_{n}": clusters[n] for n in names} | {f"{prefix}_{n}_std": clusters[f"{n}_std"] for n in names}
            | {f"{prefix}_{n}s": clusters[f"{n}s"] for n in names} | {f"{prefix}_seeds": clusters["seeds"]})


def _clusters_in_spaces(test_x, test_y, protocol: EvalProtocol) -> dict:
    """k-means of the test features in each of the protocol's other spaces, over the same seeds:
    kmeans_<space>_acc/_nmi/_ari (means), with their stds and per-seed values."""
    out = {}
    for space in protocol.kmeans_spaces:
        r = cluster_eval(CLUSTER_SPACES[space](test_x), test_y, seeds=protocol.seeds, restarts=protocol.restarts)
        out |= _cluster_metrics(r, f"kmeans_{space}")
    return out


def _n2d_metrics(test_x, test_y, protocol: EvalProtocol) -> dict:
    """n2d_acc/_nmi/_ari over the protocol's seeds (means, stds, per-seed values) and n2d_seconds per seed;
    nothing when the protocol leaves N2D out."""
    if not protocol.n2d:
        return {}
    r = n2d_eval(test_x, test_y, seeds=protocol.seeds)
    return _cluster_metrics(r, "n2d") | {"n2d_seconds": r["seconds"]}


def evaluate(train_x, train_y, test_x, test_y, protocol: EvalProtocol = DEFAULT_PROTOCOL) -> dict:
    """Run k-NN, linear probe, label budgets and k-means by ``protocol``; one flat dict of metrics.

    Clustering runs on the test features once per seed (kmeans_acc, _nmi, _ari are means over the
    protocol's seeds, with _std and the per-seed lists beside), plain and in each of
    ``protocol.kmeans_spaces``, and by N2D where ``protocol.n2d``. ``protocol.quick()`` is the cheap variant
    for monitoring during training (no budgets, two C values, fewer k-means restarts, one seed, plain k-means
    only).
    """
    train_x, train_y = check_features(train_x, train_y, name="train features", require_labels=True)
    test_x, test_y = check_features(test_x, test_y, name="test features", require_labels=True)
    check_pair(train_x, test_x)
    p = protocol
    knn = knn_eval(train_x, train_y, test_x, test_y, k=p.k, index=p.index)
    linear = linear_probe(train_x, train_y, test_x, test_y, seed=p.seeds[0], c_grid=p.c_grid, max_iter=p.max_iter,
                          backend=p.probe_backend)
    clusters = cluster_eval(test_x, test_y, seeds=p.seeds, restarts=p.restarts)
    return {
        "nn1_acc": knn["nn1_acc"],
        "knn_acc": knn["knn_acc"],
        "knn_index": knn["index"],
        "linear_acc": linear["acc"],
        "linear_C": linear["C"],
        "linear_backend": p.probe_backend,
        **_cluster_metrics(clusters),
        **_clusters_in_spaces(test_x, test_y, p),
        **_n2d_metrics(test_x, test_y, p),
        "budgets": _budget_results(train_x, train_y, test_x, test_y, p, linear),
        "n_train": int(train_x.shape[0]),
        "n_test": int(test_x.shape[0]),
        "dim": int(train_x.shape[1]),
    }


def evaluate_many(methods: dict, train_y, test_y, protocol: EvalProtocol = DEFAULT_PROTOCOL) -> dict[str, dict]:
    """Evaluate several feature sets {name: (train_x, test_x)} on the same labels by one protocol."""
    return {
        name: evaluate(train_x, train_y, test_x, test_y, protocol)
        for name, (train_x, test_x) in methods.items()
    }
