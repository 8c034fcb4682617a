"""Distribution across processes with torchrun and DistributedDataParallel.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them training is one process. The
backend is nccl on CUDA and gloo on CPU. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


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


def wrap(module: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    if not ctx.active:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def average(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of a tensor across ranks (identity for one process)."""
    if ctx.active:
        values = values.clone()
        dist.all_reduce(values)
        values /= ctx.world
    return values


def gather_rng_states(rng: torch.Generator, ctx: DistContext) -> list[torch.Tensor]:
    """Every rank's generator state, in rank order (a checkpoint resumes each rank's stream)."""
    state = rng.get_state()
    if not ctx.active:
        return [state]
    states: list = [None] * ctx.world
    dist.all_gather_object(states, state)
    return states


def broadcast_object(value, ctx: DistContext):
    """Rank 0's ``value`` on every rank (picklable; identity for one process)."""
    if not ctx.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class _GatherWithGrad(torch.autograd.Function):
    """all_gather that lets gradients through (solo-learn's GatherLayer): backward sums every rank's
    gradient for this rank's rows. Each rank computes the same loss on the gathered rows, so the sum is
    world x the loss's gradient, which DDP's average over ranks brings back to the gradient itself."""

    @staticmethod
    def forward(ctx, x):
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return tuple(parts)

    @staticmethod
    def backward(ctx, *grads):
        summed = torch.stack(grads)
        dist.all_reduce(summed)
        return summed[dist.get_rank()]


def gather_with_grad(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Every rank's ``x`` (equal shapes), concatenated in rank order, differentiable; ``x`` for one process."""
    if not ctx.active:
        return x
    return torch.cat(_GatherWithGrad.apply(x))


def gather_views(h: torch.Tensor, ctx: DistContext, parts: int = 2) -> torch.Tensor:
    """Projections of ``parts`` views (parts * B, w), view 1 first, gathered from every rank into
    (parts * BW, w): every rank's view 1, then every rank's view 2, ..., so row i of each part still pairs
    with row i of the others."""
    return torch.cat([gather_with_grad(view, ctx) for view in h.chunk(parts)])


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()


def weights_digest(module: nn.Module) -> str:
    """SHA-256 of every parameter: equal digests mean bit-identical replicas.

    Buffers (batch-norm running statistics) are left out: DDP broadcasts rank 0's at each
    forward, but each rank updates its own copy on its own shard in between.
    """
    import hashlib

    h = hashlib.sha256()
    for name, tensor in module.named_parameters():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def shutdown(ctx: DistContext) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
