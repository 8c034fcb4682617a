"""Benchmark: faiss-based evaluation vs the scikit-learn equivalents, same data, same threads.

Times 1-NN (faiss IndexFlatL2 vs KNeighborsClassifier(n_neighbors=1, algorithm="brute"))
and k-means (our `cluster_eval` with 1 restart vs KMeans(n_clusters=k, n_init=1)) on
synthetic Fashion-MNIST-sized data: Gaussian class clusters, so accuracies are meaningful
and must agree between the two implementations.

    python benchmarks/eval_speed.py --n-train 60000 --n-test 10000 --dims 50,784 --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

# Run from anywhere: `eval` is a top-level package next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval import cluster_eval, hungarian_accuracy, nn1_predict  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--dims", default="50,784", help="comma-separated feature dims")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads for faiss (OpenMP) and sklearn (BLAS + OpenMP)",
    )
    parser.add_argument(
        "--center-scale",
        type=float,
        default=None,
        help="std of class centres; default 6/sqrt(dim) keeps classes "
        "overlapping a little at every dim",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement; the fastest is reported"
    )
    return parser.parse_args(argv)


def make_data(
    n_train: int, n_test: int, dim: int, n_classes: int, center_scale: float, seed: int
) -> dict:
    """Class centres ~ N(0, scale^2 I), points = centre + N(0, I); float32 like features."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=center_scale, size=(n_classes, dim))
    y = rng.integers(0, n_classes, size=n_train + n_test)
    x = (centers[y] + rng.normal(size=(y.size, dim))).astype(np.float32)
    return {
        "train_x": x[:n_train],
        "train_y": y[:n_train],
        "test_x": x[n_train:],
        "test_y": y[n_train:],
    }


def timed(fn, repeats: int):
    """Last output and the best wall time over `repeats` runs (the least disturbed one)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def bench_nn1(data: dict, repeats: int) -> list[dict]:
    ours, t_ours = timed(
        lambda: nn1_predict(data["train_x"], data["train_y"], data["test_x"]), repeats
    )
    ref_model = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    ref, t_ref = timed(
        lambda: ref_model.fit(data["train_x"], data["train_y"]).predict(data["test_x"]),
        repeats,
    )
    return [
        {
            "impl": "faiss (nn1_predict)",
            "seconds": t_ours,
            "acc": float(np.mean(ours == data["test_y"])),
            "ratio": t_ref / t_ours,
        },
        {
            "impl": "sklearn brute",
            "seconds": t_ref,
            "acc": float(np.mean(ref == data["test_y"])),
            "ratio": 1.0,
            "agree": float(np.mean(ours == ref)),
        },
    ]


def bench_kmeans(
    x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, repeats: int
) -> list[dict]:
    ours, t_ours = timed(lambda: cluster_eval(x, y, restarts=1, seed=seed), repeats)
    ref_model = KMeans(n_clusters=n_classes, n_init=1, random_state=seed)
    ref_assign, t_ref = timed(lambda: ref_model.fit_predict(x), repeats)
    return [
        {
            "impl": "faiss (cluster_eval)",
            "seconds": t_ours,
            "acc": ours["acc"],
            "ratio": t_ref / t_ours,
        },
        {
            "impl": "sklearn KMeans",
            "seconds": t_ref,
            "acc": hungarian_accuracy(y, ref_assign),
            "ratio": 1.0,
        },
    ]


def print_table(rows: list[dict]) -> None:
    header = f"{'task':<26}{'implementation':<24}{'seconds':>9}{'sklearn/ours':>14}{'acc':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        extra = f"  (prediction agreement {row['agree']:.4f})" if "agree" in row else ""
        print(
            f"{row['task']:<26}{row['impl']:<24}{row['seconds']:>9.2f}"
            f"{row['ratio']:>13.2f}x{100 * row['acc']:>7.2f}%{extra}"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    rows = []
    # One limit for BLAS and OpenMP pools alike, so both libraries get the same cores.
    with threadpool_limits(limits=args.threads):
        for dim in (int(d) for d in args.dims.split(",")):
            scale = args.center_scale or 6.0 / np.sqrt(dim)
            data = make_data(args.n_train, args.n_test, dim, args.classes, scale, args.seed)
            task = f"1-NN d={dim}"
            rows += [{"task": task, **r} for r in bench_nn1(data, args.repeats)]
            # Clustering runs on the test split, as in eval.suite.evaluate.
            task = f"k-means d={dim} N={args.n_test}"
            kmeans_rows = bench_kmeans(
                data["test_x"], data["test_y"], args.classes, args.seed, args.repeats
            )
            rows += [{"task": task, **r} for r in kmeans_rows]
    print(
        f"threads={args.threads}  n_train={args.n_train}  n_test={args.n_test}  "
        f"repeats={args.repeats} (best time)  faiss {faiss.__version__}"
    )
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
