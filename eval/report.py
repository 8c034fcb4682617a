"""Reports of evaluation results: the method x metric table as text, Markdown and report.json.

Owns presentation only: it takes the dicts that `eval.suite` returns ({method: metrics}) and
never computes a metric. It returns strings; writing them to files (atomically) is the
caller's job, so eval/ stays numpy in, dicts and strings out. The HTML page (`eval.html`),
the embedding plot (`eval.embedding`) and run comparison (`eval.compare`) build on the
columns and best-value marks defined here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

# (result key, column header), in reading order: neighbours, linear, clustering (plain, then in other spaces).
_METRIC_COLUMNS = (
    ("nn1_acc", "1-NN"),
    ("knn_acc", "k-NN"),
    ("linear_acc", "linear"),
    ("kmeans_acc", "k-means acc"),
    ("kmeans_nmi", "NMI"),
    ("kmeans_ari", "ARI"),
    ("kmeans_l2_acc", "k-means L2"),  # eval.cluster_spaces: L2-normalised features
    ("kmeans_pcaw_acc", "k-means PCA-w"),  # PCA-whitened + L2 (DeepCluster)
    ("n2d_acc", "N2D"),  # eval.n2d: UMAP, then a Gaussian mixture
)
_MISSING = "-"
# Rows of the MODEL family are the trained model; the others ("random encoder", "raw pixels") are baselines.
MODEL = "bigan"
_LABEL = re.compile(r"^(?P<family>.+?) \((?P<layer>[^()]+)\)$")


class Method(NamedTuple):
    """A row of the report: a family and the layer its features come from (None: raw pixels).

    Results are keyed by :attr:`label` in report.json ("bigan (z)", "raw pixels"); :meth:`parse` reads
    one back. This class is the one place that knows the label's form.
    """

    family: str
    layer: str | None = None

    @property
    def label(self) -> str:
        return self.family if self.layer is None else f"{self.family} ({self.layer})"

    @property
    def is_model(self) -> bool:
        return self.family == MODEL

    @classmethod
    def parse(cls, label: str) -> Method:
        """'bigan (z)' -> Method('bigan', 'z'); 'raw pixels' -> Method('raw pixels')."""
        match = _LABEL.match(label)
        return cls(match["family"], match["layer"]) if match else cls(label)


class Column(NamedTuple):
    key: str  # a metric key ("knn_acc") or "linear@BUDGET"
    head: str  # the header shown
    budget: str | None = None  # the label-budget name for linear@BUDGET columns


def _percent(value) -> str:
    return _MISSING if value is None else f"{100.0 * float(value):.1f}"


def columns_for(results: list[dict]) -> list[Column]:
    """The columns some metrics dict in ``results`` has: metrics first, then label budgets."""
    columns = [Column(key, head) for key, head in _METRIC_COLUMNS if any(key in m for m in results)]
    budgets = dict.fromkeys(name for metrics in results for name in metrics.get("budgets", {}))
    return columns + [Column(f"linear@{name}", f"linear@{name}", name) for name in budgets]


def cell_value(column: Column, metrics: dict) -> float | None:
    """The number a column compares: the metric, or a budget's mean accuracy."""
    if column.budget is None:
        value = metrics.get(column.key)
    else:
        value = (metrics.get("budgets", {}).get(column.budget) or {}).get("mean")
    return None if value is None else float(value)


def cell_text(column: Column, metrics: dict) -> str:
    """Percent with one decimal; budgets and k-means as mean ± std over seeds (a single run has no
    spread, and reports written before k-means had seeds hold the one run's number)."""
    if column.budget is None:
        value, runs = metrics.get(column.key), metrics.get(f"{column.key}s", ())
        if value is None or len(runs) < 2 or metrics.get(f"{column.key}_std") is None:
            return _percent(value)
        return f"{_percent(value)} ± {_percent(metrics[f'{column.key}_std'])}"
    budget = metrics.get("budgets", {}).get(column.budget)
    if budget is None:
        return _MISSING
    if len(budget.get("accs", ())) == 1:
        return _percent(budget["mean"])
    return f"{_percent(budget['mean'])} ± {_percent(budget['std'])}"


