"""metrics_log.py: a run's metrics.jsonl is streamed, never held whole: the last row costs one row of
memory however long the file, a plot keeps a bounded, evenly spread subsample, and every row is checked."""

import json
import tracemalloc

import pytest

from bigan_repr.runs.metrics_log import last_metrics, metrics_rows, thinned_rows
from bigan_repr.runs.untrusted import UntrustedFileError

ROW = {"epoch": 0.5, "d_loss": 1.25, "g_loss": 0.75, "recon": 3.5, "recon_shuffled": 4.0, "z_mean": 0.01,
       "z_std": 0.5, "prior_std": 0.577, "img_per_s": 1234.5, "note": "x" * 400}  # about 600 bytes, as logged


def _write(path, n: int) -> None:
    with open(path, "w") as f:
        for step in range(1, n + 1):
            f.write(json.dumps({"step": step} | ROW) + "\n")


def _peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_last_row_is_read_holding_one_row_however_long_the_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _write(path, 6000)  # 3.6 MB: held whole as rows, it would take several times that
    last, peak = _peak(lambda: last_metrics(path))
    assert last == {"step": 6000} | ROW
    assert peak < 200_000, f"{peak} bytes at peak: the rows were held"
    _, whole = _peak(lambda: list(metrics_rows(path)))
    assert whole > 20 * peak  # what holding them costs, for scale
    assert last_metrics(tmp_path / "none.jsonl") is None


def test_a_plot_keeps_a_bounded_even_subsample_with_the_first_and_last_rows():
    rows = ({"step": s, "kind": "eval" if s % 10 == 0 else None} for s in range(1, 100_001))
    kept = thinned_rows(rows, lambda r: r["kind"] is None, limit=64)
    steps = [r["step"] for r in kept]
    assert 32 <= len(steps) <= 65 and steps[0] == 1 and steps[-1] == 99_999
    gaps = {b - a for a, b in zip(steps[:-2], steps[1:-1], strict=True)}
    assert len(gaps) <= 2 and max(gaps) <= 2 * 100_000 // 32  # evenly spread (every stride-th kept row)
    few = [{"step": s} for s in range(5)]
    assert thinned_rows(iter(few), lambda r: True, limit=64) == few  # below the bound: every row, once


@pytest.mark.parametrize("line, message", [
    (b"[1]", "line 2 is a list ([1]), not a metrics row (an object)"),
    (b'{"step": -1}', "line 2: step must be an integer >= 0 and epoch a number"),
    (b'{"step": 3, "epoch": "one"}', "line 2: step must be an integer >= 0 and epoch a number"),
    (b'{"step": 3, "d_loss": NaN}', "line 2: holds NaN at d_loss: every number must be finite"),
])
def test_every_row_streamed_is_checked_naming_its_line(tmp_path, line, message):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n' + line + b'\n{"step": 5}\n')
    for read in (last_metrics, lambda p: list(metrics_rows(p))):
        with pytest.raises(UntrustedFileError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("]", r"\]")):
            read(path)
