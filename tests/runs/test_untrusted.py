"""The one reader of files from elsewhere (runs/untrusted.py), as a run directory reads through it:
config.json and metrics.jsonl that anyone may have edited are one clear line each, naming the file; every
number read is finite (JSON and YAML, every reader); only regular files are opened, and none blocks."""

import contextlib
import json
import os
import re
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config
from bigan_repr.runs.metrics_log import last_metrics
from bigan_repr.runs.run_dir import RunDir
from bigan_repr.runs.untrusted import (
    UntrustedFileError,
    iter_json_lines,
    read_bytes,
    read_data,
    read_json_lines,
    read_mapping,
    shown,
)

ROWS = [{"step": 5, "epoch": 0.1, "d_loss": 1.0}, {"step": 10, "epoch": 0.2, "d_loss": 0.9}]


def _run(tmp_path, metrics: bytes, config: bytes | None = None):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(config if config is not None else json.dumps(Config().to_dict()).encode())
    (run / "metrics.jsonl").write_bytes(metrics)
    return run


def _lines(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


@pytest.mark.parametrize("metrics, message", [
    (_lines(ROWS[:1]) + b'{"step": 10, "note": "caf\xe9"}\n', "not UTF-8 text (byte 0xe9 at offset 66)"),
    (_lines(ROWS[:1]) + b"5\n" + _lines(ROWS[1:]), "line 2 is a number (5), not a metrics row (an object)"),
    (_lines(ROWS[:1]) + b"[1, 2]\n", "line 2 is a list ([1, 2]), not a metrics row (an object)"),
    (_lines(ROWS[:1]) + b'{"step": 10, "d_lo\n' + _lines(ROWS[1:]), "line 2: not readable JSON"),
    (_lines(ROWS[:1]) + b'{"step": "ten"}\n', "line 2: step must be an integer >= 0 and epoch a number, not 'ten'"),
    (_lines(ROWS[:1]) + b'{"step": 10, "epoch": [1]}\n', "step must be an integer >= 0 and epoch a number"),
    (_lines(ROWS[:1]) + b"[" * 100 + b"]" * 100 + b"\n", "line 2: nested more than 32 deep"),
])
def test_a_bad_metrics_row_is_one_line_naming_the_file_and_line(tmp_path, metrics, message):
    run = _run(tmp_path, metrics)
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {run / 'metrics.jsonl'}: ") and message in lines[0]


def test_a_last_row_cut_off_by_a_kill_is_skipped_and_every_other_row_kept(tmp_path):
    run = _run(tmp_path, _lines(ROWS) + b'{"step": 15, "epo')
    assert list(RunDir(run).metrics()) == ROWS
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 0 and '"step": 10' in result.output
    RunDir(run).truncate_metrics(5)  # a resume rewrites the rows it keeps, the torn one gone
    assert (run / "metrics.jsonl").read_bytes() == _lines(ROWS[:1])


@pytest.mark.parametrize("config, message", [
    (b"[1, 2]", "expected a run's config (an object of sections) at the top level, not a list ([1, 2])"),
    (b'{"train": {"objective": "gan\xff"}}', "not UTF-8 text (byte 0xff at offset 28)"),
    (b'{"train": ' * 50 + b"{}" + b"}" * 50, "nested more than 32 deep"),
    (b"{", "not readable JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
])
def test_a_bad_run_config_is_one_line_naming_it(tmp_path, config, message):
    run = _run(tmp_path, b"", config)
    for args in (["info", str(run)], ["train", "--resume", str(run), "--quiet"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert result.output.strip().splitlines() == [f"error: {run / 'config.json'}: {message}"]


def test_read_json_lines_names_lines_and_bounds_them(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"b": 2}\n{"c"')
    assert read_json_lines(path) == [(1, {"a": 1}), (3, {"b": 2})]
    path.write_bytes(b"1" * (2**20 + 1) + b"\n")
    with pytest.raises(UntrustedFileError, match="line 1 is longer than 1 MiB"):
        read_json_lines(path)


def test_shown_never_formats_more_than_its_limit():
    huge = ["x" * 10**6] * 10**6  # a million references: formatting all of it would take minutes
    assert len(shown(huge)) <= 60 and len(shown({"k": huge})) <= 60 and len(shown(10**5000)) <= 60
    assert shown("short") == "'short'" and shown(5) == "5"


GOOD_REPORT = {"results": {"raw pixels": {"knn_acc": 0.9}},
               "coupling": {"recon_ratio": 0.4, "latent_ratio": 0.9, "d_accuracy": 0.8, "code_scale": 1.0,
                            "class_kept": 80.0, "class_kept_ceiling": 97.0, "class_kept_floor": 10.0}}


@pytest.mark.parametrize("report, message", [
    (b"{", "is not a readable report: not readable JSON"),
    (b"[]", "is not a readable report"),
    (json.dumps(GOOD_REPORT | {"coupling": [1]}).encode(), "coupling must be an object, not a list ([1])"),
    (json.dumps(GOOD_REPORT | {"coupling": GOOD_REPORT["coupling"] | {"recon_ratio": "low"}}).encode(),
     "coupling.recon_ratio must be a number, not 'low'"),
    (json.dumps(GOOD_REPORT | {"generation": {"precision": 0.5}}).encode(), "generation.recall must be a number"),
])
def test_info_reads_a_damaged_report_as_one_line_naming_it(tmp_path, report, message):
    run = _run(tmp_path, _lines(ROWS))
    (run / "report.json").write_bytes(report)
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("error:"))
    assert str(run / "report.json") in line and message in line
    (run / "report.json").write_text(json.dumps(GOOD_REPORT))
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 0 and "0.400" in result.output, result.output


# ---- every number read from outside is finite ------------------------------------------------------

# (as written, as the refusal shows it)
JSON_NOT_FINITE = [(b"NaN", "NaN"), (b"Infinity", "Infinity"), (b"-Infinity", "-Infinity"), (b"1e999", "inf"),
                   (b"-2.5E+400", "-inf")]


def _with(document: dict, token: bytes) -> bytes:
    """``document`` as JSON with its "@" placeholder replaced by ``token`` as written."""
    return json.dumps(document).encode().replace(b'"@"', token)


@pytest.mark.parametrize("token, as_shown", JSON_NOT_FINITE)
def test_a_json_number_that_is_not_finite_is_refused_by_every_reader_naming_where(tmp_path, token, as_shown):
    said = "every number must be finite"
    run = _run(tmp_path, _lines(ROWS) + _with({"step": 15, "epoch": 0.3, "d_loss": "@"}, token) + b"\n")
    result = CliRunner().invoke(main, ["info", str(run)])
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        f"error: {run / 'metrics.jsonl'}: line 3: holds {as_shown} at d_loss: {said}"]
    (run / "metrics.jsonl").write_bytes(_lines(ROWS))
    coupling = GOOD_REPORT["coupling"] | {"recon_ratio": "@"}
    (run / "report.json").write_bytes(_with(GOOD_REPORT | {"coupling": coupling}, token))
    result = CliRunner().invoke(main, ["info", str(run)])  # no "coupled" verdict over a number that is none
    assert result.exit_code == 2 and "Traceback" not in result.output and "coupled" not in result.output
    assert result.output.strip().splitlines()[-1] == f"error: {run / 'report.json'} is not a readable report: holds " \
                                                     f"{as_shown} at coupling.recon_ratio: {said}"
    good = tmp_path / "good"
    good.mkdir()
    (good / "report.json").write_text(json.dumps(GOOD_REPORT))
    (run / "report.json").write_bytes(_with({"results": {"raw pixels": {"knn_acc": "@"}}}, token))
    result = CliRunner().invoke(main, ["compare", str(good), str(run), "--json"])  # never NaN printed as JSON
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert f"at results.raw pixels.knn_acc: {said}" in result.output
    (tmp_path / "cfg.json").write_bytes(_with({"train": {"betas": [0.5, "@"]}}, token))
    result = CliRunner().invoke(main, ["train", "--config", str(tmp_path / "cfg.json"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and f"at train.betas[1]: {said}" in result.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize("token", [".nan", ".NaN", ".inf", "-.Inf", "+.INF", "1.0e+999"])
def test_a_yaml_number_that_is_not_finite_is_refused_naming_where(tmp_path, token):
    path = tmp_path / "cfg.yaml"
    for text, where in ((f"train:\n  lr: {token}\n", "train.lr"),
                        (f"train:\n  betas: [0.5, {token}]\n", "train.betas[1]"),
                        (f"model: {{hidden: 64}}\nnotes: [{{x: {token}}}]\n", "notes[0].x")):
        path.write_text(text)
        result = CliRunner().invoke(main, ["train", "--config", str(path), "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert f"{path}: holds " in result.output and f" at {where}: every number must be finite" in result.output
    path.write_text(f"train:\n  objective: '{token}'\n")  # quoted, it is a string: the config's own check names it
    result = CliRunner().invoke(main, ["train", "--config", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "train.objective=" in result.output


# ---- only regular files, and nothing blocks ---------------------------------------------------------

@contextlib.contextmanager
def _within(seconds: int):
    """Fail, rather than hang, when the body blocks."""
    def expire(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind, said", [("fifo", "a FIFO (named pipe)"), ("folder", "a folder"),
                                        ("device", "a device")])
def test_a_file_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind, said):
    path = tmp_path / "x.json"
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: a plain open() would wait forever
    elif kind == "folder":
        path.mkdir()
    else:
        path = Path(os.devnull)
    readers = (read_data, read_mapping, read_bytes, lambda p: list(iter_json_lines(p)), read_json_lines)
    with _within(10):
        for read in readers:
            with pytest.raises(UntrustedFileError, match=f"is {re.escape(said)}, not a regular file"):
                read(path)
    with _within(10):  # as a run's metrics log
        with pytest.raises(UntrustedFileError, match=f"is {re.escape(said)}, not a regular file"):
            last_metrics(path)
