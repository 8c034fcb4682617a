"""Benchmark: approximate k-NN indexes (IVF, HNSW) against exact search on 1M labelled vectors.

For each index and each k-NN protocol (1-NN Euclidean; weighted cosine k-NN, k = 20,
T = 0.07) it times building the index over the database and searching it with the query set,
and prints recall@10 against exact search (the share of the exact 10 nearest neighbours
found) and the k-NN accuracy beside exact search's. Indexes are built by eval.knn_index
with the parameters it chooses from N unless given (`--indexes "ivf:nprobe=32;hnsw"`).
The 1-NN rows search 10 neighbours (for recall@10) where the protocol itself needs one.

The data are synthetic but structured like learned features: 1,000 sites whose centres are
N(0, 0.3^2 I) in d = 96; each site spans a random 12-d subspace (unit variance along it) plus
isotropic noise of std 0.1, and holds two classes shifted +-0.8 along a random direction
(100 classes in all). Sites overlap, so neither search nor classification is trivial
(exact search: 1-NN accuracy 71.7%, weighted k-NN 84.4%). A few thousand queries are searched against the 1M
database: enough to time a search, while exact search of 1M queries would take hours here.

    python benchmarks/knn_search.py --n 1000000 --queries 2000 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

# Run from anywhere: `eval` is a top-level package next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigan_repr.eval.knn import weighted_vote  # noqa: E402
from bigan_repr.eval.knn_index import NeighbourIndex, resolve_index  # noqa: E402

from bigan_repr.model.runtime import set_threads  # noqa: E402

K, TEMPERATURE = 20, 0.07  # the weighted k-NN protocol (eval.knn's defaults)
PROTOCOLS = {"1-NN l2": ("l2", 10), "k-NN cosine": ("cosine", K)}  # metric, neighbours searched


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="database (training) vectors")
    parser.add_argument("--queries", type=int, default=2000, help="query (test) vectors")
    parser.add_argument("--dim", type=int, default=96)
    parser.add_argument("--indexes", default="ivf;hnsw",
                        help="approximate indexes to compare with exact search, ';'-separated "
                        "(e.g. 'ivf:nprobe=32;hnsw')")
    parser.add_argument("--threads", type=int, default=2, help="threads for faiss, torch and BLAS")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_data(n: int, n_queries: int, dim: int, seed: int, sites: int = 1000, intrinsic: int = 12) -> dict:
    """Overlapping low-dimensional sites, two classes per site (see the module docstring)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=0.3, size=(sites, dim))
    bases = rng.normal(size=(sites, intrinsic, dim)) / np.sqrt(dim)  # rows of norm ~1
    shifts = rng.normal(size=(sites, dim))
    shifts *= 0.5 / np.linalg.norm(shifts, axis=1, keepdims=True)
    site = rng.integers(0, sites, size=n + n_queries)
    side = rng.integers(0, 2, size=n + n_queries)
    x = rng.normal(scale=0.1, size=(n + n_queries, dim)).astype(np.float32)
    for s in range(sites):  # one GEMM per site
        rows = np.flatnonzero(site == s)
        offset = centres[s] + np.where(side[rows, None] == 1, shifts[s], -shifts[s])
        x[rows] += (rng.normal(size=(rows.size, intrinsic)) @ bases[s] + offset).astype(np.float32)
    y = (2 * site + side) % 100
    return {"train_x": x[:n], "train_y": y[:n], "test_x": x[n:], "test_y": y[n:]}


def run_protocol(data: dict, index_text: str, protocol: str) -> dict:
    """Build the index for one protocol, search the queries, predict; times in seconds."""
    metric, k = PROTOCOLS[protocol]
    spec = resolve_index(index_text, data["train_x"].shape[0], K)
    start = time.perf_counter()
    index = NeighbourIndex(data["train_x"], metric, spec)
    built = time.perf_counter()
    scores, ids = index.search(data["test_x"], k)
    searched = time.perf_counter()
    labels = data["train_y"][ids]
    if metric == "l2":
        pred = labels[:, 0]
    else:
        pred = weighted_vote(scores, labels, np.unique(data["train_y"]), TEMPERATURE)
    return {"index": str(spec), "protocol": protocol, "build": built - start, "search": searched - built,
            "ids": ids[:, :10], "acc": float(np.mean(pred == data["test_y"]))}


def add_comparison(row: dict, exact: dict, n_queries: int) -> dict:
    """Recall@10, accuracy difference, speed-ups and the queries at which the build pays off."""
    hits = [np.intersect1d(a, b).size for a, b in zip(row["ids"], exact["ids"], strict=True)]
    per_query_saving = (exact["search"] - row["search"]) / n_queries
    return row | {
        "recall10": float(np.mean(hits)) / 10,
        "acc_diff": row["acc"] - exact["acc"],
        "search_speedup": exact["search"] / row["search"],
        "total_speedup": (exact["build"] + exact["search"]) / (row["build"] + row["search"]),
        "break_even": row["build"] / per_query_saving if per_query_saving > 0 else float("inf"),
    }


def print_table(rows: list[dict]) -> None:
    header = (f"{'index':<46}{'protocol':<13}{'build s':>9}{'search s':>10}{'search x':>10}"
              f"{'total x':>9}{'recall@10':>11}{'acc %':>8}{'diff':>7}{'pays off after':>16}")
    print(header)
    print("-" * len(header))
    for r in rows:
        exact = r["index"] == "flat"
        cells = ("", "", "-", "", "") if exact else (
            f"{r['search_speedup']:.1f}", f"{r['total_speedup']:.2f}", f"{r['recall10']:.4f}",
            f"{100 * r['acc_diff']:+.2f}", f"{r['break_even']:,.0f} queries")
        print(f"{r['index']:<46}{r['protocol']:<13}{r['build']:>9.1f}{r['search']:>10.2f}{cells[0]:>10}"
              f"{cells[1]:>9}{cells[2]:>11}{100 * r['acc']:>8.2f}{cells[3]:>7}{cells[4]:>16}")


def main(argv=None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    start = time.perf_counter()
    data = make_data(args.n, args.queries, args.dim, args.seed)
    print(f"data: {args.n:,} x {args.dim} database, {args.queries:,} queries, "
          f"{time.perf_counter() - start:.0f} s to generate", flush=True)
    approximate = [text for text in args.indexes.split(";") if text]
    rows = []
    for protocol in PROTOCOLS:
        exact = run_protocol(data, "flat", protocol)
        rows.append(exact)
        for text in approximate:
            rows.append(add_comparison(run_protocol(data, text, protocol), exact, args.queries))
            print(f"  done: {rows[-1]['index']} {protocol}", file=sys.stderr, flush=True)
    print(f"threads={args.threads}  faiss {faiss.__version__}  total {time.perf_counter() - start:.0f} s")
    print("search x / total x: exact search time over the index's (search only / build + search);")
    print("pays off after: queries beyond which build + search beats exact search")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
