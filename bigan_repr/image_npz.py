"""The ``npz:PATH`` image source: arrays ``x`` (N, H, W[, C]) and optional ``y``.

A test split lives in the same file as ``x_test`` / ``y_test``. uint8 arrays are taken as
[0, 255]; float arrays must lie in [0, 1]. Every malformed file is refused with its name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import ImageSet
from .errors import DataError


def _open(path: Path) -> dict[str, np.ndarray]:
    from eval.validation import EvalInputError, read_npz  # the one checked .npz reader

    if not path.is_file():
        raise DataError(f"npz file {path} does not exist")
    try:
        return read_npz(path)  # headers declaring more than the file holds are refused unread
    except EvalInputError as e:
        raise DataError(str(e)) from None


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    else:
        raise DataError(
            f"{path}: {key!r} must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
            f"got {x.shape}"
        )
    if len(x) == 0:
        raise DataError(f"{path}: {key!r} holds no images")
    x = _to_uint8(x, path, key)
    return np.ascontiguousarray(_flatten_alpha(x) if x.shape[1] == 4 else x)


def _to_uint8(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"{path}: {key!r} has dtype {x.dtype}; use uint8 in [0, 255] or float in [0, 1]"
        )
    if not np.isfinite(x).all():
        raise DataError(f"{path}: {key!r} contains NaN or inf")
    if x.min() < 0 or x.max() > 1:
        raise DataError(
            f"{path}: float {key!r} must lie in [0, 1]; found [{x.min():g}, {x.max():g}]"
        )
    return np.rint(x * 255).astype(np.uint8)


def _flatten_alpha(x: np.ndarray) -> np.ndarray:
    """RGBA (N, 4, H, W) -> RGB composited on white, as image files are (see images.py)."""
    alpha = x[:, 3:].astype(np.float32) / 255
    rgb = x[:, :3].astype(np.float32) * alpha + 255 * (1 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _labels(y: np.ndarray, n: int, path: Path, key: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"{path}: {key!r} must have shape ({n},) to match the images; got {y.shape}"
        )
    from eval.validation import EvalInputError, integer_labels  # one rule for labels everywhere

    try:
        y = integer_labels(y, f"{path}: {key!r}")
    except EvalInputError as e:
        raise DataError(str(e)) from None
    if n and y.min() < 0:  # labels index classes, so -1 "unlabeled" markers would wrap around
        raise DataError(f"{path}: {key!r} holds a negative label ({y.min()}); labels must be >= 0")
    return y.astype(np.int64)


def read_image_npz(path: Path, split: str = "train") -> ImageSet:
    """Read one split of an .npz file as an ImageSet (uint8 (N, C, H, W), int64 labels or None)."""
    arrays = _open(path)
    x_key, y_key = ("x", "y") if split == "train" else ("x_test", "y_test")
    if x_key not in arrays:
        present = ", ".join(sorted(arrays)) or "none"
        raise DataError(
            f"{path}: missing key {x_key!r} for the {split} split; keys present: {present}"
        )
    images = _images(arrays[x_key], path, x_key)
    labels = _labels(arrays[y_key], len(images), path, y_key) if y_key in arrays else None
    return ImageSet(images, labels, np.arange(len(images)).astype(str))
