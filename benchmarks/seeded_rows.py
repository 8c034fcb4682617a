"""Recipes over seeds on the default data: each row × seed trained and reported once, kept, tabled as mean ± std.

The runner behind ``coupling.py`` and ``hybrids.py``. A row is a name, a label for the table and the config
changes it makes to the benchmark's base recipe (the default, or the one its table was measured at); each run
is trained (resumed where an earlier invocation stopped) and evaluated as `bigan pipeline` does, without its
pictures, into OUT/runs/ROW-SEED. Its numbers go to OUT/NAME.json as soon as it finishes, so a second
invocation measures only what is missing; OUT/NAME.md holds the table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bigan_repr.eval.report import MODEL, Method
from results_file import ResultsFile, parse_args, publish

from bigan_repr.config import Config, resolve_layer
from bigan_repr.report.run_report import evaluate_run
from bigan_repr.train.trainer import train_to_end

# the default recipe until the quick start was cut to 60 epochs at width 512: 100 epochs (1,100 steps) of the
# paper's 1024 units, which the coupling and hybrids tables were measured at
DEFAULT_1100_STEPS = {"model": {"hidden": 1024}, "train": {"epochs": 100.0}}


@dataclass(frozen=True)
class Column:
    name: str
    key: str  # in a run's numbers
    decimals: int = 1
    scale: float = 1.0

    def cell(self, runs: list[dict]) -> str:
        v = [r[self.key] * self.scale for r in runs]
        d = self.decimals
        return f"{statistics.mean(v):.{d}f}" + (f" ± {statistics.stdev(v):.{d}f}" if len(v) > 1 else "")


@dataclass(frozen=True)
class Benchmark:
    name: str  # OUT/NAME.json and OUT/NAME.md
    title: str  # the table's heading
    rows: dict[str, tuple[str, dict]]  # row -> (label, config changes to the default recipe)
    columns: tuple[Column, ...]
    numbers: Callable[[dict, str], dict]  # (report.json payload, exported layer) -> the run's numbers
    summary: Callable[[dict], str]  # a run's numbers -> its progress line
    default_rows: tuple[str, ...] | None = None  # None: every row
    base: dict | None = None  # the recipe the rows change (None: today's default); the tables' runs pin theirs
    threads: int = 1


def exported(report: dict, layer: str) -> dict:
    """The trained encoder's results at the exported layer (not the random-init baseline's)."""
    return report["results"][Method(MODEL, layer).label]


def measured(cfg: Config, run: Path, numbers: Callable[[dict, str], dict]) -> dict:
    train_to_end(cfg, run)
    return numbers(evaluate_run(run, plot=False), resolve_layer(cfg, None))


def table(bench: Benchmark, results: dict) -> str:
    cols = bench.columns
    lines = ["| recipe | n | " + " | ".join(c.name for c in cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for row, (label, _) in bench.rows.items():
        if runs := [r for key, r in results.items() if key.rsplit("-", 1)[0] == row]:
            lines.append(f"| {label} | {len(runs)} | " + " | ".join(c.cell(runs) for c in cols) + " |")
    return "\n".join(lines)


def main(bench: Benchmark, description: str) -> None:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--rows", default=",".join(bench.default_rows or bench.rows), help=f"of {', '.join(bench.rows)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", type=Path, default=Path(f"benchmarks/results/{bench.name}-digits"))
    args = parse_args(p, threads=bench.threads)
    rows = args.rows.split(",")
    if unknown := sorted(set(rows) - set(bench.rows)):
        p.error(f"unknown rows {unknown}; choose from {', '.join(bench.rows)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(args.out / f"{bench.name}.json")
    for seed in (int(s) for s in args.seeds.split(",")):
        for row in rows:
            if (key := f"{row}-{seed}") in results:
                continue
            cfg = Config().updated(bench.base or {}).updated(bench.rows[row][1]) \
                .updated({"train": {"seed": seed, "threads": args.threads}})
            start = time.perf_counter()
            kept = results.add(key, measured(cfg, args.out / "runs" / key, bench.numbers), cfg, start)
            print(f"{key}: {bench.summary(kept)} ({kept['seconds']} s)", flush=True)
    publish(args.out / f"{bench.name}.md", f"# {bench.title}\n\n{table(bench, results.rows)}\n")
