"""A fitted linear probe: its weights and the prediction rule, the same for every solver of ``logreg``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fit:
    coef: np.ndarray  # (K', d) float32, K' = 1 for two classes
    intercept: np.ndarray  # (K',)
    n_iter: int
    converged: bool


def predict(fit: Fit, x: np.ndarray) -> np.ndarray:
    """Class indices (0..K-1) for standardized features x (N, d)."""
    scores = x @ fit.coef.T + fit.intercept  # (N, K')
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).astype(np.int64)  # scikit-learn's binary rule
    return scores.argmax(axis=1)
