"""Nearest-neighbour search indexes for k-NN evaluation: exact (flat) and approximate (IVF, HNSW).

Owns the index names, their parameters and how those follow from the database size N, and a
search that returns the same thing for every index: squared Euclidean distances ("l2") or
cosine similarities ("cosine"), best first.

An index is named by a string, optionally with parameters: "flat", "ivf", "hnsw",
"ivf:nlist=4096,nprobe=64", "hnsw:m=32,ef_search=128". "auto" (the default) searches
exactly up to AUTO_FLAT_MAX database vectors and with IVF above, where exact search of a
test set of proportional size grows as N^2. Unset parameters are chosen from N:

- ivf: nlist = sqrt(N) lists, trained on 64 points per list; nprobe = nlist / 32 lists
  searched per query, so each query scans about 1/32 of the database.
- hnsw: m = 16 links per node, ef_construction = 80, ef_search = max(2k, 8 log2 N).
  Building the graph is the slow part; faiss's default ef_construction of 40 built it in half
  the time but left recall@10 at 0.84 on the benchmark's clustered 1M vectors (0.99 with 80).

benchmarks/knn_index.py measures the recall@10 and speed these give at 1M vectors.
Approximate indexes trade exactness for speed: their k-NN accuracies can differ from exact
search (the benchmark shows by how much), and HNSW's graph, built with several threads,
can differ from run to run. The cosine protocol searches L2-normalized vectors by L2
distance with the approximate indexes (the same ranking) and reports 1 - d^2 / 2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import faiss
import numpy as np

from .validation import EvalInputError

# Database size up to which "auto" means exact search. At 200k x 128-d with a 1/6-size test
# set (Fashion-MNIST's proportions) exact search is about 2 x 10^11 multiply-adds per protocol:
# under a minute on 2 cores.
AUTO_FLAT_MAX = 200_000
# Index names and the integer parameters each accepts; "auto" resolves to one of the others.
INDEX_PARAMS = {
    "flat": (),
    "ivf": ("nlist", "nprobe"),
    "hnsw": ("m", "ef_construction", "ef_search"),
}
# the largest value of each parameter: faiss takes 32-bit ints, and beyond these no index here helps
# (nlist is also at most the database's size, checked when that is known)
PARAM_MAX = {"nlist": 2**24, "nprobe": 2**24, "m": 256, "ef_construction": 2**20, "ef_search": 2**20}
_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII digits only: str.isdigit() also takes '²' and '٣'
DEFAULT_INDEX = "auto"
INDEX_NAMES = (DEFAULT_INDEX, *INDEX_PARAMS)
METRICS = ("l2", "cosine")
_IVF_TRAIN_POINTS_PER_LIST = 64
_MIN_POINTS_PER_LIST = 39  # faiss's own minimum for training a list's centroid


@dataclass(frozen=True)
class IndexSpec:
    kind: str  # "flat", "ivf" or "hnsw"
    params: tuple[tuple[str, int], ...] = ()  # every parameter of the kind, resolved

    def __str__(self) -> str:
        body = ",".join(f"{name}={value}" for name, value in self.params)
        return f"{self.kind}:{body}" if body else self.kind


def parse_index(text: str) -> tuple[str, dict[str, int]]:
    """"ivf:nprobe=64" -> ("ivf", {"nprobe": 64}); unknown names or parameters are refused."""
    kind, _, body = str(text).partition(":")
    if kind not in INDEX_NAMES:
        raise EvalInputError(f"unknown k-NN index {kind!r}; valid: {', '.join(INDEX_NAMES)}")
    params = {}
    for item in filter(None, body.split(",")):
        name, _, value = item.partition("=")
        valid = INDEX_PARAMS.get(kind, ())
        if name not in valid:
            raise EvalInputError(
                f"k-NN index {kind!r} has no parameter {name!r}; valid: {', '.join(valid) or 'none'}"
            )
        if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= PARAM_MAX[name]:
            raise EvalInputError(f"k-NN index parameter {name} must be an integer from 1 to {PARAM_MAX[name]}, "
                                 f"got {value[:20]!r}")
        params[name] = int(value)
    return kind, params


def resolve_index(text: str, n: int, k: int) -> IndexSpec:
    """The index to use for a database of n vectors searched for k neighbours."""
    kind, given = parse_index(text)
    if kind == "auto":
        kind = "flat" if n <= AUTO_FLAT_MAX else "ivf"
    if kind == "ivf":
        if given.get("nlist", 0) > n:
            raise EvalInputError(f"k-NN index ivf: nlist={given['nlist']} lists for {n} database vectors; each list "
                                 f"needs at least one, so give nlist of at most {n}")
        nlist = given.get("nlist", max(1, min(round(math.sqrt(n)), n // _MIN_POINTS_PER_LIST)))
        chosen = {"nlist": nlist, "nprobe": min(given.get("nprobe", max(1, nlist // 32)), nlist)}
    elif kind == "hnsw":
        ef_search = given.get("ef_search", max(2 * k, round(8 * math.log2(max(n, 2)))))
        chosen = {"m": given.get("m", 16), "ef_construction": given.get("ef_construction", 80),
                  "ef_search": ef_search}
    else:
        chosen = {}
    return IndexSpec(kind, tuple(chosen.items()))


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # An all-zero feature stays zero (similarity 0 to everything) instead of becoming NaN.
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def _ivf(x: np.ndarray, nlist: int, nprobe: int) -> faiss.Index:
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(x.shape[1]), x.shape[1], nlist)
    index.cp.max_points_per_centroid = _IVF_TRAIN_POINTS_PER_LIST
    index.cp.niter = 10
    index.cp.min_points_per_centroid = 1  # small databases are legitimate; no warning
    index.train(x)  # faiss subsamples the training points with a fixed seed
    index.add(x)
    index.nprobe = nprobe
    return index


def _hnsw(x: np.ndarray, m: int, ef_construction: int, ef_search: int) -> faiss.Index:
    index = faiss.IndexHNSWFlat(x.shape[1], m)
    index.hnsw.efConstruction = ef_construction
    index.add(x)
    index.hnsw.efSearch = ef_search
    return index


class NeighbourIndex:
    """A database of vectors searchable by "l2" (squared distance) or "cosine" (similarity)."""

    def __init__(self, base: np.ndarray, metric: str, spec: IndexSpec):
        self.metric, self.spec = metric, spec
        x = _l2_normalize(base) if metric == "cosine" else base
        params = dict(spec.params)
        if spec.kind == "ivf":
            self.index = _ivf(x, **params)
        elif spec.kind == "hnsw":
            self.index = _hnsw(x, **params)
        else:
            self.index = faiss.IndexFlatIP(x.shape[1]) if metric == "cosine" else faiss.IndexFlatL2(x.shape[1])
            self.index.add(x)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, k) scores (distances ascending for l2, similarities descending for cosine), ids."""
        q = _l2_normalize(queries) if self.metric == "cosine" else queries
        scores, ids = self.index.search(q, k)
        missing = (ids < 0).any(axis=1)
        if missing.any() and self.spec.kind == "ivf":
            # Some probed lists held fewer than k points: search those queries in every list.
            every_list = faiss.SearchParametersIVF(nprobe=self.index.nlist)
            scores[missing], ids[missing] = self.index.search(q[missing], k, params=every_list)
        if self.metric == "cosine" and self.spec.kind != "flat":
            scores = 1.0 - scores / 2.0  # unit vectors: |a - b|^2 = 2 - 2 cos(a, b)
        return scores, ids
