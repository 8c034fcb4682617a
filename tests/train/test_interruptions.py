"""Nothing lost, nothing let in: unsafe checkpoints, kills, interrupts, divergence, locks."""

import dataclasses
import json
import os
import pickle
import signal
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config
from bigan_repr.errors import UserError
from bigan_repr.model.checkpoint import CheckpointError, load_checkpoint, step_checkpoints
from bigan_repr.train.trainer import Trainer, TrainingDiverged, train
from tests.conftest import SMALL

HOOK = "BIGAN_REPR_TEST_SIGNAL"  # bigan_repr/runs/fault_injection.py: signal the run at a named point
TINY = ["--hidden", "64", "--z-dim", "8", "--batch-size", "16", "--threads", "1", "--log-every", "5",
        "--checkpoint-every", "5", "--sample-every", "1000", "--quiet"]


def _bigan(*args, env=None, wait=True):
    cmd = [sys.executable, "-m", "bigan_repr.cli", *map(str, args)]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    if wait:
        return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


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


@pytest.mark.parametrize("form, message", [
    ("torch.save", "refusing to load"),  # what torch.save writes, with an object that runs code inside
    ("pickle protocol 2", "refusing to load"),
    # torch's safe unpickler stops at protocol 4's first frame, before it could see the object: no checkpoint
    ("pickle protocol 4", "is not a checkpoint: torch cannot read it"),
])
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_checkpoint_that_would_run_code_is_refused(tmp_path, form, message):
    marker = tmp_path / "marker"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    payload = {"format": "bigan-repr-checkpoint/1", "payload": _RunsCode(marker)}
    with open(run / "checkpoints" / "step_00000001.pt", "wb") as f:
        torch.save(payload, f) if form == "torch.save" else pickle.dump(payload, f, protocol=int(form[-1]))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(run)
    result = CliRunner().invoke(main, ["encode", str(run), "--out", str(tmp_path / "f.npz")])
    assert result.exit_code == 2 and message in result.output
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    train(Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 2}}), tmp_path / "run", progress=False)
    path = step_checkpoints(tmp_path / "run")[-1]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "run")


