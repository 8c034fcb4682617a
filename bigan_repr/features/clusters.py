"""A run's clusters of images (``bigan cluster``): each image's cluster and that cluster's probability.

- A run trained under a ``mixed:K`` prior (ClusterGAN's) clusters by its categorical head: the
  argmax of E's K cluster logits, the probability their softmax.
- Any other run clusters by k-means on its exported layer, in the space its report found best for
  that layer (the highest k-means accuracy among plain, L2-normalised and PCA-whitened in
  report.json; plain when the run has no report), fitted once on the training split and kept in the
  run as ``clusters.npz`` so that every later call assigns by the same centroids. Its probability is
  a softmax over the negative squared distances to the centroids, each divided by the fitted points'
  mean squared distance to their own centroid (a Gaussian mixture's responsibilities at a temperature
  set by the clusters' own spread: with one isotropic variance per dimension they saturate at 1 in a
  space of hundreds of dimensions, and say nothing).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import resolve_layer
from ..errors import UserError
from ..eval.cluster_spaces import apply_pca_whitening, fit_pca_whitening, l2_normalize
from ..eval.kmeans import kmeans_runs
from ..eval.report import MODEL, Method
from ..nets.encoding import encode_in_batches
from ..nets.prior import parse_prior
from ..runs.atomic import atomic_write
from ..runs.run_dir import RunDir
from ..runs.untrusted import UntrustedFileError, read_mapping
from .encoder import LoadedEncoder, dataset_for

CLUSTERS_FILE = "clusters.npz"
SPACES = ("plain", "l2", "pcaw")  # report.json's kmeans_acc, kmeans_l2_acc, kmeans_pcaw_acc
RESTARTS = 10


def cluster_count(loaded: LoadedEncoder) -> int:
    """K of the run's categorical head; 0 when its prior has none."""
    return parse_prior(loaded.config.model.prior).clusters


