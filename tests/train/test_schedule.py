"""Training practice options: the warmup + cosine learning-rate schedule (the rates applied, computed per
step, exact resume, a warmup shorter than the run) and weight decay kept off biases and normalization
weights."""

import math
import shutil

import pytest
import torch

from bigan_repr.config import Config, ConfigError
from bigan_repr.losses.objectives import get_objective
from bigan_repr.model.checkpoint import load_checkpoint, step_checkpoints
from bigan_repr.model.networks import networks_for
from bigan_repr.train.assembly import make_optimizers
from bigan_repr.train.schedule import lr_factor, lr_schedule
from bigan_repr.train.trainer import Trainer
from tests.conftest import SMALL


def _cfg(**train):
    return Config().updated(SMALL | {"train": SMALL["train"] | train})


def lr_factors(total: int, warmup: int, kind: str) -> list[float]:
    return [lr_factor(s, total, warmup, kind) for s in range(total)]


def test_warmup_rises_linearly_then_cosine_falls_towards_zero():
    f = lr_factors(10, 4, "cosine")
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == 1.0 and all(a > b for a, b in zip(f[4:], f[5:], strict=False))
    assert f[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 6)))  # last step: small, not 0
    assert lr_factors(6, 2, "constant") == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert lr_factors(4, 0, "cosine")[0] == 1.0
    assert lr_factor(25, 10, 4, "cosine") == f[-1]  # past the end, the last step's factor holds


def test_the_schedule_holds_no_table_of_its_steps():
    # --steps 10^9, the flag's own limit: a factor per step computed up front would be about 57 GB
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = lr_schedule((opt,), 10**9, 1000, "cosine")
    assert all(not isinstance(v, (list, tuple)) or len(v) < 10 for v in vars(schedule).values())
    schedule.apply(10**9 - 1)
    assert opt.param_groups[0]["lr"] == lr_factor(10**9 - 1, 10**9, 1000, "cosine") < 1e-10
    schedule.apply(499)
    assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("warmup, steps", [(100, 2), (2, 2), (1, 1), (10**9 - 1, 10**9 - 1)])
def test_a_warmup_as_long_as_the_run_is_refused_in_one_line(warmup, steps):
    with pytest.raises(ConfigError, match=f"train.warmup_steps={warmup} must be below the run's {steps} step"):
        _cfg(steps=steps, warmup_steps=warmup)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    for kind in ("constant", "cosine"):  # a budget in epochs: refused once its total is known
        with pytest.raises(ConfigError, match=f"warmup_steps={warmup} must be below the run's {steps} step"):
            lr_schedule((opt,), steps, warmup, kind)
    _cfg(steps=warmup + 1, warmup_steps=warmup)  # one step more trains its last step at the full rate


def test_a_warmup_longer_than_an_epoch_budget_is_refused_before_anything_is_written(tmp_path):
    from tests.conftest import one_error_line

    out = tmp_path / "run"
    line = one_error_line(["train", "--epochs", "0.01", "--warmup-steps", "100", "--hidden", "32", "--z-dim", "4",
                           "--invariance", "none", "--threads", "1", "--quiet", "--out", out])
    assert "train.warmup_steps=100 must be below the run's 1 step:" in line and not out.exists()


def test_the_schedule_sets_every_groups_rate_and_the_default_leaves_them(tmp_path):
    trainer = Trainer(_cfg(steps=5, lr=1e-3, lr_e=2e-3, lr_schedule="cosine", warmup_steps=2), tmp_path / "a",
                      progress=False)
    trainer.run()
    factor = lr_factors(5, 2, "cosine")[4]
    assert [g["lr"] for g in trainer.parts.opt_ge.param_groups] == pytest.approx([1e-3 * factor, 2e-3 * factor])
    assert trainer.parts.opt_d.param_groups[0]["lr"] == pytest.approx(1e-3 * factor)
    plain = Trainer(_cfg(steps=2, lr=1e-3), tmp_path / "b", progress=False)
    plain.run()
    assert plain.parts.schedule is None and plain.parts.opt_d.param_groups[0]["lr"] == 1e-3


def test_a_scheduled_run_resumed_from_a_middle_checkpoint_reproduces_the_straight_run(tmp_path):
    cfg = _cfg(steps=8, checkpoint_every=4, lr_schedule="cosine", warmup_steps=3, decay_norms_biases=False,
               weight_decay=0.01)
    Trainer(cfg, tmp_path / "straight", progress=False).run()
    shutil.copytree(tmp_path / "straight", tmp_path / "split")
    step_checkpoints(tmp_path / "split")[-1].unlink()  # as if stopped after step 4
    Trainer(cfg, tmp_path / "split", resume=True, progress=False).run()
    a, b = (load_checkpoint(tmp_path / name)["model"] for name in ("straight", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # resuming with another schedule would change what is learned: refused
    with pytest.raises(ConfigError, match="lr_schedule"):
        Trainer(_cfg(steps=12, checkpoint_every=4, warmup_steps=3, decay_norms_biases=False, weight_decay=0.01),
                tmp_path / "split", resume=True, progress=False)


def _one_step_on_zero_gradients(decay_norms_biases: bool) -> tuple[torch.nn.Module, dict]:
    cfg = _cfg(weight_decay=0.1, decay_norms_biases=decay_norms_biases)
    torch.manual_seed(0)
    model = networks_for(cfg, (1, 8, 8), None)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for opt in make_optimizers(model, get_objective("gan"), cfg.train):
        for group in opt.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)  # only weight decay moves a parameter
        opt.step()
    return model, before


def test_no_decay_on_norms_and_biases_moves_only_matrices_and_kernels():
    model, before = _one_step_on_zero_gradients(decay_norms_biases=False)
    for name, p in model.named_parameters():
        moved = not torch.equal(p, before[name])
        assert moved == (p.ndim > 1), name
    model, before = _one_step_on_zero_gradients(decay_norms_biases=True)  # the default: everything decays
    assert all(not torch.equal(p, before[n]) for n, p in model.named_parameters() if p.abs().sum() > 0)


def test_split_groups_keep_each_networks_rate():
    cfg = _cfg(lr=1e-3, lr_d=3e-3, lr_e=2e-3, weight_decay=0.1, decay_norms_biases=False)
    opt_d, opt_ge = make_optimizers(networks_for(cfg, (1, 8, 8), None), get_objective("gan"), cfg.train)
    assert [(g["lr"], g["weight_decay"]) for g in opt_d.param_groups] == [(3e-3, 0.1), (3e-3, 0.0)]
    assert [(g["lr"], g["weight_decay"]) for g in opt_ge.param_groups] == [
        (1e-3, 0.1), (1e-3, 0.0), (2e-3, 0.1), (2e-3, 0.0)]


def test_old_configs_load_with_the_old_behaviour():
    stored = Config().to_dict()
    for key in ("decay_norms_biases", "lr_schedule", "warmup_steps", "gather_invariance"):
        del stored["train"][key]
    t = Config.from_stored(stored, where="old").train
    assert (t.decay_norms_biases, t.lr_schedule, t.warmup_steps, t.gather_invariance) == (True, "constant", 0, False)
    with pytest.raises(ConfigError, match="warmup_steps"):
        _cfg(warmup_steps=-1)
