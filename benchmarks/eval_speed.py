"""Benchmark: this project's linear probe, k-means and 1-NN against scikit-learn, same features.

Features are realistic, not separable blobs: Fashion-MNIST pixels (train 60k / test 10k) in
[0, 1] through a fixed random projection to 1024-d and a ReLU, so probe accuracies sit in the
80s and the solver's convergence matters. Each row is timed once, in the same run, with the
same thread limit for torch, faiss and BLAS:

- linear probe: `linear_probe` with backend="torch" vs backend="sklearn" (scikit-learn's
  LogisticRegression, lbfgs, tol 1e-4): same protocol (C from {0.01, 0.1, 1, 10} on a
  stratified 20% of the training labels, refit on all), same objective;
- label budget: 10 labels per class over 5 seeds, both backends;
- k-means on the 60k training features, k = 10, 10 restarts with k-means++ seeding:
  `cluster_eval` vs KMeans(n_init=10), over several seeds (accuracy varies between
  local optima, so one seed says little);
- 1-NN on train -> test: faiss IndexFlatL2 (`nn1_predict`) vs KNeighborsClassifier(brute).

    python benchmarks/eval_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier

# Run from anywhere: `eval` and `bigan_repr` are top-level packages next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigan_repr.config import DataConfig  # noqa: E402
from bigan_repr.data.sources import load_images  # noqa: E402
from bigan_repr.train.runtime import set_threads  # noqa: E402
from eval import cluster_eval, hungarian_accuracy, label_budget_probe, linear_probe, nn1_predict  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding the Fashion-MNIST files (default: the system's)")
    parser.add_argument("--dim", type=int, default=1024, help="random-feature dimension")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch, faiss and BLAS together")
    parser.add_argument("--kmeans-seeds", type=int, default=3, help="k-means runs (of 10 restarts) per side")
    parser.add_argument("--tasks", default="probe,budget,kmeans,nn1", help="comma-separated subset to run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random projection")
    return parser.parse_args(argv)


def random_features(data_dir: str | None, dim: int, seed: int) -> dict:
    """ReLU(pixels @ P), P ~ N(0, 1/784) fixed by the seed; float32 (60k, dim) and (10k, dim)."""
    cfg = DataConfig(source="fashion-mnist", data_dir=data_dir)
    train, test = load_images(cfg, "train"), load_images(cfg, "test")
    pixels = train.images[0].size
    projection = np.random.default_rng(seed).normal(size=(pixels, dim)).astype(np.float32) / np.float32(
        np.sqrt(pixels))

    def features(images: np.ndarray) -> np.ndarray:
        return np.maximum(images.reshape(len(images), -1).astype(np.float32) / 255 @ projection, 0)

    return {"train_x": features(train.images), "train_y": train.labels,
            "test_x": features(test.images), "test_y": test.labels}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_probe(d: dict) -> list[dict]:
    rows = []
    for backend in ("torch", "sklearn"):
        r, s = timed(lambda b=backend: linear_probe(d["train_x"], d["train_y"], d["test_x"], d["test_y"], backend=b))
        rows.append({"task": "linear probe, 60k", "impl": backend, "seconds": s, "acc": r["acc"],
                     "note": f"C={r['C']:g} val {100 * r['val_acc']:.2f}% converged={r['converged']}"})
    return rows


def bench_budget(d: dict) -> list[dict]:
    rows = []
    for backend in ("torch", "sklearn"):
        r, s = timed(lambda b=backend: label_budget_probe(d["train_x"], d["train_y"], d["test_x"], d["test_y"],
                                                         budgets=(10,), backend=b)["10/class"])
        rows.append({"task": "linear, 10/class x 5 seeds", "impl": backend, "seconds": s, "acc": r["mean"],
                     "note": f"± {100 * r['std']:.2f}"})
    return rows


def bench_kmeans(d: dict, n_seeds: int) -> list[dict]:
    x, y = d["train_x"], d["train_y"]
    runs = {"ours": [], "sklearn": []}
    for seed in range(n_seeds):
        ours, s = timed(lambda sd=seed: cluster_eval(x, y, restarts=10, seed=sd))
        runs["ours"].append((s, ours["acc"], ours["inertia"]))
        model = KMeans(n_clusters=10, n_init=10, init="k-means++", random_state=seed)
        assign, s = timed(lambda m=model: m.fit_predict(x))
        runs["sklearn"].append((s, hungarian_accuracy(y, assign), float(model.inertia_)))
    rows = []
    for impl, results in runs.items():
        seconds, accs, inertias = np.array(results).T
        rows.append({"task": f"k-means, 60k, {n_seeds} seeds", "impl": impl, "seconds": seconds.mean(),
                     "acc": accs.mean(), "note": f"acc per seed {', '.join(f'{100 * a:.1f}' for a in accs)}; "
                     f"inertia {inertias.mean():.5g}"})
    return rows


def bench_nn1(d: dict) -> list[dict]:
    ours, s_ours = timed(lambda: nn1_predict(d["train_x"], d["train_y"], d["test_x"], index="flat"))
    ref_model = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    ref, s_ref = timed(lambda: ref_model.fit(d["train_x"], d["train_y"]).predict(d["test_x"]))
    agree = f"prediction agreement {np.mean(ours == ref):.4f}"
    return [{"task": "1-NN, 60k -> 10k", "impl": "faiss flat", "seconds": s_ours,
             "acc": float(np.mean(ours == d["test_y"])), "note": agree},
            {"task": "1-NN, 60k -> 10k", "impl": "sklearn brute", "seconds": s_ref,
             "acc": float(np.mean(ref == d["test_y"])), "note": ""}]


def print_table(rows: list[dict]) -> None:
    header = f"{'task':<28}{'implementation':<16}{'seconds':>9}{'speed-up':>10}{'acc %':>8}  notes"
    print(header)
    print("-" * len(header))
    reference = {r["task"]: r["seconds"] for r in rows if r["impl"].startswith("sklearn")}
    for r in rows:
        speedup = f"{reference[r['task']] / r['seconds']:.1f}x" if not r["impl"].startswith("sklearn") else ""
        print(f"{r['task']:<28}{r['impl']:<16}{r['seconds']:>9.1f}{speedup:>10}{100 * r['acc']:>8.2f}  {r['note']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    data = random_features(args.data_dir, args.dim, args.seed)
    tasks = {"probe": bench_probe, "budget": bench_budget, "nn1": bench_nn1,
             "kmeans": lambda d: bench_kmeans(d, args.kmeans_seeds)}
    rows = []
    for name in args.tasks.split(","):
        rows += tasks[name](data)
        print(f"  done: {name}", file=sys.stderr, flush=True)
    print(f"threads={args.threads}  features: Fashion-MNIST, random projection to {args.dim}-d + ReLU  "
          f"train {len(data['train_y'])} / test {len(data['test_y'])}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
