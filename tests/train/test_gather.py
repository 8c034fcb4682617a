"""The invariance loss over every process's batch: two gloo processes, each holding half the projections,
get the loss of the whole batch and, after DDP's average over ranks, its exact gradient."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bigan_repr.losses.invariance import INVARIANCE
from bigan_repr.model.processes import DistContext
from bigan_repr.train.distributed import gather_views

WORLD, B, WIDTH = 2, 6, 5


def _views(seed=0):
    """(2, 2B, WIDTH): each rank's projections of its two views, view 1 then view 2."""
    return torch.randn(WORLD, 2 * B, WIDTH, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _worker(rank, port, loss_name, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        h = _views()[rank].clone().requires_grad_(True)
        loss = INVARIANCE[loss_name](*gather_views(h, DistContext(rank, WORLD)).chunk(2))
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": h.grad}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("loss_name", ["vicreg", "infonce"])
def test_gathered_loss_and_gradient_are_the_whole_batchs(tmp_path, loss_name):
    mp.spawn(_worker, args=(_free_port(), loss_name, str(tmp_path)), nprocs=WORLD)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    # one process holding the whole batch: every rank's view 1, then every rank's view 2
    views = _views().requires_grad_(True)
    whole = INVARIANCE[loss_name](views[:, :B].reshape(-1, WIDTH), views[:, B:].reshape(-1, WIDTH))
    whole.backward()
    for rank, got in enumerate(ranks):
        assert torch.allclose(got["loss"], whole.detach())
        # DDP divides by the world size: what reaches the weights is the whole batch's gradient
        assert torch.allclose(got["grad"] / WORLD, views.grad[rank], atol=1e-12)
    # VICReg's variance term needs the whole batch: half of it alone gives another loss
    alone = INVARIANCE[loss_name](*_views()[0].chunk(2))
    assert not torch.allclose(alone, whole.detach())


def test_one_process_gathers_nothing():
    h = torch.randn(8, 3)
    assert gather_views(h, DistContext()).equal(torch.cat([h[:4], h[4:]]))


def _gather_worker(rank, port, parts, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        h = torch.arange(WORLD * parts * B, dtype=torch.float64).reshape(WORLD, parts * B, 1)[rank]
        torch.save(gather_views(h, DistContext(rank, WORLD), parts=parts), f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_the_hybrids_extra_views_are_gathered_part_by_part(tmp_path):
    # views 1 and 2, then a generated positive and negatives: every rank's part p sits together, so
    # the head's chunk(parts) of the gathered rows still pairs row i of each part with row i of the others
    parts = 4
    mp.spawn(_gather_worker, args=(_free_port(), parts, str(tmp_path)), nprocs=WORLD)
    rows = torch.arange(WORLD * parts * B, dtype=torch.float64).reshape(WORLD, parts, B, 1)
    expected = rows.transpose(0, 1).reshape(-1, 1)  # part 1 of rank 0, part 1 of rank 1, part 2 of rank 0, ...
    for r in range(WORLD):
        assert torch.equal(torch.load(tmp_path / f"rank{r}.pt"), expected)
