"""Nearest-neighbour classification of frozen features.

Owns the two k-NN protocols: 1-NN with Euclidean distance (BiGAN paper,
Table 1) and DINO's weighted k-NN (L2-normalized features, cosine top-k, vote weight
exp(sim / T)). Both run on any index of eval.knn_index: exact search (no approximation in the
numbers) by default up to 200k training points, faiss's IVF or HNSW when asked for or above that.

Exact search is one float32 GEMM of test against training features, shared by both protocols:
the squared distance |q|^2 - 2 q.x + |x|^2 and the cosine q.x / (|q| |x|) come from the same dot
products (faiss's flat indexes compute them the same way, but each protocol needed its own
pass, and the GEMM is nearly all of the time). Query blocks run on worker threads
(eval.torch_threads.Workers), each GEMM single-threaded.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .knn_index import DEFAULT_INDEX, IndexSpec, NeighbourIndex, resolve_index
from .torch_threads import Workers, threads_for
from .validation import EvalInputError, check_features, check_pair

# Queries per faiss search call. faiss switches from its scalar loop to BLAS only for
# large enough query blocks, and streams the whole database once per call: measured on
# 60k x 50-d, 8k queries, 1 thread, 1024-query batches took 10-14 s vs 1.6 s for >= 4096.
# Our own per-batch buffers are only (B, k), so large batches cost little memory.
DEFAULT_BATCH_SIZE = 16384
DEFAULT_K = 20  # neighbours of the weighted vote (DINO's); eval.protocol.EvalProtocol takes it from here
DEFAULT_TEMPERATURE = 0.07  # the vote weight's T (DINO's)


def _check_knn_inputs(train_x, train_y, test_x, k: int):
    train_x, train_y = check_features(train_x, train_y, name="train features", require_labels=True)
    test_x, _ = check_features(test_x, name="test features")
    check_pair(train_x, test_x)
    if not 1 <= k <= train_x.shape[0]:
        raise EvalInputError(
            f"k={k} must be between 1 and the number of training points ({train_x.shape[0]})"
        )
    classes = np.unique(train_y)
    if classes.size < 2:
        raise EvalInputError(
            f"training labels hold {classes.size} class(es); k-NN needs at least 2"
        )
    return train_x, train_y, test_x, classes


def _weighted_votes(
    sims: np.ndarray, neighbour_cls: np.ndarray, n_classes: int, temperature: float
) -> np.ndarray:
    """Sum exp(sim / T) per class; (B, k) similarities -> (B, n_classes) votes."""
    b = sims.shape[0]
    # Float64 keeps exp(1 / 0.07) ~ 1.6e6 and its sums exact enough to rank classes.
    weights = np.exp(sims.astype(np.float64) / temperature)
    flat = (np.arange(b)[:, None] * n_classes + neighbour_cls).ravel()
    votes = np.bincount(flat, weights=weights.ravel(), minlength=b * n_classes)
    return votes.reshape(b, n_classes)


def weighted_vote(sims: np.ndarray, neighbour_labels: np.ndarray, classes: np.ndarray, temperature: float):
    """Weighted k-NN labels from (B, k) cosine similarities and the neighbours' labels.

    `classes` is the sorted array of every training label; the vote weight is exp(sim / T).
    """
    votes = _weighted_votes(sims, np.searchsorted(classes, neighbour_labels), classes.size, temperature)
    return classes[votes.argmax(axis=1)]


# Floats in one query block's (B, N) matrix of dot products (64 MiB): the block's rows.
_BLOCK_FLOATS = 1 << 24


@contextlib.contextmanager
def _threads(n: int):
    """`n` workers, each GEMM single-threaded. The GEMM is numpy's: its OpenBLAS ran these shapes
    15% faster than torch's MKL on the benchmark's CPU (AMD EPYC)."""
    with threadpool_limits(1, user_api="blas"), Workers(n) as workers:
        yield workers


def _exact_search(train_x, test_x, k: int | None, batch_size: int, *, nn1: bool = True):
    """Exact search of every test row: its Euclidean nearest training row (if `nn1`), and, if
    `k`, its k most cosine-similar training rows, best first.

    Returns (nn1 ids (Q,) or None, cosine similarities (Q, k) or None, their ids (Q, k) or None).
    """
    x = torch.from_numpy(train_x)
    queries = torch.from_numpy(test_x)
    x_norm = torch.linalg.vector_norm(x, dim=1)
    x_sq = x_norm * x_norm
    x_inv = 1.0 / x_norm.clamp_min(1e-12)  # an all-zero vector has similarity 0 to everything
    rows = max(1, min(batch_size, _BLOCK_FLOATS // x.shape[0]))
    starts = range(0, queries.shape[0], rows)

    @torch.no_grad()
    def block(start: int):
        q = queries[start : start + rows]
        dots = torch.from_numpy(test_x[start : start + rows] @ train_x.T)  # (B, N), see _threads
        nearest = torch.add(x_sq, dots, alpha=-2).argmin(dim=1) if nn1 else None  # |q|^2 left out
        if not k:
            return nearest, None, None
        sims, ids = dots.mul_(x_inv).topk(k, dim=1)
        q_inv = 1.0 / torch.linalg.vector_norm(q, dim=1).clamp_min(1e-12)
        return nearest, sims * q_inv[:, None], ids

    with threads_for(queries.shape[0] * x.shape[0] * x.shape[1]) as threads, _threads(threads) as workers:
        parts = workers.map(block, starts)
    nearest = torch.cat([p[0] for p in parts]).numpy() if nn1 else None
    if not k:
        return nearest, None, None
    return nearest, torch.cat([p[1] for p in parts]).numpy(), torch.cat([p[2] for p in parts]).numpy()


def _nn1_labels(train_x, train_y, test_x, spec: IndexSpec, batch_size: int) -> np.ndarray:
    if spec.kind == "flat":
        return train_y[_exact_search(train_x, test_x, None, batch_size)[0]]
    index = NeighbourIndex(train_x, "l2", spec)
    pred = np.empty(test_x.shape[0], dtype=np.int64)
    for start in range(0, test_x.shape[0], batch_size):
        _, idx = index.search(test_x[start : start + batch_size], 1)
        pred[start : start + len(idx)] = train_y[idx[:, 0]]
    return pred


def _weighted_knn_labels(
    train_x, train_y, test_x, classes, k: int, temperature: float, spec: IndexSpec, batch_size: int
) -> np.ndarray:
    index = NeighbourIndex(train_x, "cosine", spec)
    pred = np.empty(test_x.shape[0], dtype=np.int64)
    # Batches bound the (B, n_classes) vote buffers; faiss blocks the distance matrix.
    for start in range(0, test_x.shape[0], batch_size):
        sims, idx = index.search(test_x[start : start + batch_size], k)
        pred[start : start + len(idx)] = weighted_vote(sims, train_y[idx], classes, temperature)
    return pred


def nn1_predict(
    train_x, train_y, test_x, *, batch_size: int = DEFAULT_BATCH_SIZE, index: str = DEFAULT_INDEX
) -> np.ndarray:
    """1-NN labels under Euclidean distance (exact, faiss IndexFlatL2, unless `index` says otherwise)."""
    train_x, train_y, test_x, _ = _check_knn_inputs(train_x, train_y, test_x, 1)
    spec = resolve_index(index, train_x.shape[0], 1)
    return _nn1_labels(train_x, train_y, test_x, spec, batch_size)


def weighted_knn_predict(
    train_x, train_y, test_x, *, k: int = DEFAULT_K, temperature: float = DEFAULT_TEMPERATURE,
    index: str = DEFAULT_INDEX,
) -> np.ndarray:
    """Weighted k-NN labels alone (cosine, vote weight exp(sim / T)): the classifier of knn_classify
    without its 1-NN pass."""
    train_x, train_y, test_x, classes = _check_knn_inputs(train_x, train_y, test_x, k)
    spec = resolve_index(index, train_x.shape[0], k)
    return _weighted_knn_labels(train_x, train_y, test_x, classes, k, temperature, spec, DEFAULT_BATCH_SIZE)


def knn_classify(
    train_x,
    train_y,
    test_x,
    *,
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    index: str = DEFAULT_INDEX,
) -> dict:
    """Predict test labels with 1-NN (Euclidean) and weighted k-NN (cosine).

    `index` names the search index (eval.knn_index: "auto", "flat", "ivf", "hnsw", optionally
    with parameters such as "ivf:nprobe=64"). Returns {"nn1_pred", "knn_pred"} (int64 label
    arrays, same label values as train_y), plus the "k", "temperature" and "index" used
    (the resolved index with all its parameters, e.g. "flat" or "ivf:nlist=4000,nprobe=250").
    """
    train_x, train_y, test_x, classes = _check_knn_inputs(train_x, train_y, test_x, k)
    spec = resolve_index(index, train_x.shape[0], k)
    if spec.kind == "flat":  # one pass of exact search serves both protocols
        nearest, sims, ids = _exact_search(train_x, test_x, k, batch_size)
        return {"nn1_pred": train_y[nearest], "knn_pred": weighted_vote(sims, train_y[ids], classes, temperature),
                "k": k, "temperature": temperature, "index": str(spec)}
    return {
        "nn1_pred": _nn1_labels(train_x, train_y, test_x, spec, batch_size),
        "knn_pred": _weighted_knn_labels(
            train_x, train_y, test_x, classes, k, temperature, spec, batch_size
        ),
        "k": k,
        "temperature": temperature,
        "index": str(spec),
    }


def knn_eval(
    train_x, train_y, test_x, test_y, *, k: int = DEFAULT_K, temperature: float = DEFAULT_TEMPERATURE,
    index: str = DEFAULT_INDEX,
) -> dict:
    """Accuracies (fractions in [0, 1]) of 1-NN and weighted k-NN on the test set, and the index used."""
    test_x, test_y = check_features(test_x, test_y, name="test features", require_labels=True)
    preds = knn_classify(train_x, train_y, test_x, k=k, temperature=temperature, index=index)
    return {
        "nn1_acc": float(np.mean(preds["nn1_pred"] == test_y)),
        "knn_acc": float(np.mean(preds["knn_pred"] == test_y)),
        "k": k,
        "index": preds["index"],
    }
