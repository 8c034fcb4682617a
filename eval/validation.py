"""Input checking for evaluation: feature arrays, labels and dumped feature files.

Everything in `eval/` goes through these checks first, so that a bad feature dump fails
with one clear `EvalInputError` naming the problem (and the file) instead of a faiss
segfault or a scikit-learn traceback three calls deep.
"""

from __future__ import annotations

import os
import zipfile
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


def _open_npz(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise EvalInputError(f"feature file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise EvalInputError(f"{path}: not an .npz archive (a bare .npy array?)")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except EvalInputError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        # allow_pickle=False makes pickled/object data raise ValueError: reported here too.
        raise EvalInputError(f"{path}: not a valid .npz file ({err})") from err


def load_feature_file(path: str | os.PathLike, *, require_labels: bool = True) -> dict:
    """Read an .npz with `features` (N, d), optional `labels` (N,) and `ids` (N,).

    Any other keys are returned under `meta`. Every error names the file.
    """
    path = os.fspath(path)
    arrays = _open_npz(path)
    if "features" not in arrays:
        raise EvalInputError(f"{path}: missing 'features' key (keys present: {sorted(arrays)})")
    if require_labels and "labels" not in arrays:
        raise EvalInputError(
            f"{path}: labels are required but the file has no 'labels' key "
            f"(keys present: {sorted(arrays)})"
        )
    features, labels = check_features(arrays.pop("features"), arrays.pop("labels", None), name=path)
    ids = arrays.pop("ids", None)
    if ids is not None and (ids.ndim != 1 or ids.shape[0] != features.shape[0]):
        raise EvalInputError(
            f"{path}: ids shape {ids.shape} does not match features count {features.shape[0]}"
        )
    return {"features": features, "labels": labels, "ids": ids, "meta": arrays}
