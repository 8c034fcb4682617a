"""The ``folder:PATH`` image source: image files, labelled by class subfolders, split by
``train/`` and ``test/`` subfolders when there are any.

A split is read whole (:func:`load_folder`), file by file in training's DataLoader workers
(:class:`FolderDataset`), or a block of rows at a time for encoding (:func:`folder_rows`); all
three list the same files (:func:`folder_listing`) and decode them the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from .image_files import IMAGE_SUFFIXES, describe_skipped, image_files_in, read_image, read_or_skip
from .image_set import SPLITS, ImageSet
from .rows import FileRows

if TYPE_CHECKING:
    from ..config import DataConfig


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


def folder_listing(path: Path, split: str) -> tuple[Path, list[tuple[Path, int]], list[str]]:
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


def load_folder(cfg: DataConfig, split: str) -> ImageSet:
    """One split of ``cfg``'s folder, decoded whole into memory."""
    path, files, classes = folder_listing(cfg.path, split)
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


def folder_rows(cfg: DataConfig, split: str) -> FileRows:
    """One split of ``cfg``'s folder, decoded a block of rows at a time in the run's format."""
    _, files, classes = folder_listing(cfg.path, split)
    labels = np.array([label for _, label in files], dtype=np.int64) if classes else None
    return FileRows([f for f, _ in files], labels, (cfg.channels, cfg.image_size, cfg.image_size), cfg.skip_bad)


class FolderDataset(Dataset):
    """``folder:PATH`` decoded lazily, one file per item (in DataLoader workers).

    Every image is brought to the first image's channels and size unless --channels and
    --image-size fix them; a file that differs or cannot be read fails with its name.
    """

    def __init__(self, cfg: DataConfig, split: str = "train"):
        _, files, classes = folder_listing(cfg.path, split)
        self.files = [f for f, _ in files]
        self.ids = np.array([str(f) for f in self.files])  # as ImageSet's: the file paths
        self.labels = np.array([label for _, label in files], dtype=np.int64) if classes else None
        self.classes = classes or None
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
