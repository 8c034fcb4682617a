"""Multinomial logistic regression solvers for the linear probe: torch (default) and scikit-learn.

Owns the probe's model and objective, fitted by either backend behind one interface
(`prepare` once per standardized training matrix, `fit` once per C, warm-startable):

    mean_i CE(x_i W + b, y_i) + ||W||^2 / (2 C N)

which is scikit-learn's 0.5 ||W||^2 + C sum_i CE_i divided by C N, so one C means one model in
both. The intercept is not penalized (as in scikit-learn's lbfgs) and two classes use one logit
vector (class 1 against class 0), as scikit-learn does, so C keeps its meaning there too.

The torch backend runs full-batch L-BFGS in float32 on a preconditioned parameterization
W = V diag(s) U: V, e are the principal axes and variances of the features and
s = (e / 4 + 1 / (C N))^-1/2, which evens out the curvature of the objective across
directions (1/4 bounds the softmax's curvature). Correlated features, the common case for
learned representations, otherwise need hundreds of iterations. It uses the caller's torch
thread setting and is deterministic for a given input and thread count.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

# L-BFGS stops when the largest entry of the objective's gradient (in W, b) is below this:
# scikit-learn's lbfgs rule, at 5x its default tol of 1e-4 (benchmarks/eval_speed.py measures what
# that changes). _FTOL (scikit-learn's) stops it when float32 rounding leaves no measurable decrease.
TORCH_TOL = 5e-4
_FTOL = 64 * np.finfo(float).eps
# With fewer points than dims, axes with variance below this share of the largest count as zero.
_RANK_CUTOFF = 1e-6
_COVARIANCE_ROWS = 8192


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


@dataclass
class _TorchData:
    x: torch.Tensor  # (N, d) float32 standardized features
    axes: torch.Tensor  # (d, r) principal axes, orthonormal columns
    variances: torch.Tensor  # (r,) variance of x along each axis


class TorchSolver:
    """Full-batch L-BFGS on the preconditioned objective (see the module docstring)."""

    def prepare(self, x: np.ndarray) -> _TorchData:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        n, d = xt.shape
        if n >= d:
            # A preconditioner need not be exact: the covariance of a strided row sample does.
            rows = xt[:: max(1, n // max(_COVARIANCE_ROWS, d))]
            variances, axes = torch.linalg.eigh(rows.T @ rows / rows.shape[0])
            return _TorchData(xt, axes, variances.clamp_min(0))
        # n < d: the (n, n) Gram matrix has the same non-zero spectrum at lower cost, and the
        # optimum lies in the row space, so the axes with no variance are left out.
        variances, left = torch.linalg.eigh(xt @ xt.T / n)
        keep = variances > variances.max() * _RANK_CUTOFF
        variances, left = variances[keep], left[:, keep]
        return _TorchData(xt, (xt.T @ left) / (n * variances).sqrt(), variances)

    def fit(self, data: _TorchData, y: np.ndarray, n_classes: int, c: float, *, init: Fit | None,
            max_iter: int) -> Fit:
        n_out = 1 if n_classes == 2 else n_classes
        problem = _Problem(data, _targets(torch.from_numpy(y), n_classes), 1.0 / (c * data.x.shape[0]))
        start = np.zeros((problem.scale.numel() + 1) * n_out)
        if init is not None:
            start = problem.to_flat(torch.from_numpy(init.coef.T), torch.from_numpy(init.intercept))
        result = minimize(problem, start, jac=True, method="L-BFGS-B", callback=problem.stop_if_converged,
                          options={"maxiter": max_iter, "gtol": 0.0, "ftol": _FTOL, "maxcor": 10, "maxls": 50})
        weights, intercept = problem.from_flat(result.x)
        converged = problem.last_x is not None and np.array_equal(problem.last_x, result.x) and (
            problem.last_grad_max <= TORCH_TOL)
        return Fit(weights.T.contiguous().numpy(), intercept.numpy(), int(result.nit), converged)


def _targets(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """One-hot (N, K) targets; (N, 1) "is class 1" for two classes."""
    if n_classes == 2:
        return y[:, None].float()
    return torch.nn.functional.one_hot(y, n_classes).float()


class _Problem:
    """The objective as scipy's L-BFGS-B sees it: float64 vector (U, b) in, (f, gradient) out.

    Evaluated in float32 torch; remembers the largest entry of the gradient in the original
    coordinates (W, b) at the last point, which is the stopping rule.
    """

    def __init__(self, data: _TorchData, targets: torch.Tensor, l2: float):
        self.data, self.targets, self.l2 = data, targets, l2
        self.scale = (data.variances / 4 + l2).rsqrt()  # (r,)
        self.last_x, self.last_grad_max = None, float("inf")

    def from_flat(self, flat: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(W (d, K'), b (K',)) from the flat (U, b)."""
        n_out = self.targets.shape[1]
        params = torch.from_numpy(flat.astype(np.float32)).view(-1, n_out)
        return self.data.axes @ (self.scale[:, None] * params[:-1]), params[-1]

    def to_flat(self, weights: torch.Tensor, intercept: torch.Tensor) -> np.ndarray:
        # W projected on the axes: the optimum has no component off them.
        u = (self.data.axes.T @ weights) / self.scale[:, None]
        return torch.cat([u, intercept[None]]).double().numpy().ravel()

    @torch.no_grad()
    def __call__(self, flat: np.ndarray) -> tuple[float, np.ndarray]:
        weights, intercept = self.from_flat(flat)
        loss, residual = _loss_and_residual(self.data.x @ weights + intercept, self.targets)
        # (G^T X)^T: several times faster than X^T G for a tall X
        grad_w = (residual.T @ self.data.x).T + self.l2 * weights  # (d, K')
        grad_b = residual.sum(dim=0)
        self.last_x = flat.copy()
        self.last_grad_max = max(float(grad_w.abs().max()), float(grad_b.abs().max()))
        grad_u = self.scale[:, None] * (self.data.axes.T @ grad_w)
        value = float(loss) + 0.5 * self.l2 * float((weights * weights).sum())
        return value, torch.cat([grad_u, grad_b[None]]).double().numpy().ravel()

    def stop_if_converged(self, intermediate_result) -> None:
        if self.last_grad_max <= TORCH_TOL and np.array_equal(self.last_x, intermediate_result.x):
            raise StopIteration


def _loss_and_residual(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and its gradient with respect to the (N, K') logits."""
    n = logits.shape[0]
    if targets.shape[1] == 1:  # binary: log(1 + e^-s) for y = 1, log(1 + e^s) for y = 0
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
        return loss, (torch.sigmoid(logits) - targets) / n
    log_p = torch.log_softmax(logits, dim=1)
    return -(targets * log_p).sum() / n, (log_p.exp() - targets) / n


class SklearnSolver:
    """scikit-learn's LogisticRegression (lbfgs, float64, tol 1e-4), warm-started by hand."""

    def prepare(self, x: np.ndarray) -> np.ndarray:
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


BACKENDS = {"torch": TorchSolver, "sklearn": SklearnSolver}
