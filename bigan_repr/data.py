"""Image sources: a registry of named datasets plus ``folder:PATH`` and ``npz:PATH``.

Every source returns an :class:`ImageSet`: uint8 images (N, C, H, W) in [0, 255], int64 labels
when known, and string ids. Models see floats in [-1, 1] (:func:`to_model_range`); the uint8
form is what lives in memory (or on the training device), a quarter of the float size.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .config import DataConfig
from .errors import DataError
from .images import IMAGE_SUFFIXES, conform, image_files_in, read_image

SPLITS = ("train", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_DOWNLOAD_DIR = Path.home() / ".cache" / "bigan-repr"


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray | None  # int64 (N,) or None
    ids: np.ndarray  # str (N,): an index or a file path
    skipped: list[str] = field(default_factory=list)  # unreadable files passed over (--skip-bad)
    classes: list[str] | None = None  # class names by label (index = label), where the source has them

    def __len__(self) -> int:
        return len(self.images)

    def images_at(self, idx) -> np.ndarray:
        return self.images[np.asarray(idx)]


def to_model_range(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range G's tanh output lives in."""
    return images_u8.float().div_(127.5).sub_(1.0)


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


def _npz(path: Path, cfg: DataConfig, split: str) -> ImageSet:
    from .image_npz import read_image_npz  # here, not at the top: image_npz imports ImageSet

    return read_image_npz(path, split)


def _class_names(split_dirs: list[Path]) -> list[str]:
    """Sorted class-subfolder names, shared by the train/ and test/ splits when there are any.

    Hidden folders (.ipynb_checkpoints) are never classes. Taking the union keeps a class's
    label the same in both splits when one split lacks it.
    """
    names = {d.name for s in split_dirs for d in s.iterdir() if d.is_dir()}
    return sorted(n for n in names if not n.startswith("."))


def _folder_files(path: Path, split_dirs: list[Path]) -> tuple[list[tuple[Path, int]], list[str]]:
    """Image files of one split with their labels (-1 when unlabeled), and the class names (none
    when unlabelled).

    Hidden files and folders (.DS_Store, macOS ._x.png forks) are not data and are left out.
    """
    classes = _class_names(split_dirs)
    if classes:  # class subfolders give labels, in sorted name order
        dirs = [(path / c, label) for label, c in enumerate(classes) if (path / c).is_dir()]
        files = [(f, label) for d, label in dirs for f in image_files_in(d)]
    else:
        files = [(f, -1) for f in image_files_in(path)]
    if not files:
        raise DataError(f"image folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files, classes


def read_or_skip(path: Path, channels: int | None, size: int | None, skip_bad: bool,
                 skipped: list[str]) -> np.ndarray | None:
    """One image file decoded; unreadable, it raises naming --skip-bad, or with ``skip_bad`` is
    listed in ``skipped`` and None is returned. The one rule for training, encode and report."""
    try:
        return read_image(path, channels, size)
    except DataError as e:
        if not skip_bad:
            raise DataError(f"{e} (add --skip-bad to skip unreadable files)") from None
        skipped.append(str(path))
        return None


def describe_skipped(files: list[str], shown: int = 5) -> str:
    """'3 unreadable files: a.png, b.png, c.png' (the first ``shown`` names, then how many more)."""
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return f"{len(files)} unreadable file{'s' * (len(files) != 1)}: {', '.join(files[:shown])}{more}"


def _read_files(files: list[tuple[Path, int]], cfg: DataConfig):
    """Decode each file; unreadable ones raise, or with skip_bad are listed and passed over."""
    images, labels, ids, bad = [], [], [], []
    for f, label in files:
        img = read_or_skip(f, cfg.channels, cfg.image_size, cfg.skip_bad, bad)
        if img is None:
            continue
        images.append(img)
        labels.append(label)
        ids.append(str(f))
    return images, labels, ids, bad


def _folder_listing(path: Path, split: str) -> tuple[Path, list[tuple[Path, int]], list[str]]:
    """The split's folder, its image files with labels, and its class names (none when unlabelled)."""
    if not path.is_dir():
        raise DataError(f"image folder {path} does not exist or is not a folder")
    split_dirs = [path]
    if (path / "train").is_dir() and (path / split).is_dir():
        # a folder with train/ and test/ subfolders defines the splits
        split_dirs = [path / s for s in SPLITS if (path / s).is_dir()]
        path = path / split
    elif split != "train":
        raise DataError(
            f"image folder {path} has no {split}/ subfolder; it only gives a train split"
        )
    files, classes = _folder_files(path, split_dirs)
    return path, files, classes


def _folder(path: Path, cfg: DataConfig, split: str) -> ImageSet:
    path, files, classes = _folder_listing(path, split)
    images, labels, ids, bad = _read_files(files, cfg)
    if not images:
        raise DataError(f"image folder {path}: all {len(bad)} files were unreadable")
    shapes = sorted({im.shape for im in images})
    if len(shapes) > 1:
        shown = ", ".join(map(str, shapes[:4])) + (", ..." if len(shapes) > 4 else "")
        raise DataError(
            f"images in {path} differ in (channels, height, width): {shown}; "
            "pass --image-size (and --channels) to bring them to one shape"
        )
    lab = np.array(labels, dtype=np.int64) if classes else None
    if bad:
        print(f"--skip-bad: skipped {describe_skipped(bad)}", file=sys.stderr, flush=True)
    return ImageSet(np.stack(images), lab, np.array(ids), skipped=bad, classes=classes or None)


class FolderDataset(Dataset):
    """``folder:PATH`` decoded lazily, one file per item (in DataLoader workers).

    Every image is brought to the first image's channels and size unless --channels and
    --image-size fix them; a file that differs or cannot be read fails with its name.
    """

    def __init__(self, cfg: DataConfig, split: str = "train"):
        source = Path(cfg.source[len("folder:"):]).expanduser()
        _, files, classes = _folder_listing(source, split)
        self.files = [f for f, _ in files]
        self.labels = np.array([label for _, label in files], dtype=np.int64) if classes else None
        first = read_image(self.files[0], cfg.channels, cfg.image_size)
        self.shape: tuple[int, int, int] = tuple(first.shape)
        self.size = cfg.image_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        img = read_image(self.files[i], self.shape[0], self.size)
        if img.shape != self.shape:
            raise DataError(f"{self.files[i]} has shape {img.shape}, the folder's first image {self.shape}; "
                            "pass --image-size to bring all images to one size")
        return torch.from_numpy(img)

    def images_at(self, idx) -> np.ndarray:
        return np.stack([self[int(i)].numpy() for i in idx])


def load_images(cfg: DataConfig, split: str = "train") -> ImageSet:
    """Load one split of the configured source, conformed to its channels and image size."""
    if split not in SPLITS:
        raise DataError(f"split {split!r} is not valid; choose one of: {', '.join(SPLITS)}")
    source = cfg.source
    for prefix, loader in (("folder:", _folder), ("npz:", _npz)):
        if source.startswith(prefix):
            data = loader(Path(source[len(prefix):]).expanduser(), cfg, split)
            break
    else:
        if source not in SOURCES:
            valid = ", ".join([*SOURCES, "folder:PATH", "npz:PATH"])
            raise DataError(f"unknown data source {source!r}; valid: {valid}")
        data = SOURCES[source](cfg, split)
    data.images = conform(data.images, cfg.channels, cfg.image_size)
    return data
