"""`bigan info`: every file read and checked before anything is printed, metrics.jsonl streamed (its last
row kept, never the file), strict JSON printed, and no "nan" or "inf" shown where a number belongs."""

import json
import tracemalloc

import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config
from bigan_repr.runs.run_dir import RunDir

COUPLING = {"recon_ratio": 0.4, "latent_ratio": 0.9, "d_accuracy": 0.8, "code_scale": 1.0, "class_kept": 80.0,
            "class_kept_ceiling": 97.0, "class_kept_floor": 10.0, "verdict": "coupled: E and G invert each other"}
REPORT = {"results": {"raw pixels": {"knn_acc": 0.9}}, "coupling": COUPLING}


def _run(tmp_path, rows: int = 3):
    run = tmp_path / "run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(Config().to_dict()))
    with open(run / "metrics.jsonl", "w") as f:
        for step in range(1, rows + 1):
            f.write(json.dumps({"step": step, "epoch": step / 100, "d_loss": 0.5, "note": "x" * 400}) + "\n")
    return run


def _info(run):
    result = CliRunner().invoke(main, ["info", str(run)])
    assert "Traceback" not in result.output, result.output
    return result


def _peak(run, monkeypatch) -> int:
    """Bytes at peak while `info` reads metrics.jsonl and prints (the config's read, with its bound's
    buffer, is before the measure)."""
    read_config = RunDir.read_config

    def then_measure(self):
        config = read_config(self)
        tracemalloc.reset_peak()
        return config

    monkeypatch.setattr(RunDir, "read_config", then_measure)
    tracemalloc.start()
    try:
        assert _info(run).exit_code == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        monkeypatch.undo()


def test_info_keeps_the_last_metrics_row_never_the_file(tmp_path, monkeypatch):
    run = _run(tmp_path, rows=6000)  # 2.7 MB, as a long run logs (88 MB in an hour of a fast one)
    assert '"step": 6000' in _info(run).output  # and the modules info imports are imported before measuring
    peak = _peak(run, monkeypatch)
    assert peak < 300_000, f"{peak} bytes at peak: the rows were held"  # held whole: about 4.7 MB


def test_info_prints_strict_json_a_diverged_rows_metric_as_null(tmp_path):
    run = _run(tmp_path)
    RunDir(run).append_metrics({"step": 4, "epoch": 0.04, "d_loss": float("nan"), "stopped": "non-finite d_loss"})
    result = _info(run)
    assert result.exit_code == 0, result.output
    last = result.output.split("last metrics: ", 1)[1].split("\ncoupling and generation", 1)[0]
    reject = lambda token: pytest.fail(f"{token} printed")  # noqa: E731
    assert json.loads(last, parse_constant=reject) == {"step": 4, "epoch": 0.04, "d_loss": None,
                                                       "stopped": "non-finite d_loss"}
    config = result.output.split("\ncheckpoints: ", 1)[0]
    assert json.loads(config, parse_constant=reject) == Config().to_dict()


GENERATION = {"precision": 0.5, "recall": 0.4, "k": 5, "samples": 64, "min_class_share": 0.05, "classes_covered": 9,
              "n_classes": 10, "classes_covered_realistic": 8}


@pytest.mark.parametrize("judged, shown", [
    ({"coupling": COUPLING | {"d_accuracy": 1e308}}, "D's accuracy (real pairs ranked above fake): inf%"),
    ({"generation": GENERATION | {"min_class_share": -1e307}}, "classes covered by G(z) (>= -inf% of samples"),
])
def test_a_report_number_that_would_show_as_inf_is_one_line_and_nothing_else(tmp_path, judged, shown):
    """Finite in report.json, but a percentage of it is not: refused, never printed as "inf"."""
    run = _run(tmp_path)
    (run / "report.json").write_text(json.dumps(REPORT | judged))
    result = _info(run)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"error: {run / 'report.json'}: a number there is out of range, shown as ")
    assert shown in result.output
    (run / "report.json").write_text(json.dumps(REPORT))
    assert _info(run).exit_code == 0


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"1e999"])
def test_a_report_holding_nan_is_refused_before_anything_is_printed(tmp_path, token):
    run = _run(tmp_path)
    (run / "report.json").write_bytes(json.dumps(REPORT).encode().replace(b"0.8", token))
    result = _info(run)
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        f"error: {run / 'report.json'} is not a readable report: holds "
        f"{ {b'NaN': 'NaN', b'Infinity': 'Infinity', b'1e999': 'inf'}[token]} at coupling.d_accuracy: "
        "every number must be finite"]


def test_the_verdict_is_shown_on_one_line(tmp_path):
    run = _run(tmp_path)
    (run / "report.json").write_text(json.dumps(REPORT | {"coupling": COUPLING | {"verdict": "coupled\nd_loss  nan"}}))
    result = _info(run)
    assert result.exit_code == 0 and "  coupled\\nd_loss  nan\n" in result.output
    assert "\nd_loss  nan" not in result.output
    lines = result.output.split("coupling and generation (report.json):\n", 1)[1].splitlines()
    assert len(lines) == 6 and "80.0%" in lines[3]
