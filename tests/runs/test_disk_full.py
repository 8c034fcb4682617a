"""A write the file system refuses (here: a file-size limit, which fails writes with EFBIG as a full
disk fails them with ENOSPC, and needs no privilege) is one line naming the file, exit 2, and
loses nothing written before: checkpoints, feature files and folders, reports, metrics rows."""

import resource
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.errors import UserError
from bigan_repr.model.checkpoint import load_checkpoint, step_checkpoints
from bigan_repr.runs.run_dir import RunDir
from bigan_repr.train.checkpointing import save_checkpoint


@contextmanager
def file_size_limit(nbytes: int):
    """No file of this process may grow past ``nbytes``: writes beyond fail with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY and hard < nbytes:
        pytest.skip("the hard file-size limit is lower than the test needs")
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(args, limit: int) -> str:
    with file_size_limit(limit):
        result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output[-3000:]
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.output.strip().splitlines()[-1] == errors[0], result.output  # after progress
    return errors[0]


def test_a_checkpoint_that_does_not_fit_keeps_the_one_before(tmp_path):
    path = tmp_path / "checkpoints" / "step_00000001.pt"
    save_checkpoint(path, {"weights": torch.zeros(10)})
    before = path.read_bytes()
    with file_size_limit(64 * 1024), pytest.raises(UserError) as refused:
        save_checkpoint(path, {"weights": torch.zeros(10**6)})  # 4 MB: torch.save's write fails part-way
    assert str(refused.value) == f"cannot write {path}: File too large; it was left as it was"
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == [path.name]


def test_training_that_cannot_write_its_checkpoint_stops_in_one_line_and_keeps_the_run(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    checkpoints = _snapshot(run / "checkpoints")
    line = _refused(["train", "--resume", run, "--steps", 24, "--quiet"], 256 * 1024)
    checkpoint = run / "checkpoints" / "step_00000024.pt"
    assert line == f"error: cannot write {checkpoint}: File too large; it was left as it was"
    assert _snapshot(run / "checkpoints") == checkpoints  # the last good checkpoint, and no temporary
    assert load_checkpoint(run)["step"] == 22 and not (run / "lock").exists()
    assert [r["step"] for r in RunDir(run).metrics()][-1] == 24  # rows before the failure are kept
    assert step_checkpoints(run)[-1].name == "step_00000022.pt"


def test_feature_files_and_folders_that_do_not_fit_leave_the_old_ones(tiny_run, tmp_path):
    old = tmp_path / "f.npz"
    old.write_bytes(b"the features of yesterday")
    line = _refused(["encode", tiny_run, "--out", old], 16 * 1024)
    assert line == f"error: cannot write {old}: File too large; it was left as it was"
    assert old.read_bytes() == b"the features of yesterday" and [p.name for p in tmp_path.iterdir()] == ["f.npz"]
    folder = tmp_path / "shards"
    made = CliRunner().invoke(main, ["encode", str(tiny_run), "--out", f"{folder}/", "--shard-size", "500"])
    assert made.exit_code == 0, made.output
    before = _snapshot(folder)
    line = _refused(["encode", tiny_run, "--out", f"{folder}/", "--shard-size", 1000], 16 * 1024)
    assert line.startswith("error: cannot write ") and line.endswith(": File too large; it was left as it was")
    assert _snapshot(folder) == before and sorted(p.name for p in tmp_path.iterdir()) == ["f.npz", "shards"]


def test_a_report_that_does_not_fit_keeps_the_report_before(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "f.npz", features=rng.normal(size=(40, 4)), labels=np.arange(40) % 4)
    args = ["eval", "--train", tmp_path / "f.npz", "--test", tmp_path / "f.npz", "--budgets", "1.0", "--seeds", 1,
            "--restarts", 1, "--out", tmp_path / "report"]
    assert CliRunner().invoke(main, [str(a) for a in args]).exit_code == 0
    before = _snapshot(tmp_path / "report")
    line = _refused(args, 256)
    assert line.startswith(f"error: cannot write {tmp_path / 'report'}/") and "File too large" in line
    assert _snapshot(tmp_path / "report") == before


def test_a_metrics_row_that_does_not_fit_keeps_the_rows_before(tmp_path):
    run_dir = RunDir(tmp_path)
    for step in range(1, 40):
        run_dir.append_metrics({"step": step, "epoch": step / 10, "d_loss": 0.5})
    size = (tmp_path / "metrics.jsonl").stat().st_size
    with file_size_limit(size + 10), pytest.raises(UserError, match=r"cannot write .*metrics\.jsonl: File too large"):
        run_dir.append_metrics({"step": 40, "epoch": 4.0, "d_loss": 0.5})
    assert [r["step"] for r in run_dir.metrics()] == list(range(1, 40))  # the torn row is skipped
