"""Retrieval: the nearest training images of query image files, in a run's feature space.

The database is a run directory (its training split, encoded now at the run's exported layer)
or a feature file written by ``bigan encode`` / ``bigan embed`` (.npz or shard folder), whose
metadata name the run, checkpoint step and layer the queries must be encoded with. Queries are
image files read exactly as ``bigan embed`` reads them. Search is exact Euclidean
(``eval.neighbors``), the 1-NN protocol's metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bigan_repr.eval.knn_index import DEFAULT_INDEX
from bigan_repr.eval.neighbors import neighbor_png, neighbor_search
from bigan_repr.eval.validation import check_features

from ..config import resolve_layer
from ..data.rows import ArrayRows, FileRows, ImageRows
from ..data.sources import open_rows
from ..errors import UserError
from ..model.checkpoint import checkpoint_path
from .encoder import LoadedEncoder, data_config_for, dataset_for, image_files, load_encoder
from .files import MANIFEST, read_features


@dataclass
class Database:
    features: np.ndarray  # float32 (N, d)
    labels: np.ndarray | None  # (N,)
    ids: np.ndarray  # (N,)
    encoder: LoadedEncoder  # what made the features, at their checkpoint
    layer: str
    rows: ImageRows  # where the images behind the features are read, for the grid
    name: str


@dataclass
class Retrieval:
    database: Database
    queries: list[Path]
    query_images: np.ndarray  # uint8 (Q, C, H, W), as the encoder saw them
    distances: np.ndarray  # (Q, k), Euclidean, nearest first
    indices: np.ndarray  # (Q, k) rows of the database

    def as_dict(self) -> dict[str, Any]:
        db = self.database
        rows = [[{"rank": r + 1, "id": str(db.ids[i]), "index": int(i), "distance": float(d),
                  "label": None if db.labels is None else int(db.labels[i])}
                 for r, (i, d) in enumerate(zip(idx, dist, strict=True))]
                for idx, dist in zip(self.indices, self.distances, strict=True)]
        return {"database": db.name, "run": db.encoder.run, "step": db.encoder.step, "layer": db.layer,
                "k": int(self.indices.shape[1]),
                "queries": [{"query": str(q), "neighbors": n} for q, n in zip(self.queries, rows, strict=True)]}

    def as_text(self) -> str:
        """Per query its file, then one line per neighbour: rank, distance, id and label."""
        lines = []
        for query in self.as_dict()["queries"]:
            lines.append(query["query"])
            lines += [f"  {n['rank']:>3}  distance {n['distance']:.4f}  id {n['id']}"
                      + ("" if n["label"] is None else f"  label {n['label']}") for n in query["neighbors"]]
        return "\n".join(lines)

    def grid_png(self) -> bytes:
        """Each query (blue frame), then its neighbours, nearest first."""
        db = self.database
        shown = np.unique(self.indices)  # read only the images the grid shows
        images = db.rows.images_for(shown, db.ids[shown])
        return neighbor_png(self.query_images, None, images, None, np.searchsorted(shown, self.indices),
                            row_names=[q.name for q in self.queries],
                            title=f"nearest training images by {db.layer} features of {Path(db.encoder.run).name}")


def _meta_value(meta: dict[str, Any], key: str, path: Path):
    if key not in meta:
        raise UserError(f"{path} does not say which run made it (no {key!r} in its metadata); "
                        "pass the run directory instead")
    return meta[key]


def _encoder_at(run: str, step: int, path: Path, device: str) -> LoadedEncoder:
    """The run's encoder at the checkpoint that made ``path``'s features."""
    if not Path(run).is_dir():
        raise UserError(f"{path} was made by run {run}, which is not a folder here")
    loaded = load_encoder(run, device=device)
    if loaded.step != step:
        ckpt = checkpoint_path(Path(run), step)
        if not ckpt.is_file():
            raise UserError(f"{path} was encoded at step {step} of {run}, whose checkpoints no longer include it")
        loaded = load_encoder(run, device=device, checkpoint=ckpt)
    return loaded


def _from_feature_file(path: Path, device: str) -> Database:
    stored = read_features(path)
    # labels by eval's one rule (3.5 or 1e20 is refused, never printed as 3), features as eval takes them
    features, labels = check_features(stored.features(), stored.labels, name=str(path))
    run, step, layer = (_meta_value(stored.meta, k, path) for k in ("run", "step", "layer"))
    loaded = _encoder_at(str(run), int(step), path, device)
    ids = stored.ids if stored.ids is not None else np.arange(stored.count).astype(str)
    if "source" in stored.meta:  # made by encode: the rows of a data source
        cfg = data_config_for(loaded, str(stored.meta["source"]), stored.meta.get("data_dir"))
        rows = open_rows(cfg, str(_meta_value(stored.meta, "split", path)))
    else:  # made by embed: the ids are the image files
        rows = FileRows([Path(i) for i in ids], None, loaded.image_shape)
    return Database(features, labels, ids, loaded, str(layer), rows, str(path))


def _from_run(run: Path, device: str) -> Database:
    loaded = load_encoder(run, device=device)
    layer = resolve_layer(loaded.config, None)
    data = dataset_for(loaded, None, "train")
    return Database(loaded.encode(data.images, layer=layer), data.labels, data.ids, loaded, layer,
                    ArrayRows(data), str(run))


def open_database(path: str | Path, device: str = "auto") -> Database:
    """A run directory, or a feature file / shard folder made by ``encode`` or ``embed``."""
    path = Path(path)
    if path.is_dir() and not (path / MANIFEST).is_file():
        return _from_run(path, device)
    return _from_feature_file(path, device)


def retrieve(database: Database, queries: list[str | Path], k: int, index: str = DEFAULT_INDEX) -> Retrieval:
    """The ``k`` nearest database rows of each query image file (files and folders, as ``embed`` takes)."""
    files = image_files(queries)
    block = FileRows(files, None, database.encoder.image_shape).read(0, len(files))
    features = database.encoder.encode(block.images, layer=database.layer)
    distances, indices = neighbor_search(database.features, features, k, index=index)
    return Retrieval(database, files, block.images, distances, indices)
