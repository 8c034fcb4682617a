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
thread setting (fewer threads on problems too small to share) and is deterministic for a
given input and thread setting.

One evaluation of the objective and its gradient is two thin GEMMs over the data, (K', d) by
(d, N) and back, which stream the whole feature matrix from memory twice and were measured to
run far below the CPU's arithmetic speed. So the rows are cut into shards, one per thread, and
each shard is walked in blocks small enough to stay in cache: the logits of a block, its
residual and its share of the gradient are computed before the next block is read, so the
data crosses the memory bus once per evaluation. Each thread runs single-threaded torch on its
own shard (no synchronization inside an evaluation, which busy shared cores make costly), and
the shards' sums are added in a fixed order.

A cold start (the first C of a path) first minimizes over the component of W along the 128
axes of largest variance, on the features projected there, then solves the full problem from
that point (see `_coarse_start`): same optimum, same stopping rule, a third of the full
evaluations on the benchmark's features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from .logreg_sklearn import SklearnSolver
from .probe_fit import Fit
from .torch_threads import Workers, spans, threads_for
from .validation import EvalInputError

# L-BFGS stops when the largest entry of the objective's gradient (in W, b) is below this:
# scikit-learn's lbfgs rule and default tol. Looser tolerances were measured to flip the choice
# of C on digits (the objective is flat along directions of little variance, where a small
# gradient is still far from the optimum). _FTOL (scikit-learn's) stops it when float32
# rounding leaves no measurable decrease.
TORCH_TOL = 1e-4
_FTOL = 64 * np.finfo(float).eps
# With fewer points than dims, axes with variance below this share of the largest count as zero.
_RANK_CUTOFF = 1e-6
_COVARIANCE_ROWS = 8192
# L-BFGS memory: 30 pairs instead of scikit-learn's 10 took 15% fewer iterations on the
# benchmark's features, for 10k-float vectors (negligible beside one pass over the data).
_HISTORY = 30
# Bytes of features per block of an evaluation: a block's rows are read from memory once and
# reused from cache by the gradient GEMM (2-4 MiB blocks measured best on 48k x 1024 and 2048).
_BLOCK_BYTES = 1 << 22
# ... and at most this many rows: with few dims (the coarse problem's 128), 8192-row blocks made
# the GEMMs slower, and 1024-row ones the Python overhead of many blocks larger.
_BLOCK_ROWS = 4096
# Dimensions of the coarse problem solved before the full one (see _coarse_start): of 64, 128 and
# 256 on 48k x 2048 features, 128 took the least time for the first C of the path (the full
# problem then needed 40 evaluations instead of 138).
_COARSE_DIMS = 128


@dataclass
class _TorchData:
    x: torch.Tensor  # (N, d) float32 standardized features
    axes: torch.Tensor  # (d, r) principal axes, orthonormal columns, by ascending variance
    variances: torch.Tensor  # (r,) variance of x along each axis
    top: torch.Tensor | None = None  # (N, m) x on its m = _COARSE_DIMS axes of largest variance, once needed


class TorchSolver:
    """Full-batch L-BFGS on the preconditioned objective (see the module docstring)."""

    def prepare(self, x: np.ndarray, like: _TorchData | None = None) -> _TorchData:
        """The data and its preconditioner. `like`: prepared data of the same distribution (the
        selection split of the same features) whose preconditioner is reused when it can be: with
        at least as many points as dims, where it need only approximate this data's curvature."""
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        with threads_for(x.shape[0] * x.shape[1] * min(x.shape)) as threads, Workers(threads) as workers:
            if like is not None and xt.shape[0] >= xt.shape[1] and like.axes.shape == (xt.shape[1],) * 2:
                return _TorchData(xt, like.axes, like.variances)
            return self._prepare(xt, workers)

    def _prepare(self, xt: torch.Tensor, workers: Workers) -> _TorchData:
        n, d = xt.shape
        if n >= d:
            # A preconditioner need not be exact: the covariance of a strided row sample does.
            rows = xt[:: max(1, n // max(_COVARIANCE_ROWS, d))]
            parts = workers.map(lambda span: rows[span[0]:span[1]].T @ rows[span[0]:span[1]],
                                spans(rows.shape[0], workers.n))
            # eigh is single-threaded: on 2 busy cores LAPACK's threads made it 4x slower, not faster.
            variances, axes = torch.linalg.eigh(sum(parts[1:], parts[0]) / rows.shape[0])
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
        targets, l2 = _targets(torch.from_numpy(y), n_classes), 1.0 / (c * data.x.shape[0])
        if init is None:
            coef, intercept = torch.zeros(n_out, data.x.shape[1]), torch.zeros(n_out)
        else:
            coef, intercept = torch.from_numpy(init.coef), torch.from_numpy(init.intercept)
        # L-BFGS-B's own BLAS calls are on vectors of K' (r + 1) floats: threads only add
        # synchronization (20x slower on 2 busy cores), so its BLAS runs on one.
        with (threads_for(data.x.shape[0] * data.x.shape[1] * n_out) as threads, threadpool_limits(1, user_api="blas"),
              Workers(threads) as workers):
            if init is None and data.axes.shape[1] >= 4 * _COARSE_DIMS:
                coef, intercept = _coarse_start(data, targets, l2, workers, max_iter)
            problem = _Problem(data, _Shards(data.x, targets, workers), l2)
            result = _lbfgs(problem, problem.to_flat(coef, intercept), max_iter)
        coef, intercept = problem.from_flat(result.x)
        return Fit(coef.numpy(), intercept.numpy().copy(), int(result.nit), problem.converged_at(result.x))


def _lbfgs(problem: _Problem, start: np.ndarray, max_iter: int):
    options = {"maxiter": max_iter, "gtol": 0.0, "ftol": _FTOL, "maxcor": _HISTORY, "maxls": 50}
    return minimize(problem, start, jac=True, method="L-BFGS-B", callback=problem.stop_if_converged, options=options)


def _project_top(data: _TorchData, workers: Workers) -> torch.Tensor:
    """The features on their _COARSE_DIMS axes of largest variance, (N, m); computed once per data."""
    if data.top is None:
        top_axes = data.axes[:, -_COARSE_DIMS:].contiguous()
        data.top = torch.empty(data.x.shape[0], _COARSE_DIMS)

        def project(span: tuple[int, int]) -> None:
            torch.mm(data.x[span[0]:span[1]], top_axes, out=data.top[span[0]:span[1]])

        workers.map(project, spans(data.x.shape[0], workers.n))
    return data.top


def _coarse_start(data: _TorchData, targets, l2: float, workers: Workers, max_iter: int):
    """A cold start's starting point: the optimum over W along the top axes only (and b), found by
    L-BFGS on the (N, m) projected features instead of the (N, d) ones.

    The directions of largest variance are where the preconditioned objective is still worst
    conditioned (their curvature depends most on how confident the fit is), so most of a cold
    start's iterations went there; here they cost m/d as much. The full problem is then solved
    from this point, to the same tolerance: the optimum does not change, only the work. (From a
    warm start it did not pay: the full problem needed as many iterations after it.)
    """
    top, m = _project_top(data, workers), _COARSE_DIMS
    sub = _TorchData(top, torch.eye(m), data.variances[-m:])
    problem = _Problem(sub, _Shards(top, targets, workers), l2)
    result = _lbfgs(problem, np.zeros(targets.shape[0] * (m + 1)), max_iter)
    along, intercept = problem.from_flat(result.x)
    return along @ data.axes[:, -m:].T, intercept


def _targets(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """One-hot (K, N) targets; (1, N) "is class 1" for two classes."""
    if n_classes == 2:
        return y[None].float()
    return torch.nn.functional.one_hot(y, n_classes).T.contiguous().float()


class _Shards:
    """The rows split among worker threads (eval.torch_threads.Workers), one shard each;
    `loss_and_grad` is one evaluation over all of them. The caller opens and closes `workers`."""

    def __init__(self, x: torch.Tensor, targets: torch.Tensor, workers: Workers):
        self.x, self.targets, self.workers = x, targets, workers  # (N, d), (K', N)
        self.block = min(_BLOCK_ROWS, max(64, _BLOCK_BYTES // (4 * x.shape[1])))
        self.spans = spans(x.shape[0], max(1, min(workers.n, -(-x.shape[0] // self.block))))

    def loss_and_grad(self, coef: torch.Tensor, intercept: torch.Tensor):
        """Summed cross-entropy (float), its gradient in W (K', d) and in b (K',), both summed over rows."""
        parts = self.workers.map(lambda span: self._shard(coef, intercept, *span), self.spans)
        loss, grad_coef, grad_b = parts[0]
        for part in parts[1:]:
            loss, grad_coef, grad_b = loss + part[0], grad_coef + part[1], grad_b + part[2]
        return loss, grad_coef, grad_b

    @torch.no_grad()
    def _shard(self, coef: torch.Tensor, intercept: torch.Tensor, start: int, stop: int):
        grad_coef = torch.zeros_like(coef)
        grad_b = torch.zeros_like(intercept)
        loss = 0.0
        for begin in range(start, stop, self.block):
            rows = slice(begin, min(begin + self.block, stop))
            x = self.x[rows]
            logits = torch.addmm(intercept[:, None], coef, x.T)  # (K', B): the softmax runs along rows
            block_loss, residual = _loss_and_residual(logits, self.targets[:, rows])
            loss += float(block_loss)
            grad_coef.addmm_(residual, x)
            grad_b += residual.sum(dim=1)
        return loss, grad_coef, grad_b


class _Problem:
    """The objective as scipy's L-BFGS-B sees it: float64 vector (U, b) in, (f, gradient) out.

    Evaluated in float32 torch with classes along rows: (K', N) logits make both GEMMs and the
    softmax several times faster than (N, K') on CPU. Remembers the largest entry of the
    gradient in the original coordinates (W, b) at the last point: the stopping rule.
    """

    def __init__(self, data: _TorchData, shards: _Shards, l2: float):
        self.data, self.shards, self.l2 = data, shards, l2
        self.n_out, self.n = shards.targets.shape[0], data.x.shape[0]
        self.scale = (data.variances / 4 + l2).rsqrt()  # (r,)
        self.last_x, self.last_grad_max = None, float("inf")

    def from_flat(self, flat: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(W^T (K', d), b (K',)) from the flat (U^T, b) of shape (K', r + 1)."""
        params = torch.from_numpy(flat.astype(np.float32)).view(self.n_out, -1)
        return (params[:, :-1] * self.scale) @ self.data.axes.T, params[:, -1].contiguous()

    def to_flat(self, coef: torch.Tensor, intercept: torch.Tensor) -> np.ndarray:
        # W projected on the axes: the optimum has no component off them.
        u = (coef @ self.data.axes) / self.scale
        return torch.cat([u, intercept[:, None]], dim=1).double().numpy().ravel()

    @torch.no_grad()
    def __call__(self, flat: np.ndarray) -> tuple[float, np.ndarray]:
        coef, intercept = self.from_flat(flat)
        loss, grad_coef, grad_b = self.shards.loss_and_grad(coef, intercept)
        grad_coef = grad_coef / self.n + self.l2 * coef  # (K', d)
        grad_b = grad_b / self.n
        self.last_x = flat.copy()
        self.last_grad_max = max(float(grad_coef.abs().max()), float(grad_b.abs().max()))
        grad_u = (grad_coef @ self.data.axes) * self.scale
        value = loss / self.n + 0.5 * self.l2 * float((coef * coef).sum())
        return value, torch.cat([grad_u, grad_b[:, None]], dim=1).double().numpy().ravel()

    def converged_at(self, flat: np.ndarray) -> bool:
        return self.last_x is not None and np.array_equal(self.last_x, flat) and self.last_grad_max <= TORCH_TOL

    def stop_if_converged(self, intermediate_result) -> None:
        if self.converged_at(intermediate_result.x):
            raise StopIteration


def _loss_and_residual(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed cross-entropy and its gradient with respect to the (K', B) logits."""
    if targets.shape[0] == 1:  # binary: log(1 + e^-s) for y = 1, log(1 + e^s) for y = 0
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum")
        return loss, torch.sigmoid(logits).sub_(targets)
    log_p = torch.log_softmax(logits, dim=0)
    return -(targets * log_p).sum(), log_p.exp_().sub_(targets)


BACKENDS = {"torch": TorchSolver, "sklearn": SklearnSolver}
DEFAULT_BACKEND = "torch"


def check_backend(name: str) -> None:
    if name not in BACKENDS:
        raise EvalInputError(f"unknown linear-probe backend {name!r}; valid: {', '.join(BACKENDS)}")
