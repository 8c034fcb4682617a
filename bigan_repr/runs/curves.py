"""Learning curves of a run, drawn from its metrics.jsonl into curves.png; and several runs'
validation curves overlaid, for `bigan compare`.

Three panels: the losses and D's bound; reconstruction error beside its shuffled-pair
baseline; and the validation probe's accuracies when --eval-every was on. The metrics are streamed
and thinned (``metrics_log.thinned_rows``): a plot holds at most a few thousand rows of each kind,
however long the run.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .atomic import atomic_write
from .metrics_log import METRICS_FILE, metrics_rows, thinned_rows

_VALIDATION_KEYS = ("val_linear", "val_knn", "val_nn1")  # what the validation probe logs


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(r["epoch"] if "epoch" in r else r["step"], r[key]) for r in rows
              if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def _split_rows(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """metrics.jsonl's training rows and validation rows (each thinned), the latter placed on the epoch axis."""
    path = Path(run_dir) / METRICS_FILE
    train_rows = thinned_rows(metrics_rows(path), lambda r: r.get("kind") != "eval")
    eval_rows = thinned_rows(metrics_rows(path), lambda r: r.get("kind") == "eval")
    logged = [(0, 0.0)] + [(r["step"], r["epoch"]) for r in train_rows if "epoch" in r]
    steps, epochs = zip(*sorted(logged), strict=True)
    for r in eval_rows:  # epochs grow linearly with steps: interpolate between the logged ones
        r["epoch"] = float(np.interp(r["step"], steps, epochs))
    return train_rows, eval_rows


def plot_curves(run_dir: str | Path) -> Path | None:
    """Write ``curves.png`` in the run directory; None when nothing has been logged yet."""
    train_rows, eval_rows = _split_rows(run_dir)
    if not train_rows:
        return None
    panels = [
        ("losses", train_rows, ("d_loss", "g_loss", "bound")),
        ("reconstruction ||x - G(E(x))||", train_rows, ("recon", "recon_shuffled")),
        ("validation accuracy", eval_rows, _VALIDATION_KEYS),
    ]
    panels = [p for p in panels if p[1]]
    fig = Figure(figsize=(5 * len(panels), 3.6))
    FigureCanvasAgg(fig)
    for i, (title, source, keys) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key in keys:
            ax.plot(*_series(source, key), label=key, marker="." if source is eval_rows else None)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return atomic_write(Path(run_dir) / "curves.png", lambda f: fig.savefig(f, format="png", dpi=90))


def validation_overlay(runs: dict[str, Path]) -> bytes | None:
    """PNG: one panel per validation metric, one line per run ({label: run directory}), by epoch.

    None when no run has a validation probe (--eval-every).
    """
    probed = {label: rows for label, run in runs.items() if (rows := _split_rows(run)[1])}
    if not probed:
        return None
    keys = [k for k in _VALIDATION_KEYS if any(k in r for rows in probed.values() for r in rows)]
    fig = Figure(figsize=(4.6 * len(keys), 3.6))
    FigureCanvasAgg(fig)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        for label, rows in probed.items():
            ax.plot(*_series(rows, key), marker=".", label=label)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
