"""Input checking for evaluation: feature arrays, labels and dumped feature files.

Everything in `eval/` goes through these checks first, so that a bad feature dump fails
with one clear `EvalInputError` naming the problem (and the file) instead of a faiss
segfault or a scikit-learn traceback three calls deep.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Any

import numpy as np


class EvalInputError(ValueError):
    """Evaluation input is unusable; the message says what is wrong and where."""


_EXACT_FLOAT_INT = 2**53  # float64 represents every integer up to here, and not all beyond


def _check_finite(x: np.ndarray, name: str) -> None:
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if bad_rows.size:
        raise EvalInputError(
            f"{name}: {bad_rows.size} of {x.shape[0]} rows contain NaN or inf "
            f"(first bad row index: {int(bad_rows[0])})"
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


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz archive, each refused by its header before it is read when the
    size it declares differs from the bytes stored for it or exceeds this machine's memory: a
    forged header never makes the reader allocate more than the file holds."""
    path = os.fspath(path)
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                npy = f.read(6) == b"\x93NUMPY"
            raise EvalInputError(f"{path}: a bare .npy array, not an .npz archive" if npy else
                                 f"{path}: not a valid .npz file (not a zip archive)")
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                _check_declared_size(archive, info, path)
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except EvalInputError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        # allow_pickle=False makes pickled/object data raise ValueError: reported here too.
        raise EvalInputError(f"{path}: not a valid .npz file ({err})") from err


def _check_declared_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> None:
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(f)
        stored = info.file_size - f.tell()
    name = info.filename.removesuffix(".npy")
    if dtype.hasobject:
        raise EvalInputError(f"{path}: array {name!r} holds Python objects, which are never unpickled")
    declared = math.prod(shape) * dtype.itemsize
    if declared != stored:
        raise EvalInputError(f"{path}: array {name!r} declares shape {shape} of {dtype} ({declared} bytes), "
                             f"but the file holds {stored} bytes for it")
    if declared > _memory_bytes():
        raise EvalInputError(f"{path}: array {name!r} declares {declared / 2**30:.1f} GiB, more than this "
                             f"machine's memory")


def _memory_bytes() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit beyond the stored size
        return math.inf


def _open_npz(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise EvalInputError(f"feature file not found: {path}")
    return read_npz(path)


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
