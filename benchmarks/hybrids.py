"""Hybrids: can the adversarial part add to the invariance term's features? Each against its control.

    python benchmarks/hybrids.py --seeds 0,1,2 --threads 2 --out benchmarks/results/hybrids-digits

Every row is the default recipe on the default data (digits, 1,100 steps) with the row's flags and
``--seed S``, evaluated as `bigan report` does, on the exported (penultimate) layer. Two pairs, each hybrid
beside the invariance-only control of its own loss, at the same steps (``--rows`` adds the same BiGAN without
the hybrid, ``bigan-vicreg`` and ``bigan-infonce``, to tell the hybrid's part from the BiGAN's):

- VICReg alone (``--no-adversarial``) against generative positives (``--generative-positives 0.2``:
  G(E(x) + 0.2 noise) as one more positive view of x, with the BiGAN and its x-cycle term);
- InfoNCE alone (``--no-adversarial --invariance infonce``) against fake negatives
  (``--invariance infonce --fake-negatives``: G(z) among every view's InfoNCE candidates, ContraD's).

Each run goes to OUT/runs/ROW-SEED and its numbers to OUT/hybrids.json as it finishes (an interrupted
invocation resumes); OUT/hybrids.md holds the table, mean ± std over the seeds.
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
    "vicreg-alone": ("VICReg alone (control: `--no-adversarial`)", {"adversarial": False}),
    "bigan-vicreg": ("BiGAN + VICReg, no hybrid (the default)", {}),
    "generative-positives": ("BiGAN + VICReg + generative positives (`--generative-positives 0.2`)",
                             {"generative_positives": 0.2}),
    "infonce-alone": ("InfoNCE alone (control: `--no-adversarial --invariance infonce`)",
                      {"adversarial": False, "invariance": "infonce"}),
    "bigan-infonce": ("BiGAN + InfoNCE, no hybrid (`--invariance infonce`)", {"invariance": "infonce"}),
    "fake-negatives": ("BiGAN + InfoNCE + fake negatives (`--invariance infonce --fake-negatives`)",
                       {"invariance": "infonce", "fake_negatives": True}),
}
# the hybrids' own rows; the "bigan-" rows (same recipe without the hybrid) say whether a difference from the
# control is the hybrid's or the BiGAN's
DEFAULT_ROWS = ("vicreg-alone", "generative-positives", "infonce-alone", "fake-negatives")
# (column, report key of the exported layer's results, or a label budget)
COLUMNS = (("k-NN", "knn_acc"), ("1-NN", "nn1_acc"), ("linear", "linear_acc"), ("10 labels/class", "10/class"),
           ("k-means", "kmeans_acc"), ("k-means L2", "kmeans_l2_acc"), ("k-means PCA-w", "kmeans_pcaw_acc"),
           ("NMI", "kmeans_nmi"))


def numbers(report: dict, layer: str) -> dict:
    """Test % of the exported layer's metrics from a report.json payload."""
    exported = next(v for k, v in report["results"].items() if k.endswith(f"({layer})") and "random" not in k)
    return {key: 100 * (exported["budgets"][key]["mean"] if "/" in key else exported[key]) for _, key in COLUMNS}


def measured(cfg: Config, run: Path) -> dict:
    resume = (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("step_*.pt"))
    train(cfg, run, resume=resume, progress=False)
    return numbers(evaluate_run(run, plot=False), resolve_layer(cfg, None))


def table(results: dict) -> str:
    lines = ["| recipe | n | " + " | ".join(name for name, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for row, (name, _) in ROWS.items():
        runs = [r for key, r in results.items() if key.rsplit("-", 1)[0] == row]
        if runs:
            cells = []
            for _, key in COLUMNS:
                v = [r[key] for r in runs]
                cells.append(f"{statistics.mean(v):.1f}" + (f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else ""))
            lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"of {', '.join(ROWS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/hybrids-digits"))
    args = p.parse_args()
    rows = args.rows.split(",")
    if unknown := sorted(set(rows) - set(ROWS)):
        p.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    set_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "hybrids.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for row in rows:
            key = f"{row}-{seed}"
            if key in results:
                continue
            cfg = Config().updated({"train": ROWS[row][1] | {"seed": seed, "threads": args.threads}})
            start = time.perf_counter()
            results[key] = measured(cfg, args.out / "runs" / key) | {"seconds": round(time.perf_counter() - start)}
            print(f"{key}: k-NN {results[key]['knn_acc']:.1f}, k-means {results[key]['kmeans_acc']:.1f} "
                  f"({results[key]['seconds']} s)", flush=True)
            atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    markdown = ("# Digits: hybrids against the invariance-only controls, exported layer, test % "
                "(mean ± std over seeds)\n\n" + table(results) + "\n")
    atomic_write_text(args.out / "hybrids.md", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
