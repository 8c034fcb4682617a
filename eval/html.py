"""Self-contained HTML pages for a report and for a comparison of runs.

One file each: inline CSS, every image inlined as a data: URI, no scripts and no external
resources, so a page opens offline in any browser. Takes a report's payload (what
report.json holds) or a comparison (`eval.compare`) plus PNG bytes, and returns a string;
every text is escaped. Metric cells carry their exact value in ``data-value``.
"""

from __future__ import annotations

import base64
import json
import struct
from html import escape
from typing import NamedTuple

from .report import Column, Method, best_rows, cell_text, cell_value, columns_for, judgement_rows

# (section id, heading), in page order. Picture sections appear when the caller supplies them.
REPORT_SECTIONS = (
    ("results", "Results"),
    ("classifier", "Classifier"),
    ("clusters", "Clusters"),
    ("coupling", "Is the BiGAN doing its job?"),
    ("samples", "Samples G(z)"),
    ("reconstructions", "Reconstructions"),
    ("curves", "Learning curves"),
    ("embedding", "Embedding"),
    ("neighbors", "Nearest neighbours"),
    ("config", "Config"),
)
# Display width to aim for when enlarging a small grid by a whole factor (pixels stay square).
_TARGET_WIDTH = {"samples": 360, "reconstructions": 600}
_PAIRED = (("samples", "reconstructions"), ("embedding", "neighbors"))  # shown side by side
_CONFIG_ROWS = 14  # config lines per column: the three sections fit one row of a laptop screen

_CSS = """
:root { --fg: #1d2430; --muted: #5b6575; --line: #e3e7ee; --best: #dff3e4; --bg: #f5f6f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 22px 20px 48px; }
h1 { font-size: 23px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.facts { color: var(--muted); margin: 0; }
.facts b { color: var(--fg); font-weight: 600; }
.facts span { margin-right: 18px; white-space: nowrap; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin-top: 18px; }
.pair { display: flex; flex-wrap: wrap; gap: 0 18px; }
.pair > section { flex-grow: 1; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.metrics { width: 100%; }
table.metrics th, table.metrics td { padding: 5px 7px; border-bottom: 1px solid var(--line);
                                     text-align: right; white-space: nowrap; }
table.metrics thead th { border-bottom: 2px solid var(--fg); font-weight: 600; white-space: normal; }
table.metrics .label { text-align: left; }
table.metrics td.label { white-space: normal; min-width: 4em; }
tr.baseline { color: var(--muted); }
td.best { font-weight: 700; color: var(--fg); background: var(--best); }
figure { margin: 0; }
figcaption, .note, ul.notes { color: var(--muted); font-size: 13.5px; }
figcaption { margin-top: 6px; max-width: 80ch; }
ul.notes { margin: 10px 0 0; padding-left: 20px; }
img { max-width: 100%; height: auto; }
img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; }
.missing { color: var(--muted); font-style: italic; }
.config { display: flex; flex-wrap: wrap; gap: 8px 28px; font-size: 13.5px; }
.config h3 { font-size: 14px; margin: 0 0 3px; }
.config .rows { column-gap: 28px; }
.kv { display: flex; gap: 8px; break-inside: avoid; width: 17em; }
.kv span { flex: 0 0 11.5em; color: var(--muted); overflow-wrap: anywhere; }
.kv code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
"""


TABLE_LEGEND = ('<p class="note">Percentages (NMI and ARI × 100); k-means and label budgets are mean ± std over '
                "seeds. k-means L2 / PCA-w: k-means accuracy on L2-normalised features and on PCA-whitened + L2 "
                "ones (DeepCluster's). The highest value in each column is highlighted; grey rows are baselines.</p>")


class Picture(NamedTuple):
    png: bytes | None  # None: not available, and the caption says why
    caption: str


def _png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the PNG header's IHDR chunk."""
    return struct.unpack(">II", png[16:24])


def _display_width(png: bytes, target_width: int | None) -> int:
    """The PNG's width, enlarged by a whole factor towards ``target_width`` (small grids)."""
    width = _png_size(png)[0]
    return width * max(1, target_width // width) if target_width else width


def _img(png: bytes, alt: str, display_width: int) -> str:
    width, height = _png_size(png)
    pixelated = ' class="pixelated"' if display_width > width else ""
    data = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" width="{display_width}" '
            f'height="{height * display_width // width}"{pixelated}>')


def section(section_id: str, heading: str, body: str, style: str = "") -> str:
    style = f' style="{style}"' if style else ""
    return f'<section id="{section_id}"{style}>\n<h2>{escape(heading)}</h2>\n{body}\n</section>'


def picture_section(section_id: str, heading: str, picture: Picture) -> str:
    if picture.png is None:
        return section(section_id, heading, f'<p class="missing">{escape(picture.caption)}</p>')
    width = _display_width(picture.png, _TARGET_WIDTH.get(section_id))
    body = f"<figure>{_img(picture.png, heading, width)}<figcaption>{escape(picture.caption)}</figcaption></figure>"
    # in a .pair, sections sit side by side only when both pictures fit at this width (+ padding)
    return section(section_id, heading, body, style=f"flex-basis: {width + 42}px")


def _header(text: str) -> str:
    # headers may wrap at spaces and after "@", never at a hyphen ("1-NN", "k-means")
    return escape(text.replace("-", "\u2011")).replace("@", "@<wbr>")


