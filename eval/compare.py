"""Several runs' reports in one table, the best value per column marked.

Rows are every run's model at each feature layer its report holds (with the run's data,
objective, architecture, recipe and checkpoint step), then the baselines once: a baseline is
repeated only where its numbers differ between runs (another dataset or architecture), and
then it names the run it came from. Takes report payloads (what report.json holds) and
returns a dict, text or an HTML page.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape

from .html import TABLE_LEGEND, Picture, metrics_table, page, picture_section, section
from .report import Column, Method, aligned, best_rows, cell_text, cell_value, columns_for

INFO = ("run", "data", "objective", "arch", "recipe", "step", "layer")  # the label columns, in order


def _info(label: str, meta: dict, recipe: str, layer: str | None) -> dict:
    return {"run": label, "data": meta.get("data", ""), "objective": meta.get("objective", ""),
            "arch": meta.get("arch", ""), "recipe": recipe, "step": meta.get("step", ""), "layer": layer or ""}


def _is_model(method: str, results: dict) -> bool:
    """A run's own rows: the model's ("bigan (z)"), or all of them in a report without a model row
    (`bigan eval --out` reports one feature file)."""
    has_model = any(Method.parse(m).is_model for m in results)
    return Method.parse(method).is_model or not has_model


def _baselines(reports: dict[str, dict]) -> list[dict]:
    """One row per distinct (baseline, numbers); the run is named only where a baseline varies."""
    rows: dict[tuple[str, str], dict] = {}
    for label, payload in reports.items():
        meta = payload["meta"]
        for method, metrics in payload["results"].items():
            family, layer = Method.parse(method)
            key = (method, json.dumps(metrics, sort_keys=True, allow_nan=False))
            if _is_model(method, payload["results"]) or key in rows:
                continue
            # a random encoder has the run's architecture; raw pixels have none
            info = _info(family, {"data": meta.get("data", ""), "arch": meta.get("arch", "") if layer else ""},
                         "", layer)
            rows[key] = info | {"method": method, "baseline": True, "metrics": metrics, "from": label}
    variants = Counter(method for method, _ in rows)
    for (method, _), row in rows.items():
        if variants[method] > 1:
            row["run"] = f"{row['run']} (as in {row['from']})"
    return list(rows.values())


def compare_reports(reports: dict[str, dict], recipes: dict[str, str] | None = None) -> dict:
    """{run label: report payload} -> {"columns", "rows", "best"}.

    ``recipes`` gives each run's recipe text (what sets it apart; the caller knows the config's
    defaults). Each row holds the label columns (INFO), the method, whether it is a baseline,
    the report's metrics and ``values`` {column key: number}; ``best`` maps each column key to
    the indices of the rows holding its highest value.
    """
    recipes = recipes or {}
    rows = []
    for label, payload in reports.items():
        for method, metrics in payload["results"].items():
            if _is_model(method, payload["results"]):
                row = Method.parse(method)
                info = _info(label, payload["meta"], recipes.get(label, ""), row.layer if row.is_model else method)
                rows.append(info | {"method": method, "baseline": False, "metrics": metrics})
    rows += _baselines(reports)
    columns = columns_for([row["metrics"] for row in rows])
    for row in rows:
        row["values"] = {c.key: cell_value(c, row["metrics"]) for c in columns}
    best = best_rows(columns, [row["metrics"] for row in rows])
    return {
        "columns": [{"key": c.key, "head": c.head, "budget": c.budget} for c in columns],
        "rows": rows,
        "best": {key: sorted(indices) for key, indices in best.items()},
    }


def _columns(comparison: dict) -> list[Column]:
    return [Column(c["key"], c["head"], c["budget"]) for c in comparison["columns"]]


def _shared(comparison: dict) -> tuple[list[str], dict[str, str]]:
    """The label columns worth showing, and those every run shares ({column: value}), said once."""
    runs = [row for row in comparison["rows"] if not row["baseline"]]
    shared = {key: str(runs[0][key]) for key in INFO[1:-1] if runs and len({str(r[key]) for r in runs}) == 1}
    return [key for key in INFO if key not in shared], shared


def _shared_line(shared: dict[str, str]) -> str:
    return "every run: " + ", ".join(f"{key} {value or '-'}" for key, value in shared.items()) if shared else ""


def render_compare_text(comparison: dict) -> str:
    """Aligned text; a * follows the best value of each column. Label columns that every run
    shares are said once, above the table."""
    columns, best = _columns(comparison), comparison["best"]
    info, shared = _shared(comparison)
    lines = [[*info, *(f"{c.head} " for c in columns)]]  # the space lines headers up with "97.8*"
    for i, row in enumerate(comparison["rows"]):
        cells = [str(row[key]) or "-" for key in info]
        cells += [cell_text(c, row["metrics"]) + ("*" if i in best[c.key] else " ") for c in columns]
        lines.append(cells)
    head = f"{_shared_line(shared)}\n\n" if shared else ""
    return head + aligned(lines, left=len(info)) + "\n* the best value in its column"


def render_compare_html(comparison: dict, curves: Picture | None = None, links: dict[str, str] | None = None) -> str:
    """One page: the table, the runs' validation curves overlaid, and links to each run's report."""
    info, shared = _shared(comparison)
    rows = [([str(row[key]) for key in info], row["metrics"], "baseline" if row["baseline"] else "model")
            for row in comparison["rows"]]
    n_runs = len({row["run"] for row in comparison["rows"] if not row["baseline"]})
    table = metrics_table(info, rows, _columns(comparison))
    sections = [section("results", "Results", table + TABLE_LEGEND)]
    if curves is not None:
        sections.append(picture_section("curves", "Validation curves", curves))
    if links:
        items = "".join(f'<li><a href="{escape(href)}">{escape(label)}</a></li>' for label, href in links.items())
        sections.append(section("reports", "Reports", f"<ul>{items}</ul>"))
    facts = f'<p class="facts">{escape(_shared_line(shared))}</p>' if shared else ""
    return page(f"Comparison of {n_runs} run{'s' * (n_runs != 1)}", facts, sections)
