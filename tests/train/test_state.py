"""state.py: a run's state survives a save and a load exactly; what a resume may change; a damaged
checkpoint or a shorter budget refused before a resume writes anything."""

from pathlib import Path

import pytest
import torch

from bigan_repr.config import Config, ConfigError
from bigan_repr.model.checkpoint import load_checkpoint
from bigan_repr.model.recipe import BOOKKEEPING
from bigan_repr.train.assembly import assemble
from bigan_repr.train.checkpointing import save_checkpoint
from bigan_repr.train.state import capture, check_resume_compatible, restore
from bigan_repr.train.step import train_step
from tests.conftest import one_error_line, run_with_checkpoint

CFG = Config().updated({"model": {"hidden": 32, "z_dim": 4},
                        "train": {"batch_size": 32, "threads": 1, "ema": 0.9, "d_augment": "shift"}})


def _trained(steps: int):
    run = assemble(CFG)
    for _ in range(steps):
        train_step(run.ctx, [run.stream.next() for _ in range(run.n_critic)])
        run.ema.update(run.model.encoder)
    return run


def _same(a, b) -> bool:
    """Equal nested state: dicts, lists, tensors (bit for bit) and plain values."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def test_capture_and_restore_through_a_file_give_back_the_whole_run(tmp_path):
    a = _trained(3)
    save_checkpoint(tmp_path / "c.pt", capture(a, 3, 0.5))
    global_draw = torch.rand(4)  # what the process-wide generator gives next, as captured
    b = assemble(CFG)  # fresh weights, optimizers, stream and generators
    torch.manual_seed(1)  # and a process-wide generator elsewhere
    assert not _same(b.model.state_dict(), a.model.state_dict())
    assert restore(b, load_checkpoint(tmp_path / "c.pt")) == (3, 0.5)
    assert _same(b.model.state_dict(), a.model.state_dict()) and _same(b.ema.state_dict(), a.ema.state_dict())
    assert _same(b.opt_d.state_dict(), a.opt_d.state_dict()) and _same(b.opt_ge.state_dict(), a.opt_ge.state_dict())
    assert b.stream.state_dict() == a.stream.state_dict() == {"epoch": 0, "pos": 3}
    assert torch.equal(torch.rand(4), global_draw)
    assert torch.equal(torch.rand(4, generator=b.rng), torch.rand(4, generator=a.rng))
    for run in (a, b):  # and both go on identically: same batches, same z and augmentation draws
        train_step(run.ctx, [run.stream.next() for _ in range(run.n_critic)])
    assert _same(b.model.state_dict(), a.model.state_dict())


# a valid value other than the default for every key a resumed run may change
RESUMABLE_EXAMPLES = {
    "epochs": 3.0, "steps": 5, "log_every": 7, "checkpoint_every": 7, "sample_every": 7, "keep": 1, "threads": 2,
    "device": "cpu", "eval_every": 5, "select": "knn", "compile": True, "precision": "fp32", "sync_bn": True,
    "tensorboard": True,
}


def test_a_resume_may_change_its_length_and_bookkeeping():
    assert set(RESUMABLE_EXAMPLES) == BOOKKEEPING["train"] and set(BOOKKEEPING) == {"train"}
    stored = Config()
    for key, value in RESUMABLE_EXAMPLES.items():
        changed = {key: value} | ({"eval_every": 5} if key == "select" else {})
        check_resume_compatible(stored, stored.updated({"train": changed}), Path("run"))
    check_resume_compatible(stored, stored.updated({"train": RESUMABLE_EXAMPLES}), Path("run"))


@pytest.mark.parametrize("change", [
    {"model": {"arch": "conv"}}, {"model": {"hidden": 64}}, {"model": {"z_dim": 8}},
    {"train": {"objective": "wgan-gp"}}, {"train": {"seed": 1}}, {"data": {"source": "fashion-mnist"}},
])
def test_a_resume_may_not_change_what_the_run_learns(change):
    (section, values), = change.items()
    (key, _), = values.items()
    stored = Config()
    with pytest.raises(ConfigError, match=rf"cannot resume run with {section}\.{key}="):
        check_resume_compatible(stored, stored.updated(change), Path("run"))


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("change", [lambda c: c.pop("model"), lambda c: c.update(image_shape=[1, 8]),
                                    lambda c: c.pop("opt_d"), lambda c: c.update(stream="pos 3")])
def test_resuming_from_a_damaged_checkpoint_is_one_line_and_changes_nothing(tiny_run, tmp_path, change):
    run, path = run_with_checkpoint(tiny_run, tmp_path, change)
    before = _snapshot(run)
    line = one_error_line(["train", "--resume", run, "--steps", 30, "--quiet"])
    assert str(path) in line, line
    assert _snapshot(run) == before


def test_a_step_budget_below_the_runs_step_is_refused_before_anything_is_written(tiny_run, tmp_path):
    run, _ = run_with_checkpoint(tiny_run, tmp_path, lambda c: None)
    before = _snapshot(run)
    line = one_error_line(["train", "--resume", run, "--steps", 3, "--quiet"])
    assert f"cannot resume {run} for 3 steps: it is already at step 22" in line
    assert _snapshot(run) == before  # config.json keeps the run's own budget