def best_rows(columns: list[Column], rows: list[dict]) -> dict[str, set[int]]:
    """{column key: indices of the rows holding its highest value} (ties all count).

    Every metric here is better when higher: accuracies, NMI and ARI.
    """
    best = {}
    for column in columns:
        values = [cell_value(column, metrics) for metrics in rows]
        known = [v for v in values if v is not None]
        best[column.key] = {i for i, v in enumerate(values) if known and v == max(known)}
    return best


def _table_rows(results: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """Header and one row of cells per method; only columns some method has."""
    columns = columns_for(list(results.values()))
    header = ["method"] + [column.head for column in columns]
    rows = [[method] + [cell_text(c, metrics) for c in columns] for method, metrics in results.items()]
    return header, rows


def render_markdown(results: dict[str, dict], *, title: str, notes: list[str] | None = None) -> str:
    """Markdown report: a method x metric table in percent, k-means and budgets as mean ± std."""
    header, rows = _table_rows(results)
    cells = [[cell.replace("|", "\\|") for cell in row] for row in [header, *rows]]
    lines = [
        f"# {title}",
        "",
        "All numbers are percentages (NMI and ARI x 100); k-means and budgets are mean ± std over seeds; k-means "
        "L2 / PCA-w: k-means accuracy on L2-normalised and on PCA-whitened + L2 features.",
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
    return aligned([header, *rows])


def aligned(rows: list[list[str]], left: int = 1) -> str:
    """Rows of cells as aligned text: the first ``left`` columns (labels) flush left, the numbers
    flush right, a rule under row 0."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def fmt(row: list[str]) -> str:
        cells = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(rows[0]), "  ".join("-" * w for w in widths), *map(fmt, rows[1:])])


# the numbers judgement_rows shows of each object (report_file checks them when it reads a report back)
JUDGEMENT_NUMBERS = {
    "coupling": ("recon_ratio", "latent_ratio", "d_accuracy", "code_scale", "class_kept", "class_kept_ceiling",
                 "class_kept_floor"),
    "generation": ("precision", "recall", "k", "samples", "min_class_share", "classes_covered", "n_classes",
                   "classes_covered_realistic"),
}


def judgement_rows(payload: dict) -> list[tuple[str, str]]:
    """report.json's "coupling" and "generation" objects as (what, value) lines of text, for the report
    page and ``bigan info``; none when the report has neither."""
    rows = []
    if c := payload.get("coupling"):
        rows += [
            ("reconstruction ratio ||x - G(E(x))|| / shuffled", f"{c['recon_ratio']:.3f}"),
            ("latent ratio ||z - E(G(z))|| / shuffled", f"{c['latent_ratio']:.3f}"),
            ("D's accuracy (real pairs ranked above fake)", f"{100 * c['d_accuracy']:.1f}%"),
            ("code scale (std of E(x) / the prior's)", f"{c['code_scale']:.3g}"),
            ("class kept by G(E(x)) (ceiling x, floor shuffled)",
             f"{c['class_kept']:.1f}% ({c['class_kept_ceiling']:.1f}%, {c['class_kept_floor']:.1f}%)"),
        ]
    if g := payload.get("generation"):
        rows += [
            (f"precision / recall of G(z) (k = {g['k']}, {g['samples']} samples)",
             f"{g['precision']:.3f} / {g['recall']:.3f}"),
            (f"classes covered by G(z) (>= {100 * g['min_class_share']:g}% of samples each), by realistic ones",
             f"{g['classes_covered']} of {g['n_classes']}, {g['classes_covered_realistic']}"),
        ]
    return rows


def _json_default(obj):
    # numpy scalars and arrays sneak into metric dicts; JSON wants plain Python.
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to report.json")


def report_payload(
    results: dict[str, dict], *, title: str, meta: dict, notes: list[str] | None = None
) -> dict:
    """What report.json holds: title, meta, notes and results, as plain JSON values."""
    payload = {"title": title, "meta": meta, "notes": list(notes or []), "results": results}
    return json.loads(report_json(payload))


def report_json(payload: dict) -> str:
    """report.json's text."""
    return json.dumps(payload, indent=2, default=_json_default, allow_nan=False) + "\n"  # strict JSON: no NaN
