"""Image sources: a registry of named datasets and a table of file sources (``folder:PATH``,
``npz:PATH``), the one place that says how a configured source is read.

Every source gives an :class:`~bigan_repr.data.image_set.ImageSet` for a whole split
(:func:`load_images`), and the same rows a block at a time (:func:`open_rows`); a file source
that can be decoded file by file also gives training a lazily decoded dataset
(:func:`lazy_dataset`).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch.utils.data import Dataset

from ..errors import DataError
from . import catalog
from .folder import FolderDataset, folder_rows, load_folder
from .image_files import conform
from .image_set import SPLITS, ImageSet
from .npz_source import load_npz, npz_rows
from .rows import ArrayRows, ImageRows

if TYPE_CHECKING:
    from ..config import DataConfig

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_DOWNLOAD_DIR = Path.home() / ".cache" / "bigan-repr"


# ---- registry sources --------------------------------------------------------------------


def _digits(cfg: DataConfig, split: str) -> ImageSet:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (1797, 1, 8, 8)
    idx = np.arange(len(images))
    # a fixed, stratified 80/20 split: the same for every run and every user
    train_idx, test_idx = train_test_split(idx, test_size=0.2, random_state=0, stratify=d.target)
    idx = np.sort(train_idx if split == "train" else test_idx)
    return ImageSet(images[idx], d.target[idx].astype(np.int64), idx.astype(str),
                    classes=[str(name) for name in d.target_names])


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), the format of (Fashion-)MNIST."""
    try:
        with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: its header is cut short")
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, expected {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find_idx(folder: Path, stem: str) -> Path | None:
    # the Debian package's flat layout first, then torchvision's ROOT/FashionMNIST/raw/
    for where in (folder, folder / "FashionMNIST" / "raw"):
        for candidate in (where / f"{stem}.gz", where / stem):
            if candidate.is_file():
                return candidate
    return None


def _fashion_mnist(cfg: DataConfig, split: str) -> ImageSet:
    prefix = "train" if split == "train" else "t10k"
    folders = [Path(cfg.data_dir)] if cfg.data_dir else [DEBIAN_FASHION_MNIST, DEFAULT_DOWNLOAD_DIR]
    for folder in folders:
        images_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
        labels_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        if images_path and labels_path:
            images, labels = _read_idx(images_path), _read_idx(labels_path)
            if len(images) != len(labels):
                raise DataError(
                    f"{images_path} has {len(images)} images but {labels_path} "
                    f"has {len(labels)} labels"
                )
            ids = np.arange(len(images)).astype(str)
            from torchvision.datasets import FashionMNIST  # its class names, in label order

            return ImageSet(images[:, None].copy(), labels.astype(np.int64), ids, classes=list(FashionMNIST.classes))
    if cfg.download:
        return _torchvision(cfg, split, "FashionMNIST")
    raise DataError(
        f"Fashion-MNIST {split} files not found in {', '.join(map(str, folders))}. Get them with "
        "`apt-get install dataset-fashion-mnist` (Debian), pass --data-dir to a folder holding the "
        "four IDX files, or add --download to fetch them with torchvision."
    )


def _torchvision(cfg: DataConfig, split: str, name: str) -> ImageSet:
    import torchvision.datasets as tvd

    root = Path(cfg.data_dir) if cfg.data_dir else DEFAULT_DOWNLOAD_DIR
    cls = getattr(tvd, name)
    kwargs = {"split": split} if name in ("SVHN", "STL10") else {"train": split == "train"}
    try:
        ds = cls(root=str(root), download=cfg.download, **kwargs)
    except (RuntimeError, OSError) as e:
        # torchvision's own advice ("download=True") is a Python argument; name the CLI flag
        how = (
            "check the network connection" if cfg.download
            else "add --download to fetch it, or pass --data-dir to a folder that holds it"
        )
        raise DataError(f"{name} ({split}) is not available in {root} ({e}); {how}.") from None
    images = np.asarray(ds.data)
    if images.ndim == 3:  # (N, H, W) grayscale
        images = images[:, None]
    elif images.shape[-1] == 3:  # (N, H, W, C) -> (N, C, H, W)
        images = images.transpose(0, 3, 1, 2)
    labels = np.asarray(ds.targets if hasattr(ds, "targets") else ds.labels)  # SVHN, STL10: labels
    images = np.ascontiguousarray(images, dtype=np.uint8)
    classes = list(getattr(ds, "classes", None) or []) or None  # CIFAR-10, STL-10, MNIST; SVHN has none
    return ImageSet(images, labels.astype(np.int64), np.arange(len(images)).astype(str), classes=classes)


SOURCES: dict[str, Callable[[DataConfig, str], ImageSet]] = {
    "digits": _digits,
    "fashion-mnist": _fashion_mnist,
    "mnist": lambda cfg, split: _torchvision(cfg, split, "MNIST"),
    "cifar10": lambda cfg, split: _torchvision(cfg, split, "CIFAR10"),
    "svhn": lambda cfg, split: _torchvision(cfg, split, "SVHN"),
    "stl10": lambda cfg, split: _torchvision(cfg, split, "STL10"),
}


# ---- file sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSource:
    """A source read from the path after its name, as ``NAME:PATH``; each reader takes (cfg, split)
    and finds the path as ``cfg.path``."""

    load: Callable[[DataConfig, str], ImageSet]  # one split, whole, in memory
    rows: Callable[[DataConfig, str], ImageRows]  # one split a block of rows at a time (encode)
    lazy: Callable[[DataConfig, str], Dataset] | None = None  # decoded file by file in training's workers


FILE_SOURCES: dict[str, FileSource] = {
    "folder": FileSource(load_folder, folder_rows, lazy=FolderDataset),
    "npz": FileSource(load_npz, npz_rows),
}
# the catalog names every source once; each name has its reader here, and nothing more
assert tuple(SOURCES) == catalog.NAMED_SOURCES
assert {name: s.lazy is not None for name, s in FILE_SOURCES.items()} == catalog.FILE_SOURCES


def _file_source(source: str) -> FileSource | None:
    name = catalog.file_source(source)
    return None if name is None else FILE_SOURCES[name]




def load_images(cfg: DataConfig, split: str = "train") -> ImageSet:
    """Load one split of the configured source, conformed to its channels and image size."""
    if split not in SPLITS:
        raise DataError(f"split {split!r} is not valid; choose one of: {', '.join(SPLITS)}")
    found = _file_source(cfg.source)
    if found is None and cfg.source not in SOURCES:
        raise DataError(f"unknown data source {cfg.source!r}; valid: {', '.join(catalog.source_names())}")
    data = found.load(cfg, split) if found else SOURCES[cfg.source](cfg, split)
    data.images = conform(data.images, cfg.channels, cfg.image_size)
    return data


def open_rows(cfg: DataConfig, split: str = "train") -> ImageRows:
    """One split of ``cfg.source`` as rows; ``cfg.channels`` and ``cfg.image_size`` must be set."""
    found = _file_source(cfg.source)
    return found.rows(cfg, split) if found else ArrayRows(load_images(cfg, split))


def lazy_dataset(cfg: DataConfig, split: str = "train") -> Dataset:
    """One split decoded file by file, for a source that can be (``cfg.lazy``)."""
    return _file_source(cfg.source).lazy(cfg, split)
