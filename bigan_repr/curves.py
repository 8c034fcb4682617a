"""Learning curves of a run, drawn from its metrics.jsonl into curves.png.

Three panels: the losses and D's bound; reconstruction error beside its shuffled-pair
baseline; and the validation probe's accuracies when --eval-every was on.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .atomic import atomic_write
from .run_dir import RunDir


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(r["epoch"] if "epoch" in r else r["step"], r[key]) for r in rows
              if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def plot_curves(run_dir: str | Path) -> Path | None:
    """Write ``curves.png`` in the run directory; None when nothing has been logged yet."""
    rows = RunDir(run_dir).read_metrics()
    train_rows = [r for r in rows if r.get("kind") != "eval"]
    eval_rows = [r for r in rows if r.get("kind") == "eval"]
    if not train_rows:
        return None
    epoch_of = {r["step"]: r["epoch"] for r in train_rows}
    for r in eval_rows:  # place eval rows on the epoch axis of the nearest logged step
        r["epoch"] = epoch_of.get(r["step"], max((e for s, e in epoch_of.items() if s <= r["step"]), default=0))
    panels = [
        ("losses", train_rows, ("d_loss", "g_loss", "bound")),
        ("reconstruction ||x - G(E(x))||", train_rows, ("recon", "recon_shuffled")),
        ("validation accuracy", eval_rows, ("val_linear", "val_knn", "val_nn1")),
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
