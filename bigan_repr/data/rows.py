"""Images read a block of rows at a time, for encoding datasets larger than memory.

Every source gives the same thing as ``sources.load_images`` would, block by block: uint8 images
(n, C, H, W) already in the run's channels and size, their labels and ids. Image files are decoded
file by file (:class:`FileRows`); ``npz:`` arrays are memory-mapped (``npz_source.NpzRows``); the
named datasets, which are loaded whole anyway, are sliced in memory (:class:`ArrayRows`).
``sources.open_rows`` picks the reader of a configured source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from .image_files import read_image, read_or_skip
from .image_set import ImageSet, RowBlock


class ImageRows(Protocol):
    labels: np.ndarray | None  # int64 (N,): small beside the images, so held whole

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> RowBlock:
        """Rows [start, stop); a source that skips unreadable files may return fewer."""
        ...

    def images_for(self, positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """uint8 (n, C, H, W) of the rows a feature file holds at ``positions`` with ``ids``."""
        ...


class ArrayRows:
    """An ImageSet already in memory."""

    def __init__(self, data: ImageSet):
        self.data, self.labels = data, data.labels

    def __len__(self) -> int:
        return len(self.data)

    def read(self, start: int, stop: int) -> RowBlock:
        labels = None if self.labels is None else self.labels[start:stop]
        return RowBlock(self.data.images[start:stop], labels, self.data.ids[start:stop])

    def images_for(self, positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.data.images[np.asarray(positions)]


class FileRows:
    """Image files decoded when read, converted as in training; ids are the file paths.

    With ``skip_bad`` (a run trained with --skip-bad) an unreadable file is left out of its block
    and listed in ``skipped``; otherwise it stops the read with its name, and with the advice of
    --skip-bad only where the command has it (``skip_bad`` False, not None).
    """

    def __init__(self, files: list[Path], labels: np.ndarray | None, shape: tuple[int, int, int],
                 skip_bad: bool | None = None):
        self.files, self.labels, self.shape, self.skip_bad = files, labels, shape, skip_bad
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.files)

    def read(self, start: int, stop: int) -> RowBlock:
        images, kept = [], []
        for i in range(start, stop):
            image = read_or_skip(self.files[i], self.shape[0], self.shape[1], self.skip_bad, self.skipped)
            if image is not None:
                images.append(image)
                kept.append(i)
        kept = np.array(kept, dtype=np.int64)
        images = np.stack(images) if images else np.zeros((0, *self.shape), dtype=np.uint8)
        labels = None if self.labels is None else self.labels[kept]
        return RowBlock(images, labels, np.array([str(self.files[i]) for i in kept], dtype=str))

    def images_for(self, positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
        c, size = self.shape[0], self.shape[1]
        return np.stack([read_image(Path(p), c, size) for p in ids])

