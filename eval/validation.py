"""Input checking for evaluation: feature arrays, labels and dumped feature files (.npz or shards).

Everything in `eval/` goes through these checks first, so that a bad feature dump fails
with one clear `EvalInputError` naming the problem (and the file) instead of a faiss
segfault or a scikit-learn traceback three calls deep.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


class EvalInputError(ValueError):
    """Evaluation input is unusable; the message says what is wrong and where."""


def _check_finite(x: np.ndarray, name: str) -> None:
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad_rows.size:
        raise EvalInputError(
            f"{name}: {bad_rows.size} of {x.shape[0]} rows contain NaN or inf "
            f"(first bad row index: {int(bad_rows[0])})"
        )


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise EvalInputError(f"{name} labels must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise EvalInputError(f"{name}: labels count {y.shape[0]} != features count {n}")
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.isfinite(y).all() and np.all(y == np.round(y)):
        # Float labels that hold whole numbers (e.g. saved via a float tensor) are accepted.
        return y.astype(np.int64)
    raise EvalInputError(f"{name}: labels must be integers, got dtype {y.dtype}")


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
    x = np.ascontiguousarray(x, dtype=np.float32)
    _check_finite(x, name)
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


def load_feature_file(path: str | os.PathLike, *, require_labels: bool = True) -> dict:
    """Read a feature file: an .npz with `features` (N, d), optional `labels` (N,) and `ids` (N,), or
    a shard folder written by `bigan encode --out DIR/` (its shards joined in row order).

    Any other keys (an .npz's other arrays, a manifest's fields) are returned under `meta`. Every
    error names the file.
    """
    from bigan_repr.feature_files import FeatureFileError, read_features  # the format's one owner; numpy only

    path = os.fspath(path)
    try:
        stored = read_features(path)
    except FeatureFileError as err:
        raise EvalInputError(str(err)) from None
    if require_labels and stored.labels is None:
        present = ["features", *(["ids"] if stored.ids is not None else []), *sorted(stored.meta)]
        raise EvalInputError(f"{path}: labels are required but the file has no 'labels' (present: {present})")
    features, labels = check_features(stored.features(), stored.labels, name=path)
    ids = stored.ids
    if ids is not None and (ids.ndim != 1 or ids.shape[0] != features.shape[0]):
        raise EvalInputError(
            f"{path}: ids shape {ids.shape} does not match features count {features.shape[0]}"
        )
    return {"features": features, "labels": labels, "ids": ids, "meta": stored.meta}
