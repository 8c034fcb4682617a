"""Encoding images into a feature file: streamed block by block, and split across torchrun ranks.

Rows are cut into shards of ``shard_rows`` (the last one shorter) and each shard into batches,
so a shard holds the same rows however many processes write: under torchrun, rank r encodes
shards r, r + world, ... into one staging folder, and rank 0 writes the manifest once every
shard is there, then moves the folder into place. The result is the one-process result, file
for file. Memory holds one batch of images and features; a shard goes to disk as it is made.
A single ``.npz`` (small outputs) collects the features in memory and is written at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.rows import ImageRows
from ..errors import UserError
from ..model.processes import DistContext, barrier, broadcast_object, init_distributed, shutdown
from ..nets.encoding import encode_in_batches
from ..runs.progress import phase
from ..runs.targets import check_target
from .encoder import LoadedEncoder
from .files import SHARD_ROWS, is_shard_dir, publish_shard_dir, write_features, write_shard
from .publish import check_replaceable, new_staging_dir, output_folder, recover

BATCH_ROWS = 1024  # images decoded and encoded at once


@dataclass
class Encoded:
    count: int  # rows written (all ranks)
    dim: int
    out: Path
    main: bool  # this process wrote the output's last piece (rank 0, or the only process)


def _blocks(loaded: LoadedEncoder, rows: ImageRows, layer: str, start: int, stop: int,
            batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """(features, labels, ids) of rows [start, stop), one batch at a time."""
    features, dim = loaded.layer(layer), loaded.dim(layer)
    for s in range(start, stop, batch_size):
        block = rows.read(s, min(s + batch_size, stop))
        if len(block.images) == 0:  # every file of the batch was unreadable and skipped
            yield np.zeros((0, dim), dtype=np.float32), block.labels, block.ids
            continue
        yield encode_in_batches(features, block.images, loaded.device, len(block.images)), block.labels, block.ids


def encode_rows(loaded: LoadedEncoder, rows: ImageRows, layer: str, out: str | Path, meta: dict[str, Any], *,
                batch_size: int = BATCH_ROWS, shard_rows: int = SHARD_ROWS) -> Encoded:
    """Encode every row into ``out``: a shard directory (``out`` ends in / or is a folder) or one .npz.

    Under torchrun (WORLD_SIZE > 1) the shards are shared out among the ranks; an .npz is refused.
    """
    if batch_size < 1 or shard_rows < 1:
        raise UserError(f"batch size ({batch_size}) and shard size ({shard_rows}) must be at least 1")
    check_target(out, folder=out != "" and is_shard_dir(out))  # before any work: see runs/targets.py
    ctx = init_distributed(loaded.device)
    try:
        if not is_shard_dir(out):
            if ctx.active:
                raise UserError(f"--out {out}: under torchrun each process writes shards; name a folder (DIR/)")
            return _encode_to_npz(loaded, rows, layer, Path(out), meta, batch_size)
        return _encode_to_shards(loaded, rows, layer, out, meta, batch_size, shard_rows, ctx)
    finally:
        shutdown(ctx)


def _encode_to_npz(loaded, rows, layer, out: Path, meta, batch_size) -> Encoded:
    with phase(f"encode {len(rows)} images ({layer})"):
        parts = list(_blocks(loaded, rows, layer, 0, len(rows), batch_size))
    features = np.concatenate([p[0] for p in parts])
    labels = None if parts[0][1] is None else np.concatenate([p[1] for p in parts])
    write_features(out, features, labels=labels, ids=np.concatenate([p[2] for p in parts]), meta=meta)
    return Encoded(len(features), features.shape[1], out, True)


def _encode_to_shards(loaded, rows, layer, out: str | Path, meta, batch_size, shard_rows,
                      ctx: DistContext) -> Encoded:
    shown, out = Path(out), output_folder(out)  # refused here if it is or holds the current folder
    if ctx.is_main:  # what a killed encode left: its moved-aside output back in place, staging folders gone
        recover(out)
    check_replaceable(out)  # every rank checks, so a refusal stops them all before any work
    staging = broadcast_object(new_staging_dir(out) if ctx.is_main else None, ctx)
    try:
        starts = range(0, len(rows), shard_rows)
        who = f"rank {ctx.rank}: " if ctx.active else ""
        for i in range(ctx.rank, len(starts), ctx.world):
            start, stop = starts[i], min(starts[i] + shard_rows, len(rows))
            with phase(f"{who}shard {i + 1}/{len(starts)}: encode rows {start}-{stop - 1} ({layer})"):
                write_shard(staging, i, loaded.dim(layer), _blocks(loaded, rows, layer, start, stop, batch_size))
        barrier(ctx)  # every shard is on disk before the manifest names them
        if not ctx.is_main:
            return Encoded(0, loaded.dim(layer), shown, False)
        written = publish_shard_dir(staging, out, meta)
        return Encoded(written.count, written.dim, shown, True)
    finally:
        if ctx.is_main and staging.exists():  # left only when something failed
            shutil.rmtree(staging, ignore_errors=True)
