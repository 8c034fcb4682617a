"""The ``npz:PATH`` image source: arrays ``x`` (N, H, W[, C]) and optional ``y``.

A test split lives in the same file as ``x_test`` / ``y_test``. uint8 arrays are taken as
[0, 255]; float arrays must lie in [0, 1]. Every malformed file is refused with its name.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import DataError


def _open(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable .npz file: {e}") from None


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)[:, :3]
    else:
        raise DataError(f"{path}: {key!r} must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; got {x.shape}")
    if len(x) == 0:
        raise DataError(f"{path}: {key!r} holds no images")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{path}: {key!r} has dtype {x.dtype}; use uint8 in [0, 255] or float in [0, 1]")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: {key!r} contains NaN or inf")
    if x.min() < 0 or x.max() > 1:
        raise DataError(f"{path}: float {key!r} must lie in [0, 1]; found [{x.min():g}, {x.max():g}]")
    return np.ascontiguousarray(np.rint(x * 255).astype(np.uint8))


def _labels(y: np.ndarray, n: int, path: Path, key: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{path}: {key!r} must have shape ({n},) to match the images; got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {key!r} has dtype {y.dtype}; labels must be integers")
    return y.astype(np.int64)


def read_image_npz(path: Path, split: str = "train"):
    from .data import ImageSet

    arrays = _open(path)
    x_key, y_key = ("x", "y") if split == "train" else ("x_test", "y_test")
    if x_key not in arrays:
        raise DataError(f"{path}: missing key {x_key!r} for the {split} split; keys present: {sorted(arrays) or 'none'}")
    images = _images(arrays[x_key], path, x_key)
    labels = _labels(arrays[y_key], len(images), path, y_key) if y_key in arrays else None
    return ImageSet(images, labels, np.arange(len(images)).astype(str))
