"""Device-resident batches: the whole dataset as one uint8 tensor, batches as index slices.

Each epoch's order is a permutation drawn from (seed, epoch) alone, so the stream's position is
two integers and a resumed run sees exactly the batches an uninterrupted one would. Under
distributed training each rank takes every ``world``-th index of the same permutation.
"""

from __future__ import annotations

import torch

from .data import to_model_range
from .errors import UserError


class BatchStream:
    def __init__(self, images_u8: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.images = images_u8  # (N, C, H, W) uint8, on the training device
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.per_epoch = len(images_u8) // world // batch_size
        if self.per_epoch == 0:
            raise UserError(
                f"batch size {batch_size} x {world} process(es) is larger than the dataset "
                f"({len(images_u8)} images); lower --batch-size"
            )
        self.epoch, self.pos = 0, 0
        self._order: torch.Tensor | None = None

    def _epoch_order(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(len(self.images), generator=g)[self.rank :: self.world]
        return perm.to(self.images.device)

    def next(self) -> torch.Tensor:
        """The next batch as floats in [-1, 1], shape (batch_size, C, H, W)."""
        if self.pos == self.per_epoch:
            self.epoch, self.pos, self._order = self.epoch + 1, 0, None
        if self._order is None:
            self._order = self._epoch_order()
        idx = self._order[self.pos * self.batch_size : (self.pos + 1) * self.batch_size]
        self.pos += 1
        return to_model_range(self.images[idx])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos, self._order = int(state["epoch"]), int(state["pos"]), None
