"""Input checking for evaluation: feature arrays and labels.

Everything in `eval/` goes through these checks first, so that bad features fail with one
clear `EvalInputError` naming the problem instead of a faiss segfault or a scikit-learn
traceback three calls deep. Reading feature files is the caller's (bigan_repr.features.files).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class EvalInputError(ValueError):
    """Evaluation input is unusable; the message says what is wrong and where."""


_EXACT_FLOAT_INT = 2**53  # float64 represents every integer up to here, and not all beyond
# The largest feature magnitude evaluated. k-NN search, k-means and the probe work in float32 (largest
# finite value 3.4e38) on squared distances and dot products: over d dimensions a squared distance is at
# most d * (2 * 1e15)**2 = 4e30 * d, finite for every d below 8.5e7 (far wider than any feature here).
# Beyond the bound distances can become inf, every neighbour ties, and results are wrong without a
# word (1-NN fell from 96% to 10% with features around 1e20), so such features are refused, not scaled.
MAX_ABS_FEATURE = 1e15


def _check_finite(x: np.ndarray, name: str) -> None:
    """No NaN or inf, and no magnitude beyond MAX_ABS_FEATURE (checked as given, before float32)."""
    if x.dtype.kind == "f":
        bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if bad_rows.size:
            raise EvalInputError(
                f"{name}: {bad_rows.size} of {x.shape[0]} rows contain NaN or inf "
                f"(first bad row index: {int(bad_rows[0])})"
            )
    largest = max(abs(float(x.max())), abs(float(x.min())))
    if largest > MAX_ABS_FEATURE:
        raise EvalInputError(
            f"{name}: largest magnitude {largest:.3g} is beyond {MAX_ABS_FEATURE:g}, where squared distances "
            "overflow float32 and neighbours tie; scale the features down"
        )


def integer_labels(labels: Any, name: str) -> np.ndarray:
    """Labels as int64 class ids, refused unless every value is exactly an integer.

    Integer dtypes must fit int64. Float labels (e.g. saved via a float tensor) must be whole
    numbers within ±2**53, where float64 still tells neighbouring integers apart; beyond that,
    and beyond int64, distinct labels such as 1e20 and 2e20 would silently merge in the cast.
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "iuf":
        raise EvalInputError(f"{name}: labels must be integers, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        exact = np.isfinite(y) & (y == np.round(y)) & (np.abs(y) <= _EXACT_FLOAT_INT)
    else:
        exact = y <= np.iinfo(np.int64).max
    if not exact.all():
        raise EvalInputError(
            f"{name}: label {y[~exact][0].item()!r} is not an integer a class id can hold exactly (floats: "
            f"whole numbers within ±2**53; integers: within int64); labels must be integers, exactly"
        )
    return y.astype(np.int64)


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise EvalInputError(f"{name} labels must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise EvalInputError(f"{name}: labels count {y.shape[0]} != features count {n}")
    return integer_labels(y, name)


def check_features(
    features: Any,
    labels: Any = None,
    *,
    name: str = "features",
    require_labels: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate and normalize one feature matrix (and its labels).

    Returns float32 C-contiguous features (what faiss needs) and int64 labels or None.
    """
    try:
        x = np.asarray(features)
    except (TypeError, ValueError) as err:
        raise EvalInputError(f"{name}: cannot convert to an array ({err})") from err
    if x.ndim != 2:
        raise EvalInputError(f"{name} must be 2-D (N, d), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise EvalInputError(f"{name} is empty, shape {x.shape}")
    if x.dtype.kind not in "iuf":
        raise EvalInputError(f"{name} must be numeric, got dtype {x.dtype}")
    _check_finite(x, name)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if labels is None:
        if require_labels:
            raise EvalInputError(f"{name}: labels are required but missing")
        return x, None
    return x, _check_labels(labels, x.shape[0], name)


def check_pair(train: np.ndarray, test: np.ndarray) -> None:
    """Train and test features must live in the same space."""
    d_train, d_test = np.shape(train)[-1], np.shape(test)[-1]
    if d_train != d_test:
        raise EvalInputError(f"feature dims differ: train has dim {d_train}, test has dim {d_test}")
