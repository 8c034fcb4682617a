"""k-means with k-means++ seeding, all restarts run together, stopped on convergence (torch).

Owns the algorithm behind eval.clustering: greedy k-means++ seeding (scikit-learn's: 2 + ln k
candidates per centre, the one that lowers the potential most is kept) and Lloyd iterations
that stop when no point changes cluster or the inertia falls by less than a relative `tol`.
The restarts share every pass over the data: their centroids are stacked into one (R k, d)
matrix, so each pass is one GEMM for the distances and one for the new centroid sums, taken
over row blocks to bound memory. A restart that has converged leaves the batch.

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

from eval.torch_threads import threads_for

DEFAULT_MAX_ITER = 300
DEFAULT_TOL = 1e-4
# Rows per block: a block's (rows, R k) distance and one-hot matrices hold at most 2^24 floats.
_BLOCK_FLOATS = 1 << 24


def _row_blocks(n: int, width: int):
    """Slices of at most max(1024, 2^24 / width) rows covering range(n)."""
    rows = max(1024, _BLOCK_FLOATS // max(width, 1))
    return (slice(start, min(start + rows, n)) for start in range(0, n, rows))


def _nearest(x: torch.Tensor, centroids: torch.Tensor, x_sq: torch.Tensor):
    """Per restart, each point's nearest centroid and squared distance.

    x (N, d), centroids (R, k, d) -> assign (N, R) int64, sq_dist (N, R) float32.
    """
    r, k, d = centroids.shape
    flat = centroids.reshape(r * k, d)
    c_sq = (flat * flat).sum(dim=1)
    assign = torch.empty(x.shape[0], r, dtype=torch.int64)
    sq_dist = torch.empty(x.shape[0], r)
    for rows in _row_blocks(x.shape[0], r * k):
        dist = torch.addmm(c_sq, x[rows], flat.T, alpha=-2).view(-1, r, k)  # (B, R, k), less |x|^2
        best, assign[rows] = dist.min(dim=2)
        sq_dist[rows] = (best + x_sq[rows, None]).clamp_min(0)
    return assign, sq_dist


def _centroid_sums(x: torch.Tensor, assign: torch.Tensor, k: int):
    """Per restart and cluster, the sum and count of its points: (R, k, d), (R, k)."""
    r = assign.shape[1]
    sums = torch.zeros(r * k, x.shape[1])
    counts = torch.zeros(r * k)
    offsets = torch.arange(r) * k
    for rows in _row_blocks(x.shape[0], r * k):
        one_hot = torch.zeros(rows.stop - rows.start, r * k)  # R ones per row, one per restart
        one_hot.scatter_(1, assign[rows] + offsets, 1.0)
        sums += one_hot.T @ x[rows]
        counts += one_hot.sum(dim=0)
    return sums.view(r, k, -1), counts.view(r, k)


def _seed_plus_plus(x: torch.Tensor, x_sq: torch.Tensor, k: int, rngs: list) -> torch.Tensor:
    """Greedy k-means++ centres for every restart at once: (R, k, d)."""
    n, r = x.shape[0], len(rngs)
    trials = 2 + int(math.log(k))
    first = torch.as_tensor([rng.integers(n) for rng in rngs])
    centres = [x[first]]  # list over centres of (R, d)
    # (N, R) squared distance from each point to its restart's nearest centre so far
    closest = _nearest(x, x[first][:, None, :], x_sq)[1]
    for _ in range(1, k):
        weights = closest.double().numpy()
        picks = [_draw(rng, weights[:, j], trials) for j, rng in enumerate(rngs)]
        candidates = x[torch.as_tensor(np.concatenate(picks))].view(r, trials, -1)
        _, cand_dist = _nearest(x, candidates.view(r * trials, 1, -1), x_sq)  # (N, R trials)
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
    with threads_for(x.shape[0] * x.shape[1] * k * len(seeds)):
        assign, inertia, n_iter = _restarts(torch.from_numpy(x), k, seeds, max_iter, tol)
    results, start = [], 0
    for group in groups:
        span = slice(start, start + len(group))
        best = start + int(inertia[span].argmin())
        results.append({"assign": assign[:, best].numpy(), "inertia": float(inertia[best]),
                        "n_iter": int(n_iter[best]), "inertias": inertia[span].tolist()})
        start = span.stop
    return results


def _restarts(xt: torch.Tensor, k: int, seeds: list, max_iter: int, tol: float):
    """Every restart's final assignment (N, R), inertia (R,) float64 and iterations (R,)."""
    xt = xt - xt.mean(dim=0)
    x_sq = (xt * xt).sum(dim=1)
    centroids = _seed_plus_plus(xt, x_sq, k, [np.random.default_rng(s) for s in seeds])
    r = centroids.shape[0]
    assign = torch.full((xt.shape[0], r), -1, dtype=torch.int64)
    inertia = torch.full((r,), math.inf, dtype=torch.float64)
    n_iter = np.zeros(r, dtype=np.int64)
    active = torch.arange(r)
    for it in range(1, max_iter + 1):
        step_assign, sq_dist = _nearest(xt, centroids[active], x_sq)
        step_inertia = sq_dist.double().sum(dim=0)
        done = (step_assign == assign[:, active]).all(dim=0) | (inertia[active] - step_inertia <= tol * step_inertia)
        assign[:, active], inertia[active], n_iter[active.numpy()] = step_assign, step_inertia, it
        sums, counts = _centroid_sums(xt, step_assign, k)
        filled = counts > 0  # an empty cluster keeps its centroid
        centroids[active] = torch.where(filled[..., None], sums / counts.clamp_min(1)[..., None], centroids[active])
        active = active[~done]
        if active.numel() == 0:
            break
    return assign, inertia, n_iter
