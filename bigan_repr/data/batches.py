"""Batch streams: the order of every epoch, and two ways to serve it.

Each epoch's order is a permutation drawn from (seed, epoch) alone, so a stream's position is
two integers and a resumed run sees exactly the batches an uninterrupted one would. Under
distributed training each rank takes every ``world``-th index of the same permutation.

- :class:`BatchStream`: the whole dataset as one uint8 tensor on the training device; a batch
  is an index slice converted on the device. No workers, no per-sample Python.
- :class:`LoaderStream`: for image folders too large to hold, a DataLoader with workers and
  pinned memory decodes files lazily, in the very same order.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError, UserError
from .image_set import to_model_range


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """This rank's share of epoch ``epoch``'s permutation of ``range(n)`` (CPU int64)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)[rank::world]


class _Stream:
    """Position bookkeeping shared by both streams: (epoch, batch index within the epoch)."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world: int):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.per_epoch = n // world // batch_size
        if self.per_epoch == 0:
            raise UserError(
                f"batch size {batch_size} x {world} process(es) is larger than the dataset "
                f"({n} images); lower --batch-size"
            )
        self.epoch, self.pos = 0, 0

    def _batches(self) -> list[torch.Tensor]:
        """Index batches of the rest of the current epoch, from the current position."""
        order = epoch_order(self.n, self.seed, self.epoch, self.rank, self.world)
        b = self.batch_size
        return [order[i * b : (i + 1) * b] for i in range(self.pos, self.per_epoch)]

    def _advance(self) -> None:
        self.pos += 1
        if self.pos == self.per_epoch:
            self.epoch, self.pos = self.epoch + 1, 0
            self._restart()

    def _restart(self) -> None:  # a new epoch or a restored position
        raise NotImplementedError

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._restart()


class BatchStream(_Stream):
    def __init__(self, images_u8: torch.Tensor, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        super().__init__(len(images_u8), batch_size, seed, rank, world)
        self.images = images_u8  # (N, C, H, W) uint8, on the training device
        self._restart()

    def _restart(self) -> None:
        self._order = epoch_order(self.n, self.seed, self.epoch, self.rank, self.world).to(self.images.device)

    def next(self) -> torch.Tensor:
        """The next batch as floats in [-1, 1], shape (batch_size, C, H, W)."""
        b = self.batch_size
        idx = self._order[self.pos * b : (self.pos + 1) * b]
        self._advance()
        return to_model_range(self.images[idx])


class _Reported(Dataset):
    """A dataset's items as (image, problem): a bad file comes back from its worker as its
    one-line message (and a blank image) instead of a worker traceback."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        try:
            return self.dataset[i], ""
        except UserError as e:
            return torch.zeros(self.dataset.shape, dtype=torch.uint8), str(e)


class LoaderStream(_Stream):
    def __init__(self, dataset: Dataset, batch_size: int, seed: int, rank: int = 0, world: int = 1, *,
                 device: torch.device, workers: int = 2):
        super().__init__(len(dataset), batch_size, seed, rank, world)
        self.dataset, self.device, self.workers = dataset, device, workers
        self._restart()

    def _restart(self) -> None:
        loader = DataLoader(_Reported(self.dataset), batch_sampler=self._batches(), num_workers=self.workers,
                            pin_memory=self.device.type == "cuda")
        self._iter = iter(loader)

    def next(self) -> torch.Tensor:
        batch, problems = next(self._iter)
        if any(problems):
            raise DataError(next(p for p in problems if p))
        self._advance()
        return to_model_range(batch.to(self.device, non_blocking=True))
