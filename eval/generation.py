"""How good are G's samples? Improved precision and recall, and the classes the samples cover.

- Precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen & Aila, NeurIPS 2019): around every
  feature vector of a set, a ball reaching its k-th nearest neighbour in the same set (k = 3); the
  union of a set's balls estimates its support. Precision is the share of generated samples inside
  the real set's support (are samples realistic?), recall the share of real samples inside the
  generated set's support (is the data's variety covered?). Both lie in [0, 1]; identical sets give 1.
- Classes covered: how many classes a fixed classifier (``eval.pixel_reference``) finds among the
  samples, counting a class when at least MIN_CLASS_SHARE of the samples fall in it, so a handful of
  stray samples do not count as covering a class. A mode-collapsed G covers few. The classifier gives
  every input some class, noise included, so the count is also taken over the realistic samples alone
  (those inside the real support, which precision counts), their share still of all samples: a G of
  noise covers many classes and no realistic ones.

Feature vectors come in as arrays; which space they live in (one fixed per dataset) is the caller's
choice: ``eval.pixel_reference`` documents the one reports use.
"""

from __future__ import annotations

import numpy as np

from .validation import EvalInputError, check_features

K_BALL = 3  # the paper's k
MIN_CLASS_SHARE = 0.01  # a class is covered when at least 1% of the samples fall in it
_BLOCK = 1024  # query rows per distance block: a block is (1024, N) float64


def _squared_distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + b_sq[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def _ball_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row."""
    x_sq = (x * x).sum(1)
    radii = np.empty(len(x))
    for start in range(0, len(x), _BLOCK):
        d = _squared_distances(x[start : start + _BLOCK], x, x_sq)
        radii[start : start + len(d)] = np.partition(d, k, axis=1)[:, k]  # column 0 is the row itself
    return radii


def _inside(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each query lies in some ball (centre, radius)."""
    c_sq = (centres * centres).sum(1)
    hit = np.empty(len(queries), dtype=bool)
    for start in range(0, len(queries), _BLOCK):
        d = _squared_distances(queries[start : start + _BLOCK], centres, c_sq)
        hit[start : start + len(d)] = (d <= radii[None, :]).any(axis=1)
    return hit


def _checked_sets(real, fake, k: int) -> tuple[np.ndarray, np.ndarray]:
    real = check_features(real, name="real features")[0].astype(np.float64)
    fake = check_features(fake, name="generated features")[0].astype(np.float64)
    if real.shape[1] != fake.shape[1]:
        raise EvalInputError(f"real ({real.shape[1]}-d) and generated ({fake.shape[1]}-d) features differ in width")
    if min(len(real), len(fake)) <= k:
        raise EvalInputError(f"k = {k} balls need more than {k} vectors in each set, got {len(real)} and {len(fake)}")
    return real, fake


def realistic(real, fake, k: int = K_BALL) -> np.ndarray:
    """Whether each generated vector lies inside the real set's support (the samples precision counts)."""
    real, fake = _checked_sets(real, fake, k)
    return _inside(fake, real, _ball_radii(real, k))


def precision_recall(real, fake, k: int = K_BALL) -> dict[str, float]:
    """Improved precision and recall of the ``fake`` feature vectors against the ``real`` ones."""
    real, fake = _checked_sets(real, fake, k)
    precision = _inside(fake, real, _ball_radii(real, k)).mean()
    recall = _inside(real, fake, _ball_radii(fake, k)).mean()
    return {"precision": float(precision), "recall": float(recall), "k": k}


def _covered(predicted: np.ndarray, classes: list, n: int, min_share: float) -> int:
    return sum(int(np.sum(predicted == c)) >= min_share * n for c in classes)


def classes_covered(predicted, classes, min_share: float = MIN_CLASS_SHARE, realistic_mask=None) -> dict:
    """How many of ``classes`` hold at least ``min_share`` of the ``predicted`` labels, and each one's share;
    with ``realistic_mask`` also ``classes_covered_realistic``: the same count over the masked samples, a
    share still of all samples."""
    predicted, classes = np.asarray(predicted), np.asarray(classes).tolist()
    if predicted.size == 0:
        raise EvalInputError("classes covered needs at least one sample")
    shares = {str(c): round(float(np.mean(predicted == c)), 4) for c in classes}
    out = {"classes_covered": _covered(predicted, classes, predicted.size, min_share), "n_classes": len(classes),
           "min_class_share": min_share, "class_shares": shares}
    if realistic_mask is not None:
        mask = np.asarray(realistic_mask, dtype=bool)
        out["classes_covered_realistic"] = _covered(predicted[mask], classes, predicted.size, min_share)
    return out
