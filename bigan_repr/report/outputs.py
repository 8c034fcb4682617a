"""The files of a report: report.json, report.md and the self-contained report.html.

`eval/` renders them as strings and PNG bytes; this module writes them, atomically (temporary
file, fsync, rename), so an interrupted report never leaves a half-written file. Every file is
rendered, and every path checked by the one rule of what may be written where
(:func:`runs.targets.check_target`), before the first is written: a refused report writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..runs.atomic import atomic_write
from ..runs.targets import check_target


class ReportPaths(NamedTuple):
    json: Path
    markdown: Path
    html: Path


def write_report(out_dir: str | Path, payload: dict, *, html: str | None = None,
                 extra: dict[str, bytes] | None = None) -> ReportPaths:
    """Write report.json, report.md and report.html (and ``extra`` {file name: bytes}) into out_dir.

    ``payload`` is `eval.report_payload`'s dict; without ``html`` the page holds the table alone.
    """
    from bigan_repr.eval import render_markdown, report_json
    from bigan_repr.eval.html import render_report_html

    out_dir = Path(out_dir)
    paths = ReportPaths(out_dir / "report.json", out_dir / "report.md", out_dir / "report.html")
    files = {out_dir / name: data for name, data in (extra or {}).items()} | {
        paths.json: report_json(payload).encode(),
        paths.markdown: render_markdown(payload["results"], title=payload["title"], notes=payload["notes"]).encode(),
        paths.html: (html if html is not None else render_report_html(payload)).encode(),
    }
    check_target(out_dir, folder=True)
    for path in files:
        check_target(path)
    for path, data in files.items():
        atomic_write(path, lambda f, data=data: f.write(data))
    return paths