@pytest.mark.parametrize("point", [
    "metrics:7",  # after the first checkpoint (step 5)
    "write:step_00000010.pt",  # in the middle of the second checkpoint's write
    "metrics:40",  # after the last step, before its checkpoint
])
def test_sigkill_at_any_point_leaves_a_resumable_run(tmp_path, point):
    run = tmp_path / "run"
    killed = _bigan("train", *TINY, "--log-every", "1", "--steps", "40", "--out", run, env={HOOK: f"KILL@{point}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done = _bigan("train", "--resume", run, "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_complete(run, 40)
    assert not list((run / "checkpoints").glob(".*.tmp*"))


def test_sigint_saves_and_resume_reproduces_the_uninterrupted_run(tmp_path):
    straight = _bigan("train", *TINY, "--steps", "30", "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-2000:]
    run = tmp_path / "run"
    stopped = _bigan("train", *TINY, "--steps", "30", "--checkpoint-every", "1000", "--out", run,
                     env={HOOK: "INT@metrics:10"})
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert load_checkpoint(run)["step"] == 10  # the step under way when Ctrl-C came
    assert _bigan("train", "--resume", run, "--quiet").returncode == 0
    a, b = load_checkpoint(tmp_path / "straight")["model"], load_checkpoint(run)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def _snapshot(folder, *, but=()):
    """Every path below ``folder`` with its bytes (None for folders), leaving out the names in ``but``."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))
            if p.name not in but}


def test_refused_resume_leaves_the_live_run_untouched(tmp_path):
    run = tmp_path / "run"
    live = _bigan("train", *TINY, "--log-every", "1", "--steps", "20", "--out", run,
                  env={HOOK: "STOP@write:step_00000010.pt"}, wait=False)
    _, status = os.waitpid(live.pid, os.WUNTRACED)  # frozen while its second checkpoint is being written
    try:
        assert os.WIFSTOPPED(status), live.stderr.read()[-2000:]
        before = _snapshot(run)
        assert [name for name in before if name.startswith("checkpoints/.step_00000010.pt.")]  # in flight
        refused = _bigan("train", "--resume", run, "--quiet")
        assert refused.returncode == 2 and f"in use by process {live.pid}" in refused.stderr, refused.stderr
        assert _snapshot(run) == before
    finally:
        live.send_signal(signal.SIGCONT)
    assert live.wait(timeout=120) == 0, live.stderr.read()[-2000:]
    _assert_complete(run, 20)


@pytest.mark.parametrize("damage", ["killed_before_its_first_checkpoint", "checkpoints_moved_away",
                                    "checkpoints_replaced_by_a_file"])
def test_resume_without_checkpoints_refuses_and_changes_nothing(tmp_path, damage):
    run = tmp_path / "run"
    if damage == "killed_before_its_first_checkpoint":
        killed = _bigan("train", *TINY, "--log-every", "1", "--steps", "20", "--out", run, env={HOOK: "KILL@metrics:3"})
        assert killed.returncode == -signal.SIGKILL
    else:
        train(Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 10}}), run, progress=False)
        (run / "checkpoints").rename(tmp_path / "elsewhere")
        if damage == "checkpoints_replaced_by_a_file":
            (run / "checkpoints").write_text("not a folder")
    before = _snapshot(run, but=["lock"])  # a killed writer's lock is taken over, and let go
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "no checkpoints" in result.output and "start over" in result.output
    assert _snapshot(run, but=["lock"]) == before


def test_non_integer_step_count_is_refused_before_anything_is_written(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"train": {"steps": 2.5}}))
    result = CliRunner().invoke(main, ["train", "--config", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 2 and "train.steps must be an integer" in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_nan_stops_training_naming_step_objective_and_quantity(tmp_path):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 30, "log_every": 1, "checkpoint_every": 5}})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    calls = {"n": 0}
    d_loss = trainer.parts.ctx.objective.d_loss

    def poisoned(d_real, d_fake):
        calls["n"] += 1
        loss = d_loss(d_real, d_fake)
        return loss * float("nan") if calls["n"] >= 12 else loss

    trainer.parts.ctx.objective = dataclasses.replace(trainer.parts.ctx.objective, d_loss=poisoned)
    with pytest.raises(TrainingDiverged, match=r"step 12 \(objective gan\).*d_loss=nan"):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["step"] == 10 and all(torch.isfinite(v).all() for v in ckpt["model"].values()
                                      if v.is_floating_point())
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 12 and "d_loss" in last["stopped"]
    assert not (tmp_path / "run" / "lock").exists()


def test_second_writer_is_refused_and_a_dead_writers_lock_taken_over(tmp_path):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 2}})
    train(cfg, tmp_path / "run", progress=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bigan_repr.runs.run_dir import RunDir; "
         "RunDir(sys.argv[1]).acquire_lock(); print('locked', flush=True); time.sleep(600)", str(tmp_path / "run")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(UserError, match=f"in use by process {holder.pid}"):
            Trainer(cfg.updated({"train": {"steps": 4}}), tmp_path / "run", resume=True, progress=False)
    finally:
        holder.kill()
        holder.wait()
    lock = tmp_path / "run" / "lock"
    assert lock.read_text().strip() == str(holder.pid)  # left behind by the killed writer
    result = Trainer(cfg.updated({"train": {"steps": 4}}), tmp_path / "run", resume=True, progress=False).run()
    assert result.step == 4 and not lock.exists()


def test_unwritable_output_is_a_clear_error():
    result = CliRunner().invoke(main, ["train", "--steps", "1", "--out", "/proc/bigan-run"])
    assert result.exit_code == 2 and "cannot create run directory /proc/bigan-run" in result.output


@pytest.mark.parametrize("their_config", [None, '{"project": "mine", "train": {"steps": 3}}'])
def test_training_into_a_folder_that_is_not_a_run_changes_nothing(tmp_path, their_config):
    folder = tmp_path / "mine"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "samples.png").write_bytes(b"my picture")
    for step in (1, 2):  # what --keep 1 would prune
        (folder / "checkpoints" / f"step_0000000{step}.pt").write_bytes(b"my weights")
    (folder / "metrics.jsonl").write_text('{"step": 1, "mine": true}\n')
    if their_config:  # a config.json that is not one a run stored
        (folder / "config.json").write_text(their_config)
    before = _snapshot(folder)
    refused = _bigan("train", *TINY, "--steps", "2", "--keep", "1", "--sample-every", "1", "--out", folder)
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == [
        f"error: --out {folder} holds files that training did not write (e.g. checkpoints) and is not a run "
        "directory; name a new or empty folder"], refused.stderr[-2000:]
    assert _snapshot(folder) == before  # not even a lock file
    fresh = tmp_path / "fresh"  # a folder holding only a lock (a killed run's, before its config) is fine
    fresh.mkdir()
    (fresh / "lock").write_text("12345\n")
    assert train(Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 2}}), fresh, progress=False).step == 2


@pytest.mark.parametrize("at, kept", [(2, None), (7, 5)])
def test_a_diverged_run_names_the_checkpoint_it_leaves_or_says_it_has_none(tmp_path, at, kept):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 30, "log_every": 1, "checkpoint_every": 5}})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    d_loss, calls = trainer.parts.ctx.objective.d_loss, {"n": 0}

    def poisoned(d_real, d_fake):
        calls["n"] += 1
        return d_loss(d_real, d_fake) * (float("nan") if calls["n"] >= at else 1.0)

    trainer.parts.ctx.objective = dataclasses.replace(trainer.parts.ctx.objective, d_loss=poisoned)
    with pytest.raises(TrainingDiverged) as refused:
        trainer.run()
    message = str(refused.value)
    assert f"training diverged at step {at} (objective gan): d_loss=nan" in message
    if kept is None:
        assert message.endswith("no checkpoint was written before it (the first is due at step 5)")
        assert not list((tmp_path / "run" / "checkpoints").glob("*.pt"))
    else:
        path = tmp_path / "run" / "checkpoints" / f"step_{kept:08d}.pt"
        assert message.endswith(f"the last good checkpoint, {path}, is kept") and path.is_file()
