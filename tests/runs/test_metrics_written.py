"""run_dir.py writes metrics.jsonl as strict JSON that its readers take back (a number that is not finite
as null), and a resume's truncation streams the file, never holding it whole."""

import json
import math
import tracemalloc

import pytest

from bigan_repr.runs.metrics_log import last_metrics
from bigan_repr.runs.run_dir import RunDir
from bigan_repr.runs.untrusted import UntrustedFileError

NOTE = "x" * 400  # a row about as long as the ones a run logs


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_metric_that_is_not_finite_is_written_as_null_and_read_back(tmp_path, bad):
    run_dir = RunDir(tmp_path)
    run_dir.append_metrics({"step": 5, "epoch": 0.5, "d_loss": 0.75})
    diverged = {"step": 10, "epoch": 1.0, "d_loss": bad, "g_loss": 1.5, "scores": [0.5, bad],
                "stopped": "non-finite d_loss"}
    run_dir.append_metrics(diverged)
    text = (tmp_path / "metrics.jsonl").read_text()
    assert not any(token in text for token in ("NaN", "Infinity", '"nan"', '"inf"'))
    json.loads(text.splitlines()[-1], parse_constant=lambda token: pytest.fail(f"{token} written"))
    expected = diverged | {"d_loss": None, "scores": [0.5, None]}
    assert last_metrics(run_dir.metrics_path) == expected and list(run_dir.metrics())[-1] == expected
    assert math.isnan(diverged["d_loss"]) or math.isinf(diverged["d_loss"])  # the caller's row is left as it was


def _write(path, n: int) -> None:
    with open(path, "w") as f:
        for step in range(1, n + 1):
            f.write(json.dumps({"step": step, "epoch": step / 100, "d_loss": 0.5, "note": NOTE}) + "\n")


def test_truncation_streams_the_rows_it_keeps(tmp_path):
    run_dir = RunDir(tmp_path)
    _write(run_dir.metrics_path, 6000)  # 2.7 MB: held whole as rows, it would take several times that
    tracemalloc.start()
    try:
        run_dir.truncate_metrics(5000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300_000, f"{peak} bytes at peak: the rows were held"
    steps = [row["step"] for row in run_dir.metrics()]
    assert steps == list(range(1, 5001))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]  # no temporary left


def test_truncation_refuses_a_bad_row_and_leaves_the_file_as_it_was(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.metrics_path.write_bytes(b'{"step": 1}\n{"step": 2, "d_loss": NaN}\n{"step": 3}\n')
    before = run_dir.metrics_path.read_bytes()
    with pytest.raises(UntrustedFileError, match="line 2: holds NaN at d_loss: every number must be finite"):
        run_dir.truncate_metrics(1)
    assert run_dir.metrics_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]


def test_truncation_without_a_metrics_file_writes_an_empty_one(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.truncate_metrics(3)
    assert run_dir.metrics_path.read_bytes() == b"" and list(run_dir.metrics()) == []
