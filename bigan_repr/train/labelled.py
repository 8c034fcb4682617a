"""The labelled images of a semi-supervised run, served a batch per step.

The labelled part is small (``labels_per_class`` x K images), so it lives on the training device as one
uint8 tensor. Each step draws a batch with replacement from the run's seeded generator and augments it
with the run's view policy (``train.augment``): the labels see the same augmentations in every recipe,
the supervised-only control included, and a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..data.image_set import to_model_range
from ..data.label_split import LabelSplit
from ..losses.augment import AugmentPolicy, augment


@dataclass
class LabelledBatches:
    images: Tensor  # uint8 (n, C, H, W) on the training device
    targets: Tensor  # int64 (n,): class indices 0..K-1
    batch_size: int
    policy: AugmentPolicy | None

    @classmethod
    def from_split(cls, split: LabelSplit, images_u8: np.ndarray, batch_size: int, policy: AugmentPolicy | None,
                   device) -> LabelledBatches:
        return cls(torch.from_numpy(images_u8).to(device), torch.from_numpy(split.targets).to(device),
                   batch_size, policy)

    def next(self, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """An augmented batch in [-1, 1] and its class indices: (B, C, H, W), (B,)."""
        idx = torch.randint(len(self.targets), (self.batch_size,), device=self.targets.device, generator=rng)
        return augment(to_model_range(self.images[idx]), self.policy, rng), self.targets[idx]
