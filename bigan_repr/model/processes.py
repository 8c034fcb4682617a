"""The processes torchrun starts: joining their group, rank 0's values on every rank, waiting for every
rank, and leaving.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them a job is one process and every function
here does nothing. The backend is nccl on CUDA and gloo on CPU. Only rank 0 writes files. Training
across processes (DDP, averaged and gathered tensors) is ``train/distributed.py``'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes, or return a one-process context."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1:
        return DistContext()
    if device.type == "cuda":  # nccl collectives (barrier, broadcast of objects) use the current device
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank=dist.get_rank(), world=dist.get_world_size())


def broadcast_object(value, ctx: DistContext):
    """Rank 0's ``value`` on every rank (picklable; identity for one process)."""
    if not ctx.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
