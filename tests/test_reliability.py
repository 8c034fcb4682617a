"""Nothing lost, nothing let in: unsafe checkpoints, kills, interrupts, divergence, locks."""

import dataclasses
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from bigan_repr.checkpoint import CheckpointError, load_checkpoint, step_checkpoints
from bigan_repr.config import Config
from bigan_repr.errors import UserError
from bigan_repr.train import Trainer, TrainingDiverged, train
from cli import main
from tests.conftest import SMALL

TINY = ["--hidden", "64", "--z-dim", "8", "--batch-size", "16", "--threads", "1", "--log-every", "5",
        "--checkpoint-every", "5", "--sample-every", "1000", "--quiet"]


def _bigan(*args, env=None, wait=True):
    cmd = [sys.executable, "-m", "cli", *map(str, args)]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    if wait:
        return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _assert_complete(run, steps):
    """The run finished with the right step count, its checkpoint loads, and no row is doubled."""
    ckpt = load_checkpoint(run)
    assert ckpt["step"] == steps and all(torch.isfinite(v).all() for v in ckpt["model"].values()
                                        if v.is_floating_point())
    logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert logged == sorted(set(logged)) and logged[-1] == steps


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "marker"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with open(run / "checkpoints" / "step_00000001.pt", "wb") as f:
        pickle.dump({"format": "bigan-repr-checkpoint/1", "payload": _RunsCode(marker)}, f)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(run)
    result = CliRunner().invoke(main, ["encode", str(run), "--out", str(tmp_path / "f.npz")])
    assert result.exit_code == 2 and "refusing to load" in result.output
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    train(Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 2}}), tmp_path / "run", progress=False)
    path = step_checkpoints(tmp_path / "run")[-1]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("moment", ["after_first_checkpoint", "during_checkpoint_write", "random"])
def test_sigkill_at_any_moment_leaves_a_resumable_run(tmp_path, moment):
    run, ckpts = tmp_path / "run", tmp_path / "run" / "checkpoints"
    env = {"BIGAN_REPR_TEST_WRITE_DELAY": "1.0"} if moment == "during_checkpoint_write" else {}
    proc = _bigan("train", *TINY, "--steps", "40", "--out", run, env=env, wait=False)
    if moment == "after_first_checkpoint":
        _wait_for(lambda: ckpts.is_dir() and any(ckpts.glob("step_*.pt")))
    elif moment == "during_checkpoint_write":  # a temporary file of the second checkpoint exists
        _wait_for(lambda: ckpts.is_dir() and any(ckpts.glob("step_*.pt")) and any(ckpts.glob(".*.tmp*")))
    else:  # any moment once the run exists (before that there is nothing to resume)
        _wait_for(lambda: (run / "config.json").is_file())
        time.sleep(random.Random(0).uniform(0.0, 1.5))
    proc.kill()
    proc.wait()
    done = _bigan("train", "--resume", run, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_complete(run, 40)
    assert not list(ckpts.glob(".*.tmp*"))


def test_sigint_saves_and_resume_reproduces_the_uninterrupted_run(tmp_path):
    straight = _bigan("train", *TINY, "--steps", "60", "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-2000:]
    run = tmp_path / "run"
    proc = _bigan("train", *TINY, "--steps", "60", "--checkpoint-every", "1000", "--out", run, wait=False)
    _wait_for(lambda: (run / "metrics.jsonl").is_file())  # training is under way
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    stopped_at = load_checkpoint(run)["step"]
    assert 0 < stopped_at < 60
    assert _bigan("train", "--resume", run, "--quiet").returncode == 0
    a, b = load_checkpoint(tmp_path / "straight")["model"], load_checkpoint(run)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_stops_training_naming_step_objective_and_quantity(tmp_path):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 30, "log_every": 1, "checkpoint_every": 5}})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    calls = {"n": 0}
    d_loss = trainer.ctx.objective.d_loss

    def poisoned(d_real, d_fake):
        calls["n"] += 1
        loss = d_loss(d_real, d_fake)
        return loss * float("nan") if calls["n"] >= 12 else loss

    trainer.ctx.objective = dataclasses.replace(trainer.ctx.objective, d_loss=poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 12 \(objective gan\).*d_loss=nan"):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["step"] == 10 and all(torch.isfinite(v).all() for v in ckpt["model"].values()
                                      if v.is_floating_point())
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 12 and "d_loss" in last["stopped"]
    assert not (tmp_path / "run" / "lock").exists()


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 2}})
    train(cfg, tmp_path / "run", progress=False)
    lock = tmp_path / "run" / "lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(str(holder.pid))
        with pytest.raises(UserError, match=f"in use by process {holder.pid}"):
            Trainer(cfg.updated({"train": {"steps": 4}}), tmp_path / "run", resume=True, progress=False).run()
    finally:
        holder.kill()
        holder.wait()
    lock.write_text(str(holder.pid))  # its writer is dead now
    result = Trainer(cfg.updated({"train": {"steps": 4}}), tmp_path / "run", resume=True, progress=False).run()
    assert result.step == 4 and not lock.exists()


def test_unwritable_output_is_a_clear_error():
    result = CliRunner().invoke(main, ["train", "--steps", "1", "--out", "/proc/bigan-run"])
    assert result.exit_code == 2 and "cannot create run directory /proc/bigan-run" in result.output
