"""k-means with k-means++ seeding, all restarts run together, stopped on convergence (torch).

Owns the algorithm behind eval.clustering: greedy k-means++ seeding (scikit-learn's: 2 + ln k
candidates per centre, the one that lowers the potential most is kept) and Lloyd iterations
that stop when no point changes cluster or the inertia falls by less than a relative `tol`.
The restarts share every pass over the data: their centroids are stacked into one (R k, d)
matrix, so each pass is one GEMM for the distances, taken over row blocks on worker threads
(eval.torch_threads.Workers). A restart that has converged leaves the batch.

Centroids are kept as float64 sums and counts per cluster, computed in full on the first passes
and then moved by the points that changed cluster (after the first few passes, a few percent
of them): the centroid update costs a fraction of the distance GEMM instead of a second GEMM
as large.

Points are centred first (k-means does not move with a translation) so that float32
distances |x|^2 - 2 x.c + |c|^2 lose little to cancellation. A cluster left empty keeps its
centroid. Restart r draws from its own generator, seeded `seeds[r]`, so results depend on
the seeds, the data and the torch thread setting only (fewer threads than set on problems
too small to share).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .torch_threads import Workers, spans, threads_for

DEFAULT_MAX_ITER = 300
DEFAULT_TOL = 1e-4
# Rows per block: a block's (rows, R k) distance matrix holds at most 2^24 floats.
_BLOCK_FLOATS = 1 << 24
# A restart's cluster sums are recomputed from every point when more than 1 / _MOVED_SHARE of
# the points changed cluster (moving a point costs about 7 times adding it, measured at 2048-d).
_MOVED_SHARE = 10


def _row_blocks(start: int, stop: int, width: int):
    """Slices of at most max(1024, 2^24 / width) rows covering range(start, stop)."""
    rows = max(1024, _BLOCK_FLOATS // max(width, 1))
    return (slice(begin, min(begin + rows, stop)) for begin in range(start, stop, rows))


def _nearest(x: torch.Tensor, centroids: torch.Tensor, x_sq: torch.Tensor, workers: Workers):
    """Per restart, each point's nearest centroid and squared distance.

    x (N, d), centroids (R, k, d) -> assign (N, R) int64, sq_dist (N, R) float32.
    """
    r, k, d = centroids.shape
    flat = centroids.reshape(r * k, d).contiguous()
    c_sq = (flat * flat).sum(dim=1)
    assign = torch.empty(x.shape[0], r, dtype=torch.int64)
    sq_dist = torch.empty(x.shape[0], r)
    x_np, flat_np = x.numpy(), flat.numpy()

    def shard(span: tuple[int, int]) -> None:
        for rows in _row_blocks(*span, r * k):
            dots = torch.from_numpy(x_np[rows] @ flat_np.T)  # numpy's GEMM: see kmeans_runs
            dist = torch.add(c_sq, dots, alpha=-2).view(-1, r, k)  # (B, R, k), less |x|^2
            best, assign[rows] = dist.min(dim=2)
            sq_dist[rows] = (best + x_sq[rows, None]).clamp_min(0)

    workers.map(shard, spans(x.shape[0], workers.n))
    return assign, sq_dist


def _move_points(x: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor, restarts: torch.Tensor,
                 before: torch.Tensor, after: torch.Tensor, workers: Workers) -> None:
    """Update the float64 cluster sums (R, k, d) and counts (R, k) of `restarts` in place from their
    assignments `before` to `after` (N, len(restarts)); before = -1 on a restart's first pass."""
    k = sums.shape[1]

    def update(j: int) -> None:
        r, new, old = int(restarts[j]), after[:, j], before[:, j]
        moved = (new != old).nonzero().squeeze(1)
        if bool(old[0] < 0) or moved.numel() * _MOVED_SHARE > x.shape[0]:
            # the first pass, or so many moved that summing every point is cheaper
            sums[r] = torch.zeros(k, x.shape[1]).index_add_(0, new, x).double()
            counts[r] = torch.bincount(new, minlength=k).double()
        elif moved.numel():
            points, new, old = x[moved], new[moved], old[moved]
            delta = torch.zeros(k, x.shape[1]).index_add_(0, new, points).index_add_(0, old, points, alpha=-1)
            sums[r] += delta.double()
            counts[r] += torch.bincount(new, minlength=k) - torch.bincount(old, minlength=k)

    workers.map(update, range(len(restarts)))


