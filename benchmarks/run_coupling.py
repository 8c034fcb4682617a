"""Does G invert E in runs already trained? Their coupling and generation numbers, grouped, mean ± std.

    python benchmarks/run_coupling.py --out benchmarks/results/preset-coupling \\
        fmnist-semisup=benchmarks/results/semisup-fmnist/runs/c-10-0,benchmarks/results/semisup-fmnist/runs/c-10-1

Each GROUP=RUN[,RUN...] names the runs of one recipe (a preset over label splits or seeds, say). Every run's
checkpoint (the one `bigan report` evaluates) is measured by the function every report calls
(``bigan_repr/report/generative_check.py``), with the run's own seed, and nothing is written into the run.
Numbers go to OUT/run_coupling.json as each run finishes (a second invocation measures only the runs not
there); OUT/run_coupling.md holds the command and the table, with the columns of ``coupling.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from coupling import GENERATIVE_COLUMNS, generative_numbers
from results_file import ResultsFile, command, parse_args, publish

from bigan_repr.config import Config
from bigan_repr.features.encoder import dataset_for, load_encoder
from bigan_repr.report.generative_check import coupling_and_generation


def measured(run: Path) -> tuple[dict, Config]:
    """The run's numbers, and the config it was trained with."""
    loaded = load_encoder(run)
    train_set, test_set = (dataset_for(loaded, None, split) for split in ("train", "test"))
    judged = coupling_and_generation(loaded, train_set, test_set, seed=loaded.config.train.seed)
    if judged is None:
        raise SystemExit(f"{run}: the run trained no G or D (train.adversarial false): nothing to measure")
    return generative_numbers(judged) | {"step": loaded.step}, loaded.config


def table(groups: dict[str, list[str]], results: dict) -> str:
    cols = GENERATIVE_COLUMNS
    lines = ["| runs | n | " + " | ".join(c.name for c in cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for group, runs in groups.items():
        if measured_runs := [results[run] for run in runs if run in results]:
            lines.append(f"| {group} | {len(measured_runs)} | " + " | ".join(c.cell(measured_runs) for c in cols)
                         + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("groups", nargs="+", metavar="GROUP=RUN[,RUN...]")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/run-coupling"))
    args = parse_args(p)
    groups = {}
    for spec in args.groups:
        name, sep, runs = spec.partition("=")
        if not sep or not runs:
            p.error(f"{spec!r}: expected GROUP=RUN[,RUN...]")
        groups[name] = runs.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    results = ResultsFile(args.out / "run_coupling.json")
    for run in (run for runs in groups.values() for run in runs):
        if run in results:
            continue
        start = time.perf_counter()
        numbers, cfg = measured(Path(run))
        kept = results.add(run, numbers, cfg, start)
        print(f"{run}: recon ratio {kept['recon_ratio']:.3f}, {kept['verdict']} ({kept['seconds']} s)", flush=True)
    publish(args.out / "run_coupling.md", f"# Coupling and generation of trained runs (mean ± std over each group's "
            f"runs)\n\n```\n{command()}\n```\n\n{table(groups, results.rows)}\n")


if __name__ == "__main__":
    main()
