"""Nearest-neighbour classification of frozen features with faiss.

Owns the two k-NN protocols: 1-NN with Euclidean distance (BiGAN paper,
Table 1) and DINO's weighted k-NN (L2-normalized features, cosine top-k, vote weight
exp(sim / T)). Exact search (IndexFlatL2 / IndexFlatIP): no approximation in the numbers.
"""

from __future__ import annotations

import faiss
import numpy as np

from eval.validation import EvalInputError, check_features, check_pair

# Queries per faiss search call. faiss switches from its scalar loop to BLAS only for
# large enough query blocks, and streams the whole database once per call: measured on
# 60k x 50-d, 8k queries, 1 thread, 1024-query batches took 10-14 s vs 1.6 s for >= 4096.
# Our own per-batch buffers are only (B, k), so large batches cost little memory.
DEFAULT_BATCH_SIZE = 16384


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


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # An all-zero feature stays zero (similarity 0 to everything) instead of becoming NaN.
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


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


def _nn1_labels(train_x, train_y, test_x, batch_size: int) -> np.ndarray:
    index = faiss.IndexFlatL2(train_x.shape[1])
    index.add(train_x)
    pred = np.empty(test_x.shape[0], dtype=np.int64)
    for start in range(0, test_x.shape[0], batch_size):
        _, idx = index.search(test_x[start : start + batch_size], 1)
        pred[start : start + len(idx)] = train_y[idx[:, 0]]
    return pred


def _weighted_knn_labels(
    train_x, train_y, test_x, classes, k: int, temperature: float, batch_size: int
) -> np.ndarray:
    # Labels may be any integers; votes are indexed by position in `classes`.
    train_cls = np.searchsorted(classes, train_y)
    index = faiss.IndexFlatIP(train_x.shape[1])
    index.add(_l2_normalize(train_x))
    pred = np.empty(test_x.shape[0], dtype=np.int64)
    # Batches bound the (B, n_classes) vote buffers; faiss blocks the distance matrix.
    for start in range(0, test_x.shape[0], batch_size):
        sims, idx = index.search(_l2_normalize(test_x[start : start + batch_size]), k)
        votes = _weighted_votes(sims, train_cls[idx], classes.size, temperature)
        pred[start : start + len(idx)] = classes[votes.argmax(axis=1)]
    return pred


def nn1_predict(train_x, train_y, test_x, *, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
    """1-NN labels under Euclidean distance (exact, faiss IndexFlatL2)."""
    train_x, train_y, test_x, _ = _check_knn_inputs(train_x, train_y, test_x, 1)
    return _nn1_labels(train_x, train_y, test_x, batch_size)


def knn_classify(
    train_x,
    train_y,
    test_x,
    *,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict:
    """Predict test labels with 1-NN (Euclidean) and weighted k-NN (cosine).

    Returns {"nn1_pred", "knn_pred"} (int64 label arrays, same label values as train_y),
    plus the "k" and "temperature" used.
    """
    train_x, train_y, test_x, classes = _check_knn_inputs(train_x, train_y, test_x, k)
    return {
        "nn1_pred": _nn1_labels(train_x, train_y, test_x, batch_size),
        "knn_pred": _weighted_knn_labels(
            train_x, train_y, test_x, classes, k, temperature, batch_size
        ),
        "k": k,
        "temperature": temperature,
    }


def knn_eval(train_x, train_y, test_x, test_y, *, k: int = 20, temperature: float = 0.07) -> dict:
    """Accuracies (fractions in [0, 1]) of 1-NN and weighted k-NN on the test set."""
    test_x, test_y = check_features(test_x, test_y, name="test features", require_labels=True)
    preds = knn_classify(train_x, train_y, test_x, k=k, temperature=temperature)
    return {
        "nn1_acc": float(np.mean(preds["nn1_pred"] == test_y)),
        "knn_acc": float(np.mean(preds["knn_pred"] == test_y)),
        "k": k,
    }
