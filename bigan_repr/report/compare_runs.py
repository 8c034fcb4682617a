"""`bigan compare`: several runs' reports in one table, making the missing reports first.

Every argument is checked before any work: no run given twice (under any two paths); an ``--html``
file that the one rule of what may be written where accepts (:func:`runs.targets.check_target`) and
that is none of the files compare reads (a run's report.json, metrics.jsonl or config.json: the page
never replaces the report it compares); a run directory with a report.json has it read and checked
(:mod:`report_file`); one without a report must be a trained run (config.json and a checkpoint), and
gets its report as `bigan report RUN` would make it. The recipe column lists the config
values that differ from the defaults and change what is learned.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bigan_repr.eval.compare import compare_reports, render_compare_html
from bigan_repr.eval.html import Picture

from ..config import Config
from ..errors import UserError
from ..model.checkpoint import best_checkpoint_path, step_checkpoints
from ..model.recipe import BOOKKEEPING
from ..runs.atomic import atomic_write_text
from ..runs.curves import validation_overlay
from ..runs.run_dir import RunDir
from ..runs.targets import check_target
from .report_file import read_report
from .run_report import evaluate_run

READ_FILES = ("report.json", "metrics.jsonl", "config.json")  # what compare reads in each run it is given
# config keys that are not recipe: bookkeeping (model/recipe.py's, and where data lives),
# and what has a column of its own (data source, objective, arch)
_NOT_RECIPE = {
    "data": {"source", "data_dir", "download", "skip_bad", "stream", "workers"},
    "model": {"arch"},
    "train": BOOKKEEPING["train"] | {"objective"},
}


def recipe(config: dict | None) -> str:
    """'recon_weight=0.01, ema=0.999': the config values that differ from the defaults."""
    if not config:
        return ""
    defaults = Config().to_dict()
    parts = []
    for section, values in config.items():
        for key, value in values.items():
            default = defaults.get(section, {})
            if key in _NOT_RECIPE.get(section, ()) or (key in default and default[key] == value):
                continue
            parts.append(f"{key}={value if isinstance(value, str) else json.dumps(value, allow_nan=False)}")
    return ", ".join(parts)


def _check_trained(run: Path) -> None:
    RunDir(run).read_config()  # refuses a folder that is not a run directory
    if not (step_checkpoints(run) or best_checkpoint_path(run).is_file()):
        raise UserError(f"{run} has no report.json and no checkpoint to make one from")


def _labels(runs: list[Path]) -> dict[str, Path]:
    """Folder names, or the paths as given where two folders share a name."""
    names = [run.name for run in runs]
    if len(set(names)) == len(names):
        return dict(zip(names, runs, strict=True))
    return {str(run): run for run in runs}


def _check_arguments(runs: list[str | Path], html: str | Path | None) -> None:
    """Refuse a run given twice (``runs/a`` and ``./runs/a``, or a link to it), and an --html path where
    compare may not write: refused by the targets rule, or a file compare reads (``--html a/report.json``)."""
    seen: dict[Path, str] = {}
    for run in map(str, runs):
        resolved = Path(run).resolve()
        if resolved in seen:
            same = "is given twice" if seen[resolved] == run else f"and {run} are the same run"
            raise UserError(f"{seen[resolved]} {same}; give each run once")
        seen[resolved] = run
    if html is None:
        return
    check_target(html, what="--html", example="compare.html")
    for run in runs:
        if name := next((name for name in READ_FILES if _same_file(html, Path(run) / name)), None):
            raise UserError(f"--html {html} is the {name} of {run}, a file this command reads: name another file "
                            f"to write")


def _same_file(a: str | Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # either one missing: not the same file
        return False


def compare_runs(runs: list[str | Path], *, html: str | Path | None = None, **report_kwargs) -> dict:
    """The comparison of `eval.compare.compare_reports` for these run directories.

    Runs without report.json get one first (``report_kwargs`` go to `evaluate_run`); ``html``
    also writes the comparison as one self-contained page with the validation curves overlaid.
    """
    _check_arguments(runs, html)
    labels = _labels([Path(run) for run in runs])
    reports = {label: read_report(run / "report.json") for label, run in labels.items()
               if (run / "report.json").is_file()}
    missing = [label for label in labels if label not in reports]
    for label in missing:
        _check_trained(labels[label])
    for label in missing:
        print(f"{labels[label]} has no report yet: making one", file=sys.stderr, flush=True)
        evaluate_run(labels[label], **report_kwargs)
        reports[label] = read_report(labels[label] / "report.json")
    reports = {label: reports[label] for label in labels}  # in the order given
    comparison = compare_reports(reports, {label: recipe(r["meta"].get("config")) for label, r in reports.items()})
    if html is not None:
        _write_html(Path(html), comparison, labels)
    return comparison


def _write_html(path: Path, comparison: dict, labels: dict[str, Path]) -> None:
    overlay = validation_overlay(labels)
    curves = Picture(overlay, "Validation accuracies of each run by epoch (--eval-every), on a split of its "
                              "training set." if overlay else "No run has a validation probe (--eval-every).")
    links = {label: os.path.relpath(run / "report.html", path.resolve().parent) for label, run in labels.items()
             if (run / "report.html").is_file()}
    atomic_write_text(path, render_compare_html(comparison, curves, links))