def head_clusters(loaded: LoadedEncoder, images: np.ndarray, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(cluster (N,), probability (N,)) by E's categorical head, for uint8 images (N, C, H, W)."""
    E = loaded.encoder
    probs = encode_in_batches(lambda x: torch.softmax(E.cluster_logits(E.features(x)).float(), dim=1),
                              loaded.conform(np.asarray(images)), loaded.device, batch_size)
    return probs.argmax(1), probs.max(1)


@dataclass
class KMeansClusters:
    """k-means centroids in one space of one layer's features, and what it takes to map features there."""

    layer: str
    space: str
    step: int  # the checkpoint's step whose features were clustered
    centroids: np.ndarray  # (K, d') float64, in the space
    spread: float  # the fitted points' mean squared distance to their centroid
    whitening: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # pcaw's mean, axes, scales

    def to_space(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.space == "l2":
            return l2_normalize(x).astype(np.float64)
        if self.space == "pcaw":
            return l2_normalize(apply_pca_whitening(x, *self.whitening)).astype(np.float64)
        return x

    def assign(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster (N,), probability (N,)) of features x (N, d)."""
        y = self.to_space(x)
        d2 = (y * y).sum(1, keepdims=True) - 2 * y @ self.centroids.T + (self.centroids**2).sum(1)  # (N, K)
        logits = -np.maximum(d2, 0) / max(self.spread, 1e-12)
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return d2.argmin(1), p.max(1).astype(np.float32)


def fit_kmeans(train_x: np.ndarray, k: int, space: str, layer: str, step: int, seed: int) -> KMeansClusters:
    """k-means (``eval.kmeans``, RESTARTS restarts) of the training features in ``space``."""
    whitening = fit_pca_whitening(train_x) if space == "pcaw" else None
    model = KMeansClusters(layer, space, step, np.zeros((0, 0)), 1.0, whitening)
    y = model.to_space(train_x)
    assign = kmeans_runs(y.astype(np.float32), k, [[seed + r for r in range(RESTARTS)]])[0]["assign"]
    centroids = np.stack([y[assign == c].mean(0) if (assign == c).any() else y[c] for c in range(k)])
    model.centroids = centroids
    model.spread = float(((y - centroids[assign]) ** 2).sum(1).mean())
    return model


def best_space(run_dir: Path, label: str) -> str:
    """The space whose k-means scored highest for ``label``'s row of the run's report.json (plain without one)."""
    path = run_dir / "report.json"
    if not path.is_file():
        return "plain"
    row = read_mapping(path, what="a report").get("results", {}).get(label)
    if not isinstance(row, dict):
        return "plain"
    keys = {"plain": "kmeans_acc", "l2": "kmeans_l2_acc", "pcaw": "kmeans_pcaw_acc"}
    scores = {s: row[k] for s, k in keys.items() if isinstance(row.get(k), (int, float)) and math.isfinite(row[k])}
    return max(scores, key=scores.get) if scores else "plain"


def save_clusters(path: Path, model: KMeansClusters) -> None:
    arrays = {"centroids": model.centroids, "spread": np.float64(model.spread), "step": np.int64(model.step),
              "layer": np.str_(model.layer), "space": np.str_(model.space)}
    if model.whitening is not None:
        arrays |= dict(zip(("mean", "axes", "scales"), model.whitening, strict=True))

    def write(f) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        f.write(buffer.getvalue())

    atomic_write(path, write)


def load_clusters(path: Path, k: int, dim: int) -> KMeansClusters:
    """``clusters.npz`` as saved, each array's kind, shape and values checked before use."""
    try:
        with np.load(path, allow_pickle=False) as f:
            a = {name: f[name] for name in f.files}
    except (OSError, ValueError) as e:
        raise UntrustedFileError(path, f"not a clusters file ({e})") from None
    space, layer = str(a.get("space", "")), str(a.get("layer", ""))
    centroids = np.asarray(a.get("centroids", np.zeros(0)), dtype=np.float64)
    whitening = tuple(np.asarray(a[n], dtype=np.float64) for n in ("mean", "axes", "scales")) if space == "pcaw" \
        and all(n in a for n in ("mean", "axes", "scales")) else None
    width = whitening[1].shape[1] if whitening else dim
    ok = (space in SPACES and centroids.shape == (k, width) and np.isfinite(centroids).all()
          and (space != "pcaw" or (whitening and whitening[0].shape == (dim,) and whitening[1].shape[0] == dim
                                   and whitening[2].shape == (width,) and all(np.isfinite(w).all() for w in whitening)
                                   and (whitening[2] > 0).all()))
          and np.isfinite(float(a.get("spread", np.nan))) and float(a.get("spread", -1)) > 0)
    if not ok:
        raise UntrustedFileError(path, f"does not hold {k} finite centroids of {dim}-wide features in a known space")
    return KMeansClusters(layer, space, int(a.get("step", -1)), centroids, float(a["spread"]), whitening)


def run_kmeans(loaded: LoadedEncoder) -> KMeansClusters:
    """The run's saved k-means when it was fitted on this checkpoint's exported layer; else fitted now on the
    training split (K = its number of classes) and saved, under the run's lock."""
    layer, path = resolve_layer(loaded.config, None), Path(loaded.run) / CLUSTERS_FILE
    train = dataset_for(loaded, None, "train")
    k = len(np.unique(train.labels)) if train.labels is not None else 0
    if k < 2:
        raise UserError(f"run {loaded.run}: k-means needs the number of clusters, the training split's number of "
                        f"classes, and its data source {loaded.config.data.source!r} has {k}")
    if path.is_file():
        saved = load_clusters(path, k, loaded.dim(layer))
        if (saved.layer, saved.step) == (layer, loaded.step):
            return saved
    space = best_space(Path(loaded.run), Method(MODEL, layer).label)
    model = fit_kmeans(loaded.encode(train.images, layer=layer), k, space, layer, loaded.step, loaded.config.train.seed)
    run = RunDir(loaded.run)
    run.acquire_lock()
    try:
        save_clusters(path, model)
    finally:
        run.release_lock()
    return model


BLOCK = 256  # images clustered at a time, as `predict` classifies a block at a time


def cluster_rows(loaded: LoadedEncoder, rows) -> tuple[list[dict[str, Any]], str]:
    """[{"id", "cluster", "probability"}] for every row of ``rows`` (files or a split, ``data.rows``), a block
    at a time, and how the clusters were assigned."""
    k = cluster_count(loaded)
    model = None if k else run_kmeans(loaded)  # fitted (or read back) before any input is read
    how = (f"the categorical head (K = {k})" if model is None
           else f"k-means on {model.layer}, {model.space} space (K = {len(model.centroids)})")
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), BLOCK):
        block = rows.read(start, min(start + BLOCK, len(rows)))
        clusters, probs = (head_clusters(loaded, block.images) if model is None
                           else model.assign(loaded.encode(block.images, layer=model.layer)))
        out += [{"id": str(i), "cluster": int(c), "probability": float(p)}
                for i, c, p in zip(block.ids, clusters, probs, strict=True)]
    return out, how
