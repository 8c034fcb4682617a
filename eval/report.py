"""Reports of evaluation results: markdown/terminal tables, report.json, embedding plots.

Owns presentation only: it takes the dicts that `eval.suite` returns ({method: metrics})
and never computes a metric. Every file is written atomically (temp file in the same
folder, fsync, os.replace) so an interrupted run never leaves a half-written report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bigan_repr.atomic import atomic_write
from eval.validation import check_features

# (result key, column header), in reading order: neighbours, linear, clustering.
_METRIC_COLUMNS = (
    ("nn1_acc", "1-NN"),
    ("knn_acc", "k-NN"),
    ("linear_acc", "linear"),
    ("kmeans_acc", "k-means acc"),
    ("kmeans_nmi", "NMI"),
    ("kmeans_ari", "ARI"),
)
_MISSING = "-"
_TSNE_MAX_POINTS = 2000


class ReportPaths(NamedTuple):
    json: Path
    markdown: Path


def _percent(value) -> str:
    return _MISSING if value is None else f"{100.0 * float(value):.1f}"


def _budget_cell(budget: dict | None) -> str:
    if budget is None:
        return _MISSING
    if len(budget.get("accs", ())) == 1:
        # A single run (the deterministic 100% budget) has no spread to report.
        return _percent(budget["mean"])
    return f"{_percent(budget['mean'])} ± {_percent(budget['std'])}"


def _table_rows(results: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """Header and one row of cells per method; only columns some method has."""
    columns = [
        (key, head)
        for key, head in _METRIC_COLUMNS
        if any(key in metrics for metrics in results.values())
    ]
    budget_names = list(
        dict.fromkeys(name for metrics in results.values() for name in metrics.get("budgets", {}))
    )
    header = ["method"] + [head for _, head in columns]
    header += [f"linear@{name}" for name in budget_names]
    rows = []
    for method, metrics in results.items():
        row = [method] + [_percent(metrics.get(key)) for key, _ in columns]
        for name in budget_names:
            budget = metrics.get("budgets", {}).get(name)
            row.append(_budget_cell(budget))
        rows.append(row)
    return header, rows


def render_markdown(results: dict[str, dict], *, title: str, notes: list[str] | None = None) -> str:
    """Markdown report: a method x metric table in percent, budgets as mean ± std."""
    header, rows = _table_rows(results)
    cells = [[cell.replace("|", "\\|") for cell in row] for row in [header, *rows]]
    lines = [
        f"# {title}",
        "",
        "All numbers are percentages (NMI and ARI x 100); budgets are mean ± std over seeds.",
        "",
        "| " + " | ".join(cells[0]) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    if notes:
        lines += ["", "Notes:", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def render_table_text(results: dict[str, dict]) -> str:
    """Plain aligned columns for a terminal (same cells as the markdown table)."""
    header, rows = _table_rows(results)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)])

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def _json_default(obj):
    # numpy scalars and arrays sneak into metric dicts; JSON wants plain Python.
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to report.json")


def write_report(
    out_dir, results: dict[str, dict], *, title: str, meta: dict, notes: list[str] | None = None
) -> ReportPaths:
    """Write report.json (title, meta, notes, results) and report.md into out_dir."""
    out_dir = Path(out_dir)
    payload = {"title": title, "meta": meta, "notes": list(notes or []), "results": results}
    text = json.dumps(payload, indent=2, default=_json_default) + "\n"
    markdown = render_markdown(results, title=title, notes=notes)
    json_path = atomic_write(out_dir / "report.json", lambda f: f.write(text.encode()))
    md_path = atomic_write(out_dir / "report.md", lambda f: f.write(markdown.encode()))
    return ReportPaths(json=json_path, markdown=md_path)


def _embed_2d(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (x.shape[0] - 1) / 3)
        return TSNE(
            n_components=2, init="pca", perplexity=perplexity, random_state=seed
        ).fit_transform(x)
    raise ValueError(f"unknown embedding method {method!r}; choose 'pca' or 'tsne'")


def plot_embedding(
    features, labels, path, *, title: str, method: str = "pca", seed: int = 0
) -> Path:
    """Save a 2-D PCA or t-SNE scatter of features coloured by label as a PNG."""
    x, y = check_features(features, labels, name="embedding features", require_labels=True)
    if method == "tsne" and x.shape[0] > _TSNE_MAX_POINTS:
        # t-SNE is quadratic-ish in N; a random subsample keeps it to seconds.
        keep = np.random.default_rng(seed).choice(x.shape[0], _TSNE_MAX_POINTS, replace=False)
        x, y = x[keep], y[keep]
    xy = _embed_2d(x, method, seed)
    # A bare Figure with an Agg canvas: no pyplot global state, no GUI backend.
    fig = Figure(figsize=(6, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    classes = np.unique(y)
    cmap = matplotlib.colormaps["tab10" if classes.size <= 10 else "tab20"]
    for i, cls in enumerate(classes):
        mask = y == cls
        ax.scatter(xy[mask, 0], xy[mask, 1], s=4, color=cmap(i % cmap.N), label=str(cls))
    if classes.size <= 20:
        ax.legend(markerscale=3, fontsize="small", loc="best")
    ax.set_title(f"{title} ({method.upper()})")
    ax.set_xticks([])
    ax.set_yticks([])
    return atomic_write(Path(path), lambda f: fig.savefig(f, format="png", dpi=100))
