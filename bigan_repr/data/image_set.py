"""What every image source gives: a split whole (:class:`ImageSet`) or a block of its rows
(:class:`RowBlock`), uint8 images (N, C, H, W) in [0, 255] with int64 labels when known and string
ids; and :func:`to_model_range`, the one conversion into what the networks see.

The uint8 form is what lives in memory (or on the training device), a quarter of the float size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

SPLITS = ("train", "test")


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


@dataclass
class RowBlock:
    images: np.ndarray  # uint8 (n, C, H, W), the run's format
    labels: np.ndarray | None  # int64 (n,)
    ids: np.ndarray  # str (n,)


def to_model_range(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range G's tanh output lives in."""
    return images_u8.float().div_(127.5).sub_(1.0)
