"""The linear probe's scikit-learn backend: the reference the torch solver of ``logreg`` is held to."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from .probe_fit import Fit


class SklearnSolver:
    """scikit-learn's LogisticRegression (lbfgs, float64, tol 1e-4), warm-started by hand."""

    def prepare(self, x: np.ndarray, like: np.ndarray | None = None) -> np.ndarray:
        return x

    def fit(self, data: np.ndarray, y: np.ndarray, n_classes: int, c: float, *, init: Fit | None,
            max_iter: int) -> Fit:
        model = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, warm_start=init is not None)
        if init is not None:
            model.coef_, model.intercept_ = init.coef.astype(np.float64), init.intercept.astype(np.float64)
        with warnings.catch_warnings():
            # Non-convergence is reported in the result ("converged") instead of spamming logs.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(data, y)
        n_iter = int(np.max(model.n_iter_))
        return Fit(model.coef_.astype(np.float32), model.intercept_.astype(np.float32), n_iter, n_iter < max_iter)
