"""The feature spaces k-means is run in, beside the plain features: one registry, pure numpy.

- ``l2``: each row divided by its Euclidean norm (SCAN clusters L2-normalised features), so k-means
  compares directions, as the cosine k-NN does;
- ``pcaw``: DeepCluster's preprocessing (Caron et al. 2018): PCA to min(256, d) dimensions, each
  component divided by its standard deviation (whitening), then L2 normalisation. Components whose
  variance is below 1e-6 of the largest are dropped, so directions the features never use are not
  blown up into noise. The PCA is fitted on the features being clustered (the test split).

A space is named in ``EvalProtocol.kmeans_spaces``; ``eval.suite`` reports k-means in each as
``kmeans_<space>_acc`` / ``_nmi`` / ``_ari`` beside the plain ``kmeans_acc``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PCA_WHITEN_DIMS = 256
_MIN_VARIANCE = 1e-6  # relative to the largest component's


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def fit_pca_whitening(x: np.ndarray, dims: int = PCA_WHITEN_DIMS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whitening ``pca_whiten`` applies, fitted on x: its mean (d,), axes (d, r) and scales (r,), so that
    other features can be whitened as x was (``apply_pca_whitening``)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))  # ascending
    variances, vectors = variances[::-1][:dims], vectors[:, ::-1][:, :dims]
    keep = variances > _MIN_VARIANCE * max(variances[0], 1e-300)
    return mean, vectors[:, keep], np.sqrt(variances[keep])


def apply_pca_whitening(x: np.ndarray, mean: np.ndarray, axes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(N, r) float64: x centred by ``mean``, projected on ``axes``, each divided by its scale."""
    return (np.asarray(x, dtype=np.float64) - mean) @ axes / scales


def pca_whiten(x: np.ndarray, dims: int = PCA_WHITEN_DIMS) -> np.ndarray:
    """(N, <= min(dims, d)) float64: centred, projected on the top principal components, each of unit variance."""
    return apply_pca_whitening(x, *fit_pca_whitening(x, dims))


CLUSTER_SPACES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "l2": l2_normalize,
    "pcaw": lambda x: l2_normalize(pca_whiten(x)),
}
