"""A run's ``metrics.jsonl`` read back a row at a time: the rule a row is held to, and readers that keep
only what their caller needs, however long the run logged.

A row is an object whose ``step`` (when given) is an integer >= 0 and whose ``epoch`` (when given) is a
number; any other row is refused naming its line (:func:`metrics_row`). The file grows with the run
(a row every ``--log-every`` steps, for up to 10^9 steps), so it is never held whole here:
:func:`metrics_rows` streams the rows through :mod:`untrusted`, :func:`last_metrics` keeps one, and
:func:`thinned_rows` keeps at most a fixed number, evenly spread, for plotting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .untrusted import UntrustedFileError, iter_json_lines, kind_of, shown

METRICS_FILE = "metrics.jsonl"
MAX_PLOTTED = 2048  # rows a curve keeps of each kind: a 10^9-step run thinned to what a plot can show


def metrics_row(row: Any, path: str | Path, number: int) -> dict[str, Any]:
    """A metrics row as the run logs it: an object whose step (when given) is an integer >= 0 and
    whose epoch (when given) is a number."""
    if not isinstance(row, dict):
        raise UntrustedFileError(path, f"line {number} is {kind_of(row)} ({shown(row)}), not a metrics row (an object)")
    step, epoch = row.get("step", 0), row.get("epoch", 0)
    if type(step) is not int or step < 0 or type(epoch) not in (int, float):
        raise UntrustedFileError(path, f"line {number}: step must be an integer >= 0 and epoch a number, not "
                                       f"{shown(step)} and {shown(epoch)}")
    return row


def metrics_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every row of the metrics file at ``path``, checked, one at a time; none when there is no file."""
    if not Path(path).exists():
        return
    for number, row in iter_json_lines(path):
        yield metrics_row(row, path, number)


def last_metrics(path: str | Path) -> dict[str, Any] | None:
    """The last row logged (every row checked on the way), holding one row at a time; None when none."""
    last = None
    for last in metrics_rows(path):  # noqa: B007 - the loop keeps the last one
        pass
    return last


def thinned_rows(rows: Iterable[dict[str, Any]], keep: Callable[[dict[str, Any]], bool],
                 limit: int = MAX_PLOTTED) -> list[dict[str, Any]]:
    """The rows ``keep`` accepts, every ``stride``-th of them with the stride doubled whenever more than
    ``limit`` are held, and the last one: at most ``limit + 1`` rows, evenly spread over the run."""
    kept: list[dict[str, Any]] = []
    stride, seen, last = 1, 0, None
    for row in rows:
        if not keep(row):
            continue
        if seen % stride == 0:
            kept.append(row)
            if len(kept) > limit:
                kept, stride = kept[::2], stride * 2  # the kept indices stay the multiples of the stride
        seen, last = seen + 1, row
    if last is not None and (not kept or kept[-1] is not last):
        kept.append(last)
    return kept
