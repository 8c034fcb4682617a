"""N2D's clustering protocol (McConville et al. 2020): the features embedded by UMAP into as many
dimensions as there are clusters (n_neighbors 10, min_dist 0, N2D's settings for Fashion-MNIST),
then a Gaussian mixture with one full-covariance component per cluster; each point's cluster is its
most likely component. Scored as k-means is (``clustering``: Hungarian accuracy, NMI, ARI), once per
seed (UMAP's and the mixture's), mean ± std, and timed: UMAP's cost is part of the protocol's.

umap-learn is an optional extra (``pip install -e ".[cluster]"``): without it ``n2d_eval`` raises
:class:`N2DUnavailable`, which callers turn into one line and a skipped column.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture

from .clustering import cluster_scores, over_seeds
from .validation import EvalInputError, check_features

N2D_NEIGHBORS = 10


class N2DUnavailable(RuntimeError):
    """umap-learn is not installed."""


def n2d_available() -> bool:
    """Whether umap-learn can be imported (the "cluster" extra)."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def umap_gmm_clusters(x: np.ndarray, k: int, seed: int, n_neighbors: int = N2D_NEIGHBORS) -> np.ndarray:
    """Cluster index (0..k-1) of each row of x (N, d): UMAP to k dimensions, then a k-component mixture."""
    try:
        import umap
    except ImportError:
        raise N2DUnavailable("the N2D column needs umap-learn: pip install -e \".[cluster]\"") from None
    with warnings.catch_warnings():  # a seeded UMAP runs on one thread, and says so on every call
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        embedded = umap.UMAP(n_components=k, n_neighbors=min(n_neighbors, len(x) - 1), min_dist=0.0,
                             random_state=seed).fit_transform(np.asarray(x, dtype=np.float32))
    mixture = GaussianMixture(n_components=k, covariance_type="full", random_state=seed).fit(embedded)
    return mixture.predict(embedded)


def n2d_eval(x, y, seeds=(0,), n_neighbors: int = N2D_NEIGHBORS) -> dict:
    """acc/nmi/ari means over ``seeds`` with their stds and per-seed lists, k = the number of classes in y,
    and ``seconds``: the protocol's time per seed."""
    x, y = check_features(x, y, name="features", require_labels=True)
    k = len(np.unique(y))
    if k < 2 or len(x) <= k:
        raise EvalInputError(f"N2D needs at least 2 classes and more points than classes; got {k} and {len(x)}")
    start = time.perf_counter()
    runs = [cluster_scores(y, umap_gmm_clusters(x, k, int(seed), n_neighbors)) for seed in seeds]
    return over_seeds(runs) | {"seeds": [int(s) for s in seeds], "k": k,
                               "seconds": (time.perf_counter() - start) / len(seeds)}
