"""outputs.py: a report's files are rendered and every path checked by the targets rule before the first
is written, so a refused report writes nothing and leaves what was there as it was."""

import json
import os

import pytest
from bigan_repr.eval import report_payload

from bigan_repr.errors import UserError
from bigan_repr.report.outputs import write_report
from bigan_repr.runs.run_dir import RunDir
from bigan_repr.runs.untrusted import read_data

RESULTS = {"bigan (z)": {"nn1_acc": 0.9, "knn_acc": 0.9, "linear_acc": 0.8, "kmeans_acc": 0.6, "kmeans_nmi": 0.5,
                         "kmeans_ari": 0.4}}
EXTRA = {"embedding.png": b"\x89PNG picture"}


def _payload():
    return report_payload(RESULTS, title="t", meta={"x": 1})


def _listing(folder):
    """{name: its bytes, its link's target, or its kind} of what a folder holds."""
    return {p.name: os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else p.stat().st_mode
            for p in folder.iterdir()}


def _report_md_a_link(out, tmp_path):
    (tmp_path / "notes.md").write_text("mine")
    (out / "report.md").symlink_to(tmp_path / "notes.md")


def _report_html_a_folder(out, tmp_path):
    (out / "report.html").mkdir()


def _embedding_a_fifo(out, tmp_path):
    os.mkfifo(out / "embedding.png")


@pytest.mark.parametrize("prepare, message", [
    (_report_md_a_link, "report.md is a symbolic link, not a regular file"),
    (_report_html_a_folder, "report.html is a directory, not a regular file"),
    (_embedding_a_fifo, "embedding.png is a FIFO, not a regular file"),
])
def test_a_refused_output_path_writes_no_file(tmp_path, prepare, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"the report": "before"}')
    prepare(out, tmp_path)
    before = _listing(out)
    with pytest.raises(UserError, match=message):
        write_report(out, _payload(), extra=EXTRA)
    assert _listing(out) == before  # report.json and embedding.png, checked fine, were not written either
    assert not (tmp_path / "notes.md").exists() or (tmp_path / "notes.md").read_text() == "mine"


def test_a_report_inside_a_run_it_does_not_own_is_refused_before_any_write(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "metrics.jsonl").write_text("")
    with pytest.raises(UserError, match=f"is inside run directory {run}"):
        write_report(run, _payload(), extra=EXTRA)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "metrics.jsonl"]
    holder = RunDir(run)
    holder.acquire_lock()  # as `bigan report` does
    try:
        paths = write_report(run, _payload(), extra=EXTRA)
    finally:
        holder.release_lock()
    assert read_data(paths.json)["results"] == RESULTS
    assert (run / "embedding.png").read_bytes() == EXTRA["embedding.png"]


def test_a_report_that_cannot_be_rendered_writes_nothing(tmp_path):
    payload = _payload() | {"coupling": {"recon_ratio": float("nan")}}
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_report(tmp_path / "out", payload, extra=EXTRA)
    assert not (tmp_path / "out").exists()


def test_a_report_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(UserError, match="is a regular file, not a folder"):
        write_report(tmp_path / "out", _payload())
    assert (tmp_path / "out").read_text() == "a file"
    assert json.loads(write_report(tmp_path / "new", _payload()).json.read_text())["title"] == "t"
