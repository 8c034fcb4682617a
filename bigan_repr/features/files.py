"""The feature-file format, both kinds, reading and writing: the one place that knows their layout.

- A single ``.npz`` (small outputs): ``features`` (float32, N x d), ``ids`` (str), ``labels``
  (int64, when known) and metadata as 0-d ``meta_KEY`` arrays.
- A shard directory (any size): ``part-00000.npy`` ... (float32, n_i x d, plain .npy any program
  reads), each with ``part-00000.labels.npy`` (when known) and ``part-00000.ids.npy``, and
  ``manifest.json`` written last: format, count, dim, the shards in row order with their counts,
  and the metadata (layer, run, step, source, split); :mod:`manifest` checks it before use.
  Shards are read back memory-mapped.

A shard is streamed to disk batch by batch, so writing holds one batch, never the shard or the
dataset; the directory is filled under a temporary name and moved into place at the end
(:mod:`publish`), so a failed, refused or killed encode leaves an existing output as it was.
numpy only: no torch here.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.npz_archive import NpzError, read_npz
from ..runs.atomic import atomic_path, atomic_write, atomic_write_text
from .manifest import FORMAT, MANIFEST, FeatureFileError, read_manifest
from .publish import move_into_place, restore_interrupted

SHARD_ROWS = 16384  # rows per shard file by default: 64 MB at d = 1024, and a unit of work per rank
_PART = re.compile(r"^part-(\d{5})\.npy$")
_HEADER_BYTES = 128  # fixed .npy header size, so a shard's row count can be written after its rows


@dataclass
class FeatureFile:
    """What a feature file holds; ``shards`` are memory-mapped for a shard directory."""

    path: Path
    shards: list[np.ndarray]  # (n_i, d) each, in row order; one array for an .npz
    labels: np.ndarray | None  # (N,)
    ids: np.ndarray | None  # (N,)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.shards)

    @property
    def dim(self) -> int:
        return self.shards[0].shape[1]

    def features(self) -> np.ndarray:
        """All rows as one array (N, d); with several shards this reads them into memory."""
        return self.shards[0] if len(self.shards) == 1 else np.concatenate(self.shards)


def is_shard_dir(out: str | Path) -> bool:
    """``--out DIR/`` (a trailing slash) or an existing folder means shards; anything else, one .npz."""
    return str(out).endswith(("/", os.sep)) or Path(out).is_dir()


# ---- the single .npz ---------------------------------------------------------------------------


def write_features(path: str | Path, features: np.ndarray, *, labels: np.ndarray | None, ids: np.ndarray,
                   meta: dict[str, str | int]) -> Path:
    """Write a feature file atomically; metadata keys become 0-d arrays beside the data."""
    arrays = {"features": np.ascontiguousarray(features, dtype=np.float32), "ids": np.asarray(ids).astype(str)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, dtype=np.int64)
    arrays |= {f"meta_{k}": np.asarray(v) for k, v in meta.items()}
    path = Path(path)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def _read_npz(path: Path) -> FeatureFile:
    try:
        arrays = read_npz(path)  # every header checked before anything is allocated
    except NpzError as err:
        raise FeatureFileError(str(err)) from None
    if "features" not in arrays:
        raise FeatureFileError(f"{path}: missing 'features' key (keys present: {sorted(arrays)})")
    features, labels, ids = arrays.pop("features"), arrays.pop("labels", None), arrays.pop("ids", None)
    # meta_KEY 0-d arrays -> {KEY: value}, as a manifest holds them; other arrays are kept as they are
    meta = {k.removeprefix("meta_"): v.item() if v.ndim == 0 else v for k, v in arrays.items()}
    return FeatureFile(path, [features], labels, ids, meta)


# ---- the shard directory -----------------------------------------------------------------------


def _part(index: int, kind: str = "") -> str:
    return f"part-{index:05d}{kind}.npy"


def _npy_header(rows: int, dim: int) -> bytes:
    """A version 1.0 .npy header for float32 (rows, dim), padded to a fixed length."""
    text = repr({"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
    body_len = _HEADER_BYTES - 10  # magic (6) + version (2) + length (2)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", body_len) + text.ljust(body_len - 1).encode("latin1") + b"\n"


def write_shard(folder: Path, index: int, dim: int,
                blocks: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]]) -> int:
    """Stream ``(features (n, dim), labels (n,) or None, ids (n,))`` blocks into shard ``index``; returns
    its rows. Rows go to disk as they come; the header, which holds the row count, is written last.
    """
    labels, ids, rows = [], [], 0
    with atomic_path(folder / _part(index)) as tmp, open(tmp, "wb") as f:
        f.write(b"\0" * _HEADER_BYTES)
        for features, block_labels, block_ids in blocks:
            features = np.ascontiguousarray(features, dtype=np.float32)
            if features.ndim != 2 or features.shape[1] != dim:
                raise ValueError(f"shard {index}: features of shape {features.shape}, expected (n, {dim})")
            f.write(features.tobytes())
            rows += len(features)
            labels.append(block_labels)
            ids.append(np.asarray(block_ids).astype(str))
        f.seek(0)
        f.write(_npy_header(rows, dim))
        f.flush()
    if labels and labels[0] is not None:
        atomic_write(folder / _part(index, ".labels"), lambda f: np.save(f, np.concatenate(labels).astype(np.int64)))
    atomic_write(folder / _part(index, ".ids"), lambda f: np.save(f, np.concatenate(ids) if ids else np.array([], str)))
    return rows


def publish_shard_dir(staging: Path, out: Path, meta: dict[str, Any]) -> FeatureFile:
    """Write the manifest (last, after every shard exists) and move the folder into place at ``out``
    (an absolute path that :func:`publish.check_replaceable` accepted)."""
    shards = _shards_on_disk(staging)
    manifest = {"format": FORMAT, "count": sum(s["count"] for s in shards),
                "dim": _dim_of(staging, shards), **meta, "shards": shards}
    atomic_write_text(staging / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))  # strict: read back
    os.chmod(staging, 0o777 & ~_umask())
    move_into_place(staging, out)
    return read_features(out)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _shards_on_disk(folder: Path) -> list[dict[str, Any]]:
    indices = sorted(int(m.group(1)) for p in folder.iterdir() if (m := _PART.match(p.name)))
    if indices != list(range(len(indices))) or not indices:
        raise FeatureFileError(f"{folder}: shards {indices} are not numbered 0 to {len(indices) - 1}")
    shards = []
    for i in indices:
        entry = {"features": _part(i), "count": len(_map(folder / _part(i)))}
        for kind in ("labels", "ids"):
            if (folder / _part(i, f".{kind}")).is_file():
                entry[kind] = _part(i, f".{kind}")
        shards.append(entry)
    return shards


def _dim_of(folder: Path, shards: list[dict[str, Any]]) -> int:
    return int(_map(folder / shards[0]["features"]).shape[1])


def _map(path: Path) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise FeatureFileError(f"{path}: not a readable .npy file ({e})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        raise FeatureFileError(f"{path}: not a .npy file (an .npz archive)")
    return array


def _read_shard_dir(folder: Path) -> FeatureFile:
    manifest = read_manifest(folder)
    shards, labels, ids = [], [], []
    for entry in manifest.shards:
        x = _map(folder / entry.features)
        if x.ndim != 2 or x.dtype != np.float32 or len(x) != entry.count or x.shape[1] != manifest.dim:
            raise FeatureFileError(f"{folder / entry.features}: shape {x.shape} {x.dtype}, but the manifest says "
                                   f"({entry.count}, {manifest.dim}) float32")
        shards.append(x)
        for name, parts in ((entry.labels, labels), (entry.ids, ids)):
            if name is not None:
                parts.append(_side_file(folder / name, entry.count))
    if sum(map(len, shards)) != manifest.count:
        raise FeatureFileError(f"{folder}: shards hold {sum(map(len, shards))} rows, the manifest says "
                               f"{manifest.count}")
    whole = [_joined(parts, kind, folder) if len(parts) == len(shards) else None
             for parts, kind in ((labels, "labels"), (ids, "ids"))]
    return FeatureFile(folder, shards, whole[0], whole[1], manifest.meta)


def _joined(parts: list[np.ndarray], kind: str, folder: Path) -> np.ndarray:
    try:
        return np.concatenate(parts)
    except (TypeError, ValueError):
        types = sorted({str(p.dtype) for p in parts})
        raise FeatureFileError(f"{folder}: the shards' {kind} files have types that do not join ({types})") from None


def _side_file(path: Path, count: int) -> np.ndarray:
    values = np.asarray(_map(path))
    if values.shape != (count,):
        raise FeatureFileError(f"{path}: shape {values.shape}, but its shard holds {count} rows")
    return values


def read_features(path: str | Path) -> FeatureFile:
    """Read an .npz feature file or a shard directory (memory-mapped)."""
    path = Path(path)
    if not path.exists() and not (path.name and restore_interrupted(path.absolute())):
        raise FeatureFileError(f"feature file not found: {path}")
    return _read_shard_dir(path) if path.is_dir() else _read_npz(path)


def load_feature_file(path: str | Path, *, require_labels: bool = True) -> dict[str, Any]:
    """A feature file's rows checked for evaluation: {"features": float32 (N, d), "labels": int64 (N,)
    or None, "ids", "meta"}; shards are joined in row order. Every error names the file."""
    from bigan_repr.eval import EvalInputError, check_features

    stored = read_features(path)
    if require_labels and stored.labels is None:
        present = ["features", *(["ids"] if stored.ids is not None else []), *sorted(stored.meta)]
        raise FeatureFileError(f"{path}: labels are required but the file has no 'labels' (present: {present})")
    try:
        features, labels = check_features(stored.features(), stored.labels, name=str(path))
    except EvalInputError as err:
        raise FeatureFileError(str(err)) from None
    ids = stored.ids
    if ids is not None and (ids.ndim != 1 or ids.shape[0] != features.shape[0]):
        raise FeatureFileError(f"{path}: ids shape {ids.shape} does not match features count {features.shape[0]}")
    return {"features": features, "labels": labels, "ids": ids, "meta": stored.meta}
