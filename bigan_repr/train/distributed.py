"""Training across the processes torchrun starts: DistributedDataParallel, tensors averaged and gathered
across ranks, every rank's RNG state for the checkpoint, and the digest that shows replicas agree.

Joining the process group and the collectives any job needs (a barrier, rank 0's values on every rank)
are ``model/processes.py``'s. For one process, the wrapper, the average and the gathers change nothing.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from ..model.processes import DistContext


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
