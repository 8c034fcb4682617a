"""Every objective, same architecture and budget, on Fashion-MNIST: one comparison table.

    python benchmarks/objectives.py --steps 1000 --threads 2 --out benchmarks/results/objectives

Each objective trains the paper's MLP BiGAN (1024 units, z = 50, batch 128) for --steps G/E
updates with its registry defaults (optimizer, learning rate, n_critic) and nothing beside the
objective (no invariance term, no x-cycle term); then E(x) = z of the
60k training and 10k test images is evaluated: linear probe, weighted k-NN, 1-NN, k-means
ACC/NMI, wall time, and whether training hit NaN. Raw pixels are in the table for reference.
Beside the features, each row carries the numbers every report gives on G and E
(bigan_repr/report/generative_check.py, the same function): the reconstruction and latent ratios,
D's ranking accuracy, the class kept by reconstruction as a share of its ceiling, and the samples'
precision, recall and classes covered (realistic ones in brackets).

Runs go to OUT/runs/NAME; rows are written to OUT/results.json as they finish, and a rerun skips
the objectives already there (delete the file, or an entry, to measure again).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bigan_repr.eval import cluster_eval, knn_eval, linear_probe
from results_file import ResultsFile, parse_args

from bigan_repr.config import Config
from bigan_repr.data.sources import load_images
from bigan_repr.features.encoder import load_encoder, raw_pixels
from bigan_repr.losses.objectives import OBJECTIVES
from bigan_repr.report.generative_check import coupling_and_generation
from bigan_repr.train.trainer import TrainingDiverged, train_to_end

COLUMNS = ("linear", "knn", "nn1", "kmeans_acc", "kmeans_nmi", "recon_ratio", "latent_ratio", "d_accuracy",
           "class_kept", "precision", "recall", "classes", "train_s", "nan")
# "classes" is shown from two stored counts: every class G's samples cover, and (in brackets) the realistic ones
_RATIOS = ("recon_ratio", "latent_ratio", "precision", "recall")  # printed as 0-1 numbers, not percent


def evaluate(train_x, train_y, test_x, test_y) -> dict:
    knn = knn_eval(train_x, train_y, test_x, test_y)
    clusters = cluster_eval(test_x, test_y, restarts=3)
    linear = linear_probe(train_x, train_y, test_x, test_y, c_grid=(0.1, 1.0), max_iter=300)
    return {"linear": linear["acc"], "knn": knn["knn_acc"], "nn1": knn["nn1_acc"],
            "kmeans_acc": clusters["acc"], "kmeans_nmi": clusters["nmi"]}


def objective_config(name: str, args) -> Config:
    return Config().updated({
        "data": {"source": "fashion-mnist"},
        "model": {"arch": "mlp", "hidden": 1024, "z_dim": 50, "features": "z"},
        # the objective alone: no invariance term and no x-cycle term, whatever the defaults become
        "train": {"objective": name, "steps": args.steps, "batch_size": 128, "threads": args.threads,
                  "seed": args.seed, "log_every": 100, "checkpoint_every": args.steps,
                  "invariance": "none", "recon_weight": 0.0},
    })


def run_objective(cfg: Config, out: Path, data) -> dict:
    name = cfg.train.objective
    start = time.perf_counter()
    try:
        train_to_end(cfg, out / "runs" / name)
    except TrainingDiverged:
        return {"nan": True, "train_s": time.perf_counter() - start}
    row = {"nan": False, "train_s": time.perf_counter() - start}
    enc = load_encoder(out / "runs" / name)
    train_set, test_set = data
    checks = coupling_and_generation(enc, train_set, test_set)
    coupling, generation = checks["coupling"], checks["generation"]
    row |= {k: coupling[k] for k in ("recon_ratio", "latent_ratio", "d_accuracy")}
    row |= {"class_kept": coupling["class_kept"] / coupling["class_kept_ceiling"],
            "precision": generation["precision"], "recall": generation["recall"],
            "classes_covered": generation["classes_covered"],
            "classes_covered_realistic": generation["classes_covered_realistic"]}
    row |= evaluate(enc.encode(train_set.images), train_set.labels, enc.encode(test_set.images), test_set.labels)
    return row


def _classes(row: dict) -> str | None:
    if "classes_covered" not in row:
        return None
    return f"{row['classes_covered']} ({row['classes_covered_realistic']})"


def table(rows: dict[str, dict]) -> str:
    lines = ["| objective | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in rows.items():
        cells = []
        for c in COLUMNS:
            v = _classes(row) if c == "classes" else row.get(c)
            cells.append("-" if v is None else "yes" if v is True else "no" if v is False else v
                         if isinstance(v, str) else f"{v:.0f}" if c == "train_s" else
                         f"{v:.2f}" if c in _RATIOS else f"{100 * v:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objectives", default=",".join(OBJECTIVES))
    p.add_argument("--out", default="benchmarks/results/objectives")
    args = parse_args(p)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_config = Config().updated({"data": {"source": "fashion-mnist"}})
    data = (load_images(data_config.data, "train"), load_images(data_config.data, "test"))
    results = ResultsFile(out / "results.json", indent=2)
    if "raw pixels" not in results:
        start = time.perf_counter()  # the row's config: the one its data was loaded by
        results.add("raw pixels", evaluate(raw_pixels(data[0].images), data[0].labels, raw_pixels(data[1].images),
                                           data[1].labels), data_config, start)
    print(table(results.rows), flush=True)
    for name in args.objectives.split(","):
        if name in results:
            continue
        start, cfg = time.perf_counter(), objective_config(name, args)
        numbers = run_objective(cfg, out, data)
        results.add(name, numbers, cfg, start)
        print(f"{name}: {json.dumps(numbers)}", flush=True)
    print(f"\nFashion-MNIST, MLP BiGAN, {args.steps} steps of batch 128, seed {args.seed}, E(x) features\n")
    print(table(results.rows))


if __name__ == "__main__":
    main()