def _seed_plus_plus(x: torch.Tensor, x_sq: torch.Tensor, k: int, rngs: list, workers: Workers) -> torch.Tensor:
    """Greedy k-means++ centres for every restart at once: (R, k, d)."""
    n, r = x.shape[0], len(rngs)
    trials = 2 + int(math.log(k))
    first = torch.as_tensor([rng.integers(n) for rng in rngs])
    centres = [x[first]]  # list over centres of (R, d)
    # (N, R) squared distance from each point to its restart's nearest centre so far
    closest = _nearest(x, x[first][:, None, :], x_sq, workers)[1]
    for _ in range(1, k):
        weights = closest.double().numpy()
        picks = [_draw(rng, weights[:, j], trials) for j, rng in enumerate(rngs)]
        candidates = x[torch.as_tensor(np.concatenate(picks))].view(r, trials, -1)
        _, cand_dist = _nearest(x, candidates.view(r * trials, 1, -1), x_sq, workers)  # (N, R trials)
        merged = torch.minimum(closest.repeat_interleave(trials, dim=1), cand_dist).view(n, r, trials)
        best = merged.double().sum(dim=0).argmin(dim=1)  # (R,) candidate with the lowest potential
        centres.append(candidates[torch.arange(r), best])
        closest = merged[:, torch.arange(r), best]
    return torch.stack(centres, dim=1)


def _draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to weights (any point if all are zero)."""
    cumulative = np.cumsum(weights)
    if cumulative[-1] <= 0:
        return rng.integers(len(weights), size=size)
    return np.minimum(np.searchsorted(cumulative, rng.random(size) * cumulative[-1]), len(weights) - 1)


def kmeans(x: np.ndarray, k: int, seeds, *, max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL) -> dict:
    """The lowest-inertia run of k-means over one restart per seed.

    x: float32 (N, d). Returns {"assign" (N,) int64, "inertia" (float), "n_iter" (of that
    restart), "inertias" (every restart's, in seed order)}. The inertia is that of the
    returned assignment to the centroids it was made with.
    """
    return kmeans_runs(x, k, [seeds], max_iter=max_iter, tol=tol)[0]


def kmeans_runs(x: np.ndarray, k: int, seed_groups, *, max_iter: int = DEFAULT_MAX_ITER,
                tol: float = DEFAULT_TOL) -> list[dict]:
    """`kmeans` once per group of seeds, every group's restarts run together in one batch.

    Returns one `kmeans` result per group, in order: the lowest-inertia restart of that group.
    A restart depends on its own seed only, so each result is the one `kmeans(x, k, group)`
    gives (up to float rounding, which may differ with the batch's size).
    """
    groups = [list(group) for group in seed_groups]
    if not groups or not all(groups):
        raise ValueError("kmeans_runs needs at least one non-empty group of seeds")
    seeds = [seed for group in groups for seed in group]
    # Each worker's GEMM is single-threaded numpy: its OpenBLAS ran the distance GEMM 15% faster
    # than torch's MKL on the benchmark's CPU (AMD EPYC).
    with (threads_for(x.shape[0] * x.shape[1] * k * len(seeds)) as threads, threadpool_limits(1, user_api="blas"),
          Workers(threads) as workers):
        assign, inertia, n_iter = _restarts(torch.from_numpy(x), k, seeds, max_iter, tol, workers)
    results, start = [], 0
    for group in groups:
        span = slice(start, start + len(group))
        best = start + int(inertia[span].argmin())
        results.append({"assign": assign[:, best].numpy(), "inertia": float(inertia[best]),
                        "n_iter": int(n_iter[best]), "inertias": inertia[span].tolist()})
        start = span.stop
    return results


def _restarts(xt: torch.Tensor, k: int, seeds: list, max_iter: int, tol: float, workers: Workers):
    """Every restart's final assignment (N, R), inertia (R,) float64 and iterations (R,)."""
    xt = xt - xt.mean(dim=0)
    x_sq = (xt * xt).sum(dim=1)
    centroids = _seed_plus_plus(xt, x_sq, k, [np.random.default_rng(s) for s in seeds], workers)
    r, d = centroids.shape[0], xt.shape[1]
    assign = torch.full((xt.shape[0], r), -1, dtype=torch.int64)
    inertia = torch.full((r,), math.inf, dtype=torch.float64)
    sums, counts = torch.zeros(r, k, d, dtype=torch.float64), torch.zeros(r, k, dtype=torch.float64)
    n_iter = np.zeros(r, dtype=np.int64)
    active = torch.arange(r)
    for it in range(1, max_iter + 1):
        step_assign, sq_dist = _nearest(xt, centroids[active], x_sq, workers)
        step_inertia = sq_dist.double().sum(dim=0)
        before = assign[:, active]
        done = (step_assign == before).all(dim=0) | (inertia[active] - step_inertia <= tol * step_inertia)
        assign[:, active], inertia[active], n_iter[active.numpy()] = step_assign, step_inertia, it
        active = active[~done]
        if active.numel() == 0:
            break
        # Only the restarts that go on need new centroids.
        _move_points(xt, sums, counts, active, before[:, ~done], step_assign[:, ~done], workers)
        filled = counts[active] > 0  # an empty cluster keeps its centroid
        means = (sums[active] / counts[active].clamp_min(1)[..., None]).float()
        centroids[active] = torch.where(filled[..., None], means, centroids[active])
    return assign, inertia, n_iter
