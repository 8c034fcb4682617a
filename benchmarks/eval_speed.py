"""Benchmark: this project's evaluation against scikit-learn and faiss, same features, same run.

Features are realistic, not separable blobs: Fashion-MNIST pixels (train 60k / test 10k) in
[0, 1] through a fixed random projection to `--dim` (1024) dims and a ReLU, so probe accuracies
sit in the 80s and the solver's convergence matters. Each row is timed once, in the same run,
with the same thread limit for torch, faiss and BLAS:

- probe: `linear_probe` with backend="torch" vs backend="sklearn" (scikit-learn's
  LogisticRegression, lbfgs, tol 1e-4): the same protocol (C from {0.01, 0.1, 1, 10} on a
  stratified 20% of the training labels, ascending, each fit warm-started from the one
  before, stopping when holdout accuracy falls; refit on all), the same objective; then the
  same with every C fitted (stop_early=False, the protocol before the path stopped early);
- budget: 10 labels per class over 5 seeds, both backends;
- kmeans: on the 60k training features, k = 10, 10 restarts with k-means++ seeding, once per
  seed: `cluster_eval(seeds=...)` (every seed's restarts in one batch) vs one
  KMeans(n_init=10) per seed; times are for all seeds;
- nn1: 1-NN on train -> test: `nn1_predict` (exact GEMM) vs faiss IndexFlatL2 (what it used
  before) vs KNeighborsClassifier(brute);
- knn: both k-NN protocols (1-NN Euclidean, weighted cosine 20-NN): `knn_classify`, one GEMM
  for both, vs a faiss flat index per protocol (what it used before);
- row: one evaluation row as a run's report computes it, `eval.evaluate` with its defaults
  (1-NN, k-NN, linear probe, 10 labels per class x 5 seeds, k-means 10 restarts x 5 seeds),
  on the same kind of features at `--row-dim` (2048) dims, timed per protocol, against the
  target of 30 s a row.

    python benchmarks/eval_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier

# Run from anywhere: `eval` and `bigan_repr` are top-level packages next to this folder.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigan_repr.eval import (  # noqa: E402
    cluster_eval,
    evaluate,
    hungarian_accuracy,
    knn_classify,
    label_budget_probe,
    linear_probe,
    nn1_predict,
    weighted_vote,
)
from bigan_repr.eval.knn_index import IndexSpec, NeighbourIndex  # noqa: E402

import eval.suite  # noqa: E402
from bigan_repr.config import DataConfig  # noqa: E402
from bigan_repr.data.sources import load_images  # noqa: E402
from bigan_repr.model.runtime import set_threads  # noqa: E402

TASKS = ("probe", "budget", "kmeans", "nn1", "knn", "row")
ROW_TARGET_S = 30.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding the Fashion-MNIST files (default: the system's)")
    parser.add_argument("--dim", type=int, default=1024, help="random-feature dimension")
    parser.add_argument("--row-dim", type=int, default=2048, help="random-feature dimension of the `row` task")
    parser.add_argument("--threads", type=int, default=2, help="threads for torch, faiss and BLAS together")
    parser.add_argument("--kmeans-seeds", type=int, default=3, help="k-means runs (of 10 restarts) per side")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset to run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random projection")
    args = parser.parse_args(argv)
    unknown = set(args.tasks.split(",")) - set(TASKS)
    if unknown:
        parser.error(f"unknown tasks {', '.join(sorted(unknown))}; valid: {', '.join(TASKS)}")
    return args


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


class Seconds(float):
    """Wall-clock seconds; `.cpu` is the CPU time of this process (all its threads) over the same span.
    On cores shared with other jobs the wall time grows while the CPU time stays near the work done."""

    def __new__(cls, wall: float, cpu: float):
        self = super().__new__(cls, wall)
        self.cpu = cpu
        return self

    def __add__(self, other):
        return Seconds(float(self) + float(other), self.cpu + getattr(other, "cpu", 0.0))


def timed(fn):
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, Seconds(time.perf_counter() - start, time.process_time() - cpu)


def _path(r: dict) -> str:
    return ", ".join(f"{c:g}: {100 * acc:.2f}" for c, acc in r["val_accs"].items())


def bench_probe(d: dict) -> list[dict]:
    rows = []
    for task, stop_early in (("linear probe, 60k", True), ("linear probe, every C", False)):
        for backend in ("torch", "sklearn"):
            r, s = timed(lambda b=backend, e=stop_early: linear_probe(d["train_x"], d["train_y"], d["test_x"],
                                                                      d["test_y"], backend=b, stop_early=e))
            rows.append({"task": task, "impl": backend, "ref": backend == "sklearn", "seconds": s, "acc": r["acc"],
                         "note": f"C={r['C']:g} (holdout % by C: {_path(r)}) converged={r['converged']}"})
    return rows


def bench_budget(d: dict) -> list[dict]:
    rows = []
    for backend in ("torch", "sklearn"):
        r, s = timed(lambda b=backend: label_budget_probe(d["train_x"], d["train_y"], d["test_x"], d["test_y"],
                                                         budgets=(10,), backend=b)["10/class"])
        rows.append({"task": "linear, 10/class x 5 seeds", "impl": backend, "ref": backend == "sklearn",
                     "seconds": s, "acc": r["mean"], "note": f"± {100 * r['std']:.2f}"})
    return rows


def bench_kmeans(d: dict, n_seeds: int) -> list[dict]:
    x, y = d["train_x"], d["train_y"]
    task = f"k-means, 60k, {n_seeds} seeds"
    ours, s_ours = timed(lambda: cluster_eval(x, y, restarts=10, seeds=range(n_seeds)))
    ref, s_ref = [], Seconds(0.0, 0.0)
    for seed in range(n_seeds):
        model = KMeans(n_clusters=10, n_init=10, init="k-means++", random_state=seed)
        assign, s = timed(lambda m=model: m.fit_predict(x))
        s_ref += s
        ref.append((hungarian_accuracy(y, assign), float(model.inertia_)))
    accs, inertias = np.array(ref).T

    def note(per_seed, inertia) -> str:
        return f"acc per seed {', '.join(f'{100 * a:.1f}' for a in per_seed)}; inertia {inertia:.5g}"

    return [{"task": task, "impl": "ours (batched)", "seconds": s_ours, "acc": ours["acc"],
             "note": note(ours["accs"], ours["inertia"])},
            {"task": task, "impl": "sklearn", "ref": True, "seconds": s_ref, "acc": accs.mean(),
             "note": note(accs, inertias.mean())}]


def bench_nn1(d: dict) -> list[dict]:
    task = "1-NN, 60k -> 10k"
    ours, s_ours = timed(lambda: nn1_predict(d["train_x"], d["train_y"], d["test_x"], index="flat"))
    flat, s_flat = timed(lambda: d["train_y"][NeighbourIndex(d["train_x"], "l2", IndexSpec("flat"))
                                              .search(d["test_x"], 1)[1][:, 0]])
    ref_model = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    ref, s_ref = timed(lambda: ref_model.fit(d["train_x"], d["train_y"]).predict(d["test_x"]))

    def acc(pred):
        return float(np.mean(pred == d["test_y"]))

    agree = f"prediction agreement with brute {np.mean(ours == ref):.4f}, with faiss {np.mean(ours == flat):.4f}"
    return [{"task": task, "impl": "ours (GEMM)", "seconds": s_ours, "acc": acc(ours), "note": agree},
            {"task": task, "impl": "faiss flat", "seconds": s_flat, "acc": acc(flat), "note": "the previous search"},
            {"task": task, "impl": "sklearn brute", "ref": True, "seconds": s_ref, "acc": acc(ref), "note": ""}]


def _knn_faiss(d: dict, k: int = 20, temperature: float = 0.07) -> dict:
    """Both protocols on a faiss flat index each: what knn_classify did before."""
    classes = np.unique(d["train_y"])
    _, nearest = NeighbourIndex(d["train_x"], "l2", IndexSpec("flat")).search(d["test_x"], 1)
    sims, ids = NeighbourIndex(d["train_x"], "cosine", IndexSpec("flat")).search(d["test_x"], k)
    return {"nn1_pred": d["train_y"][nearest[:, 0]],
            "knn_pred": weighted_vote(sims, d["train_y"][ids], classes, temperature)}


def bench_knn(d: dict) -> list[dict]:
    task = "1-NN + k-NN, 60k -> 10k"
    ours, s_ours = timed(lambda: knn_classify(d["train_x"], d["train_y"], d["test_x"], k=20, index="flat"))
    ref, s_ref = timed(lambda: _knn_faiss(d))
    agree = (f"agreement with faiss: 1-NN {np.mean(ours['nn1_pred'] == ref['nn1_pred']):.4f}, "
             f"k-NN {np.mean(ours['knn_pred'] == ref['knn_pred']):.4f}")
    return [{"task": task, "impl": "ours (1 GEMM)", "seconds": s_ours, "acc": np.mean(ours["knn_pred"] == d["test_y"]),
             "note": f"acc is k-NN's; 1-NN {100 * np.mean(ours['nn1_pred'] == d['test_y']):.2f}; {agree}"},
            {"task": task, "impl": "faiss flat x2", "ref": True, "seconds": s_ref,
             "acc": np.mean(ref["knn_pred"] == d["test_y"]), "note": "the previous search, one index per protocol"}]


@contextlib.contextmanager
def protocol_timer(names=("knn_eval", "linear_probe", "cluster_eval", "_budget_results")):
    """Wall time of each protocol `eval.suite.evaluate` calls, by name, while the block runs."""
    times, originals = {}, {name: getattr(eval.suite, name) for name in names}

    def wrap(name, fn):
        def timed_fn(*args, **kwargs):
            out, seconds = timed(lambda: fn(*args, **kwargs))
            times[name] = seconds + times.get(name, 0.0)
            return out
        return timed_fn

    for name, fn in originals.items():
        setattr(eval.suite, name, wrap(name, fn))
    try:
        yield times
    finally:
        for name, fn in originals.items():
            setattr(eval.suite, name, fn)


def bench_row(d: dict, dim: int) -> list[dict]:
    task = f"one report row, 60k x {dim}"
    with protocol_timer() as times:
        r, s = timed(lambda: evaluate(d["train_x"], d["train_y"], d["test_x"], d["test_y"]))
    parts = {"k-NN (1-NN + 20-NN)": times["knn_eval"], "linear probe": times["linear_probe"],
             "10/class x 5 seeds": times["_budget_results"], "k-means 10 x 5 seeds": times["cluster_eval"]}
    rows = [{"task": task, "impl": "evaluate()", "seconds": s, "acc": r["linear_acc"],
             "note": f"target <= {ROW_TARGET_S:g} s; acc is linear's (C={r['linear_C']:g}); 1-NN "
                     f"{100 * r['nn1_acc']:.2f}, k-NN {100 * r['knn_acc']:.2f}, 10/class "
                     f"{100 * r['budgets']['10/class']['mean']:.2f} ± {100 * r['budgets']['10/class']['std']:.2f}, "
                     f"k-means {100 * r['kmeans_acc']:.1f} ± {100 * r['kmeans_acc_std']:.1f}"}]
    rows += [{"task": task, "impl": f"  {name}", "seconds": seconds, "acc": None, "note": ""}
             for name, seconds in parts.items()]
    return rows


def print_table(rows: list[dict]) -> None:
    header = f"{'task':<28}{'implementation':<22}{'seconds':>9}{'cpu s':>8}{'speed-up':>10}{'acc %':>8}  notes"
    print(header)
    print("-" * len(header))
    reference = {r["task"]: r["seconds"] for r in rows if r.get("ref")}
    for r in rows:
        speedup = f"{reference[r['task']] / r['seconds']:.1f}x" if r["task"] in reference and not r.get("ref") else ""
        acc = "" if r["acc"] is None else f"{100 * r['acc']:.2f}"
        print(f"{r['task']:<28}{r['impl']:<22}{r['seconds']:>9.1f}{r['seconds'].cpu:>8.1f}{speedup:>10}{acc:>8}  "
              f"{r['note']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    tasks = args.tasks.split(",")
    data = random_features(args.data_dir, args.dim, args.seed) if set(tasks) - {"row"} else None
    run = {"probe": bench_probe, "budget": bench_budget, "nn1": bench_nn1, "knn": bench_knn,
           "kmeans": lambda d: bench_kmeans(d, args.kmeans_seeds)}
    rows = []
    for name in tasks:
        if name == "row":
            rows += bench_row(random_features(args.data_dir, args.row_dim, args.seed), args.row_dim)
        else:
            rows += run[name](data)
        print(f"  done: {name}", file=sys.stderr, flush=True)
    print(f"threads={args.threads}  features: Fashion-MNIST, random projection to {args.dim}-d + ReLU "
          f"({args.row_dim}-d for the row)  train 60000 / test 10000; speed-up: wall time against the task's "
          f"reference (scikit-learn, or faiss for k-NN); cpu s: this process's CPU time, all threads")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
