"""The quick start's time and what it keeps: `bigan pipeline` as a user runs it, beside the default it replaced.

    python benchmarks/quick_start.py --seeds 0,1,2 --out benchmarks/results/quick-start-digits

Each run is the command itself in a subprocess, timed whole (start-up, training, the report and its pictures:
what a user waits for), with the command's own thread count (all cores). Rows: today's default (60 epochs =
660 steps at width 512) and the 1,100-step default at width 1024 it replaced, each with ``--seed S``. A run's
wall-clock seconds and its report's coupling, generation and exported-layer numbers go to
OUT/quick_start.json as it finishes, so an interrupted invocation measures only what is missing;
OUT/quick_start.md holds the table, mean ± std over seeds. Time it on an idle machine: a job beside it slows
both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from coupling import generative_numbers
from results_file import ResultsFile, publish
from seeded_rows import Benchmark, Column, exported, table

from bigan_repr.config import Config

# flags on top of `bigan pipeline --seed S`
ROWS: dict[str, tuple[str, list[str]]] = {
    "default": ("**today's default** (`bigan pipeline`: 60 epochs = 660 steps, width 512)", []),
    "default-1100": ("the default it replaced (`--hidden 1024 --epochs 100`: 1,100 steps)",
                     ["--hidden", "1024", "--epochs", "100"]),
}
COLUMNS = (Column("seconds", "seconds", 0), Column("recon ratio", "recon_ratio", 2),
           Column("class kept / ceiling %", "class_kept_share"), Column("precision", "precision", 2),
           Column("recall", "recall", 2), Column("classes covered (realistic)", "classes_covered_realistic"),
           Column("k-NN", "knn", 1, 100), Column("linear", "linear", 1, 100), Column("k-means", "kmeans", 1, 100),
           Column("NMI", "nmi", 1, 100), Column("10 labels/class", "10/class", 1, 100))


def numbers(report: dict, layer: str) -> dict:
    """The table's numbers from a report.json payload."""
    f = exported(report, layer)
    return generative_numbers(report) | {"knn": f["knn_acc"], "linear": f["linear_acc"], "kmeans": f["kmeans_acc"],
                                         "nmi": f["kmeans_nmi"], "10/class": f["budgets"]["10/class"]["mean"]}


BENCHMARK = Benchmark(name="quick_start", title="Digits: the quick start, timed whole, and what it keeps "
                      "(mean ± std over seeds)", rows={k: (label, {}) for k, (label, _) in ROWS.items()},
                      columns=COLUMNS, numbers=numbers, summary=lambda r: f"{r['seconds']} s, {r['verdict']}")


def pipeline(flags: list[str], seed: int, run: Path) -> None:
    """Run `bigan pipeline` with ``flags`` into ``run``, as a user would (a process of its own)."""
    subprocess.run([sys.executable, "-m", "bigan_repr.cli", "pipeline", *flags, "--seed", str(seed),
                    "--out", str(run), "--quiet"], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(ROWS), help=f"of {', '.join(ROWS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/quick-start-digits"))
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(args.out / "quick_start.json")
    for seed in (int(s) for s in args.seeds.split(",")):
        for row in args.rows.split(","):
            if (key := f"{row}-{seed}") in results:
                continue
            started, run = time.perf_counter(), args.out / "runs" / key
            pipeline(ROWS[row][1], seed, run)
            cfg = Config.from_dict(json.loads((run / "config.json").read_text()))
            report = json.loads((run / "report.json").read_text())
            # the row's seconds (its provenance) are the command's wall clock
            kept = results.add(key, numbers(report, report["meta"]["layer"]), cfg, started)
            print(f"{key}: {BENCHMARK.summary(kept)}", flush=True)
    publish(args.out / "quick_start.md", f"# {BENCHMARK.title}\n\n{table(BENCHMARK, results.rows)}\n")


if __name__ == "__main__":
    main()