def metrics_table(lead: list[str], rows: list[tuple[list[str], dict, str]], columns: list[Column]) -> str:
    """A table of label cells (``lead`` headers) then metric columns, best value per column marked.

    ``rows``: (label cells, metrics dict, row CSS class).
    """
    best = best_rows(columns, [metrics for _, metrics, _ in rows])
    head = "".join(f'<th class="label">{escape(h)}</th>' for h in lead)
    head += "".join(f'<th data-key="{escape(c.key)}">{_header(c.head)}</th>' for c in columns)
    body = []
    for i, (labels, metrics, css) in enumerate(rows):
        cells = "".join(f'<th class="label" scope="row">{escape(text)}</th>' if j == 0
                        else f'<td class="label">{escape(text)}</td>' for j, text in enumerate(labels))
        for c in columns:
            value = cell_value(c, metrics)
            attrs = f' data-key="{escape(c.key)}"' + ("" if value is None else f' data-value="{value!r}"')
            attrs += ' class="best"' if i in best[c.key] else ""
            cells += f"<td{attrs}>{escape(cell_text(c, metrics))}</td>"
        body.append(f'<tr class="{css}">{cells}</tr>')
    return (f'<div class="scroll"><table class="metrics">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>")


def _row_class(method: str) -> str:
    return "model" if Method.parse(method).is_model else "baseline"


def _results_section(payload: dict) -> str:
    results = payload["results"]
    rows = [([method], metrics, _row_class(method)) for method, metrics in results.items()]
    table = metrics_table(["method"], rows, columns_for(list(results.values())))
    notes = "".join(f"<li>{escape(note)}</li>" for note in payload.get("notes", []))
    return section("results", "Results", table + TABLE_LEGEND + (f'<ul class="notes">{notes}</ul>' if notes else ""))


def _classifier_section(classifier: dict) -> str:
    """A semi-supervised run's own classifier, beside the frozen-feature table above it."""
    text = (f'<p>Test accuracy of the run\'s classifier: <b>{classifier["test_accuracy"]:.1f}%</b>, '
            f'trained on {classifier["labeled"]} labelled images ({classifier["labels_per_class"]} per class, '
            f'label seed {classifier["label_seed"]}); every other training image was used without its label.</p>')
    return section("classifier", "Classifier", text)


def _clusters_section(clusters: dict) -> str:
    """A mixed:K run's categorical head as a clusterer, scored as the k-means columns are."""
    text = (f'<p>Each test image\'s cluster is the argmax of E\'s {clusters["k"]} cluster logits: ACC '
            f'<b>{clusters["acc"]:.1f}%</b> (classes matched to clusters one to one), NMI {clusters["nmi"]:.1f}, '
            f'ARI {clusters["ari"]:.1f}; {clusters["clusters_used"]} of the {clusters["k"]} clusters hold an '
            'image.</p>')
    return section("clusters", "Clusters", text)


def _coupling_section(payload: dict) -> str:
    """G and E's coupling and G's samples in numbers (report.json's "coupling" and "generation")."""
    rows = "".join(f'<tr><td class="label">{escape(what)}</td><td>{escape(value)}</td></tr>'
                   for what, value in judgement_rows(payload))
    verdict = payload.get("coupling", {}).get("verdict", "")
    space = payload.get("generation", {}).get("feature_space", "")
    note = ("Ratios: 0 = exact inverse, 1 = G ignores E's code. Precision and recall of G(z) against the test "
            f"images in one fixed space per dataset ({space}); classes by a k-NN classifier on raw pixels.")
    body = (f"<p><b>{escape(verdict)}</b></p>" if verdict else "") + \
        f'<table class="metrics">{rows}</table><p class="note">{escape(note)}</p>'
    return section("coupling", "Is the BiGAN doing its job?", body)


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, allow_nan=False)


def _config_section(config: dict) -> str:
    blocks = []  # per config section: a heading, then its key-value lines in columns
    for name, values in config.items():
        lines = "".join(f'<div class="kv"><span>{escape(str(k))}</span><code>{escape(_value(v))}</code></div>'
                        for k, v in values.items())
        columns = max(1, -(-len(values) // _CONFIG_ROWS))
        blocks.append(f'<div><h3>{escape(str(name))}</h3>'
                      f'<div class="rows" style="columns: {columns}">{lines}</div></div>')
    return section("config", "Config", f'<div class="config">\n{"".join(blocks)}\n</div>')


def _facts(meta: dict) -> str:
    shown = [("data", "data"), ("objective", "objective"), ("arch", "arch"), ("step", "step"), ("layer", "exports")]
    spans = [f"<span>{escape(name)} <b>{escape(str(meta[key]))}</b></span>" for key, name in shown if key in meta]
    return f'<p class="facts">{"".join(spans)}</p>' if spans else ""


def page(title: str, header_extra: str, sections: list[str]) -> str:
    """A complete HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<header><h1>{escape(title)}</h1>{header_extra}</header>\n" + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def render_report_html(payload: dict, pictures: dict[str, Picture] | None = None) -> str:
    """report.html: the results table with baselines, then each supplied picture, then the config."""
    pictures = pictures or {}
    html = {"results": _results_section(payload)}
    if payload.get("classifier"):
        html["classifier"] = _classifier_section(payload["classifier"])
    if payload.get("clusters"):
        html["clusters"] = _clusters_section(payload["clusters"])
    if payload.get("coupling") or payload.get("generation"):
        html["coupling"] = _coupling_section(payload)
    for section_id, heading in REPORT_SECTIONS:
        if section_id in pictures:
            html[section_id] = picture_section(section_id, heading, pictures[section_id])
    if payload["meta"].get("config"):
        html["config"] = _config_section(payload["meta"]["config"])
    for a, b in _PAIRED:
        if a in html and b in html:
            html[a], html[b] = f'<div class="pair">\n{html[a]}\n{html[b]}\n</div>', ""
    ordered = [html[s] for s, _ in REPORT_SECTIONS if html.get(s)]
    return page(payload["title"], _facts(payload["meta"]), ordered)
