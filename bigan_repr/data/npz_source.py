"""The ``npz:PATH`` image source: arrays ``x`` (N, H, W[, C]) and optional ``y``.

A test split lives in the same file as ``x_test`` / ``y_test``. uint8 arrays are taken as
[0, 255]; float arrays must lie in [0, 1]; RGBA is composited on white by the rule image files
follow. Every malformed file is refused with its name. A split is read whole
(:func:`load_npz`) or a block of rows at a time (:func:`npz_rows`).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError
from .image_files import composite_on_white, conform
from .image_set import ImageSet, RowBlock
from .npz_archive import check_declared_size, read_npz
from .pixel_bounds import finite_pixels

if TYPE_CHECKING:
    from ..config import DataConfig


def _open(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"npz file {path} does not exist")
    return read_npz(path)  # headers declaring more than the file holds are refused unread


def _check_shape(shape: tuple[int, ...], path: Path, key: str) -> None:
    if not (len(shape) == 3 or (len(shape) == 4 and shape[-1] in (1, 3, 4))):
        raise DataError(
            f"{path}: {key!r} must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
            f"got {shape}"
        )
    if shape[0] == 0:
        raise DataError(f"{path}: {key!r} holds no images")
    if min(shape[1:3]) == 0:
        raise DataError(f"{path}: {key!r} holds images of no pixels (shape {shape})")


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    _check_shape(x.shape, path, key)
    # (N, H, W) -> (N, 1, H, W); (N, H, W, C) -> (N, C, H, W)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    x = _to_uint8(x, path, key)
    return np.ascontiguousarray(composite_on_white(x) if x.shape[1] == 4 else x)


def _to_uint8(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"{path}: {key!r} has dtype {x.dtype}; use uint8 in [0, 255] or float in [0, 1]"
        )
    finite_pixels(x, f"{path}: {key!r}")  # the rule image files follow too
    if x.min() < 0 or x.max() > 1:
        raise DataError(
            f"{path}: float {key!r} must lie in [0, 1]; found [{x.min():g}, {x.max():g}]"
        )
    return np.rint(x * 255).astype(np.uint8)


def _labels(y: np.ndarray, n: int, path: Path, key: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"{path}: {key!r} must have shape ({n},) to match the images; got {y.shape}"
        )
    from bigan_repr.eval.validation import EvalInputError, integer_labels  # one rule for labels everywhere

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


def load_npz(cfg: DataConfig, split: str) -> ImageSet:
    """One split of ``cfg``'s .npz file, read whole into memory."""
    return read_image_npz(cfg.path, split)


def npz_rows(cfg: DataConfig, split: str) -> NpzRows:
    """One split of ``cfg``'s .npz file, read a block of rows at a time in the run's format."""
    return NpzRows(cfg.path, split, cfg.channels, cfg.image_size)


# ---- reading a block of rows at a time ---------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature .. name and extra lengths
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _split_keys(split: str) -> tuple[str, str]:
    return ("x", "y") if split == "train" else ("x_test", "y_test")


class NpzRows:
    """One split of an ``npz:`` file read a block of rows at a time, never the whole array.

    Members stored uncompressed (``np.savez``) are memory-mapped where they sit inside the zip
    archive (``np.load(mmap_mode=...)`` cannot map into an archive): each block maps its own rows
    and drops the mapping once copied, so memory holds one block. Compressed members
    (``np.savez_compressed``) cannot be mapped; they are decompressed as a stream, which costs one
    pass for blocks read in order, as encoding reads them (a block before the last one read starts
    the stream over). Labels are small and read whole.
    """

    def __init__(self, path: Path, split: str, channels: int | None, size: int | None):
        self.path, self.channels, self.size = path, channels, size
        self.key, y_key = _split_keys(split)
        if not path.is_file():
            raise DataError(f"npz file {path} does not exist")
        try:
            self._zip = zipfile.ZipFile(path)
            names = {n.removesuffix(".npy"): n for n in self._zip.namelist()}
            if self.key not in names:
                present = ", ".join(sorted(names)) or "none"
                raise DataError(f"{path}: missing key {self.key!r} for the {split} split; keys present: {present}")
            self._layout(self._zip.getinfo(names[self.key]))
            self.labels = self._read_labels(names[y_key], y_key) if y_key in names else None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"{path} is not a readable .npz file: {e}") from None

    def _layout(self, info: zipfile.ZipInfo) -> None:
        """Shape and dtype of the member, and where its rows start (a file offset when stored)."""
        check_declared_size(self._zip, info, self.path)  # before any row is mapped or read
        self._stream = self._zip.open(info)
        version = np.lib.format.read_magic(self._stream)
        if version not in _HEADER_READERS:
            raise DataError(f"{self.path}: {self.key!r} uses .npy format version {version}, not 1.0 or 2.0")
        shape, fortran, self.dtype = _HEADER_READERS[version](self._stream)
        _check_shape(shape, self.path, self.key)
        if self.dtype != np.uint8 and not np.issubdtype(self.dtype, np.floating):
            raise DataError(
                f"{self.path}: {self.key!r} has dtype {self.dtype}; use uint8 in [0, 255] or float in [0, 1]"
            )
        self.shape, self._start = shape, self._stream.tell()
        self._offset = None  # file offset of row 0 when the member can be mapped
        if info.compress_type == zipfile.ZIP_STORED and not fortran:
            with open(self.path, "rb") as f:
                f.seek(info.header_offset)
                signature, name_len, extra_len = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
            if signature == b"PK\x03\x04":
                self._offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len + self._start
        # a Fortran-ordered array's rows are not contiguous: read it whole, as load_images does
        self._whole = np.lib.format.read_array(self._zip.open(info)) if fortran else None

    def _read_labels(self, member: str, key: str) -> np.ndarray:
        """The labels, their header checked first: a shape other than (N,) is refused unread."""
        shape, _ = check_declared_size(self._zip, self._zip.getinfo(member), self.path)
        if shape != (len(self),):
            raise DataError(f"{self.path}: {key!r} must have shape ({len(self)},) to match the images; got {shape}")
        with self._zip.open(member) as f:
            return _labels(np.lib.format.read_array(f, allow_pickle=False), len(self), self.path, key)

    def __len__(self) -> int:
        return self.shape[0]

    def _raw(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as stored: (n, H, W[, C])."""
        if self._whole is not None:
            return self._whole[start:stop]
        rest = self.shape[1:]
        row_bytes = int(np.prod(rest)) * self.dtype.itemsize
        if self._offset is not None:
            mapped = np.memmap(self.path, self.dtype, "r", self._offset + start * row_bytes, (stop - start, *rest))
            return np.array(mapped)  # a copy: the mapping goes with `mapped`, and the pages with it
        self._stream.seek(self._start + start * row_bytes)
        raw = self._stream.read((stop - start) * row_bytes)
        if len(raw) != (stop - start) * row_bytes:
            raise DataError(f"{self.path}: {self.key!r} is truncated")
        return np.frombuffer(raw, self.dtype).reshape(stop - start, *rest)

    def read(self, start: int, stop: int) -> RowBlock:
        images = conform(_images(self._raw(start, stop), self.path, self.key), self.channels, self.size)
        labels = None if self.labels is None else self.labels[start:stop]
        return RowBlock(images, labels, np.arange(start, stop).astype(str))

    def images_for(self, positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
        order = np.argsort(positions, kind="stable")  # in file order, so a compressed stream never restarts
        images = [self.read(int(i), int(i) + 1).images[0] for i in np.asarray(positions)[order]]
        return np.stack(images)[np.argsort(order)]
