"""Does G invert E? The digits coupling table: the default recipe against its controls, over seeds.

    python benchmarks/coupling.py --seeds 0,1,2 --threads 1 --out benchmarks/results/coupling-digits

Each row is `bigan pipeline` on the default data (digits) with the row's flags and `--seed S`: training,
then the report's evaluation (its "coupling" and "generation" objects, and the exported layer's k-NN and
linear probe). The rows:

- the old default: 10 epochs (110 steps), no x-cycle term (``--epochs 10 --recon-weight 0``);
- the new default's steps without the x-cycle term (``--recon-weight 0``): is it the term or the steps?
- the default (100 epochs = 1,100 steps, x-cycle weight 0.05);
- the default with layer norm in D (``--d-norm layer``).

Each run goes to OUT/runs/ROW-SEED; its numbers to OUT/coupling.json as it finishes, so an interrupted
invocation resumes (a half-trained run from its last checkpoint; a finished one is not trained again).
OUT/coupling.md holds the table: mean ± std over the seeds measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bigan_repr.config import Config, resolve_layer
from bigan_repr.report.run_report import evaluate_run
from bigan_repr.runs.atomic import atomic_write_text
from bigan_repr.train.runtime import set_threads
from bigan_repr.train.trainer import train

ROWS: dict[str, tuple[str, dict]] = {
    "old-default": ("old default (`--epochs 10 --recon-weight 0`: 110 steps, no x-cycle term)",
                    {"train": {"epochs": 10.0, "recon_weight": 0.0}}),
    "no-xcycle": ("the default's steps, no x-cycle term (`--recon-weight 0`)", {"train": {"recon_weight": 0.0}}),
    "default": ("**default** (100 epochs = 1,100 steps, `--recon-weight 0.05`)", {}),
    "d-layer-norm": ("default + layer norm in D (`--d-norm layer`)", {"model": {"d_norm": "layer"}}),
}
# (column, how to read it from a run's numbers, decimals, scale)
COLUMNS = (("recon ratio", "recon_ratio", 2, 1), ("latent ratio", "latent_ratio", 2, 1),
           ("D %", "d_accuracy", 1, 100), ("class kept / ceiling %", "class_kept_share", 1, 1),
           ("precision", "precision", 2, 1), ("recall", "recall", 2, 1),
           ("classes covered", "classes_covered", 1, 1), ("(realistic)", "classes_covered_realistic", 1, 1),
           ("k-NN", "knn", 1, 100), ("linear", "linear", 1, 100))


def numbers(report: dict, layer: str) -> dict:
    """The table's numbers from a report.json payload."""
    c, g = report["coupling"], report["generation"]
    exported = next(v for k, v in report["results"].items() if k.endswith(f"({layer})") and "random" not in k)
    return {"recon_ratio": c["recon_ratio"], "latent_ratio": c["latent_ratio"], "d_accuracy": c["d_accuracy"],
            "class_kept_share": 100 * c["class_kept"] / c["class_kept_ceiling"], "precision": g["precision"],
            "recall": g["recall"], "classes_covered": g["classes_covered"],
            "classes_covered_realistic": g["classes_covered_realistic"], "knn": exported["knn_acc"],
            "linear": exported["linear_acc"], "coupled": c["coupled"], "verdict": c["verdict"]}


def measured(cfg: Config, run: Path) -> dict:
    """Train (resuming an unfinished run) and evaluate as `bigan pipeline` does, without its pictures."""
    resume = (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("step_*.pt"))
    train(cfg, run, resume=resume, progress=False)
    return numbers(evaluate_run(run, plot=False), resolve_layer(cfg, None))


def cell(values: list[float], decimals: int, scale: float) -> str:
    v = [x * scale for x in values]
    return f"{statistics.mean(v):.{decimals}f}" + (f" ± {statistics.stdev(v):.{decimals}f}" if len(v) > 1 else "")


def table(results: dict) -> str:
    lines = ["| recipe | n | " + " | ".join(name for name, *_ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for row, (name, _) in ROWS.items():
        runs = [r for key, r in results.items() if key.rsplit("-", 1)[0] == row]
        if runs:
            cells = [cell([r[key] for r in runs], d, s) for _, key, d, s in COLUMNS]
            lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/coupling-digits"))
    args = p.parse_args()
    rows = args.rows.split(",")
    if unknown := sorted(set(rows) - set(ROWS)):
        p.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    set_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "coupling.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for row in rows:
            key = f"{row}-{seed}"
            if key in results:
                continue
            cfg = Config().updated(ROWS[row][1]).updated({"train": {"seed": seed, "threads": args.threads}})
            start = time.perf_counter()
            results[key] = measured(cfg, args.out / "runs" / key) | {"seconds": round(time.perf_counter() - start)}
            print(f"{key}: recon ratio {results[key]['recon_ratio']:.3f}, {results[key]['verdict']} "
                  f"({results[key]['seconds']} s)", flush=True)
            atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    markdown = ("# Digits: G and E coupling, default recipe against its controls (mean ± std over seeds)\n\n"
                + table(results) + "\n")
    atomic_write_text(args.out / "coupling.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
