"""Training end to end: the CLI, every objective, resume, and configuration errors."""

import json
import math

import pytest
import torch
from bigan_repr.eval import EvalProtocol
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config, ConfigError
from bigan_repr.errors import UserError
from bigan_repr.losses.objectives import OBJECTIVES
from bigan_repr.model.checkpoint import load_checkpoint, step_checkpoints
from bigan_repr.model.networks import networks_for
from bigan_repr.report.run_report import evaluate_run
from bigan_repr.train.trainer import Trainer, TrainingStopped, train, train_to_end
from tests.conftest import SMALL

METRIC_KEYS = {"step", "epoch", "d_loss", "g_loss", "bound", "d_real", "d_fake", "d_acc", "recon",
               "recon_shuffled", "z_mean", "z_std", "prior_std", "img_per_s"}


def _cfg(**train):
    return Config().updated(SMALL | {"train": SMALL["train"] | train})


def test_cli_trains_two_epochs_of_digits_and_writes_the_run(tmp_path):
    out = tmp_path / "run"
    # with the x-cycle term G reconstructs through E: recon / recon_shuffled measured 0.31-0.33 over
    # seeds 0-4, native and ATEN_CPU_CAPABILITY=default kernels (0.94-1.02 without it: no margin)
    result = CliRunner().invoke(main, [
        "train", "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--hidden", "256", "--z-dim", "16",
        "--recon-weight", "0.1", "--threads", "1", "--log-every", "50", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("config.json", "metrics.jsonl", "samples.png", "reconstructions.png", "curves.png"):
        assert (out / name).is_file(), name
    assert [p.name for p in step_checkpoints(out)] == ["step_00000358.pt"]  # 2 x 1437 // 8
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert METRIC_KEYS <= set(rows[-1]) and rows[-1]["step"] == 358
    assert all(math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"]) for r in rows)
    # G uses E's code: reconstructions are much closer to their own input than to a neighbour's
    assert rows[-1]["recon"] < 0.6 * rows[-1]["recon_shuffled"]
    info = CliRunner().invoke(main, ["info", str(out)])
    assert info.exit_code == 0 and '"objective": "gan"' in info.output and "step_00000358.pt" in info.output


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_an_epoch_without_nan(tmp_path, objective):
    result = train(_cfg(objective=objective, epochs=1, log_every=1), tmp_path / objective, progress=False)
    rows = [json.loads(line) for line in (tmp_path / objective / "metrics.jsonl").read_text().splitlines()]
    assert result.stopped == "finished" and len(rows) == result.step
    for row in rows:
        for key in ("d_loss", "g_loss", "bound", "recon"):
            assert math.isfinite(row[key]), (objective, row)


def _weights(run_dir):
    return load_checkpoint(run_dir)["model"]


# the recipes whose random draws (augmentations, views) must also resume exactly
RECIPES = {
    "plain": {},
    "diffaugment": {"d_augment": "strong"},
    "bigan+vicreg": {"invariance": "vicreg", "augment": "strong", "d_augment": "light", "lr_e": 1e-3},
    "invariance alone": {"adversarial": False, "invariance": "infonce", "augment": "light"},
}


@pytest.mark.parametrize("recipe", RECIPES)
def test_resume_reproduces_an_uninterrupted_run(tmp_path, recipe):
    straight = train(_cfg(steps=12, **RECIPES[recipe]), tmp_path / "straight", progress=False)
    train(_cfg(steps=6, **RECIPES[recipe]), tmp_path / "split", progress=False)
    resumed = Trainer(_cfg(steps=12, **RECIPES[recipe]), tmp_path / "split", resume=True, progress=False).run()
    assert straight.step == resumed.step == 12
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    rows = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert rows == [5, 6, 10, 12]  # the step-6 row is the first run's last; nothing logged twice


def test_invariance_alone_trains_only_the_encoder_and_lowers_its_loss(tmp_path):
    cfg = _cfg(steps=40, adversarial=False, invariance="vicreg", augment="light", lr=1e-3)
    train(cfg, tmp_path / "run", progress=False)
    torch.manual_seed(cfg.train.seed)  # the trainer's initialization
    initial = networks_for(cfg, (1, 8, 8)).state_dict()
    trained = _weights(tmp_path / "run")
    for key, value in trained.items():
        moved = not torch.equal(value, initial[key])
        if key.startswith(("generator.", "discriminator.")):
            assert not moved, key  # no D, no G: the control really is E alone
        elif key.endswith("weight") and key.startswith(("encoder.body", "projector.")):
            assert moved, key  # (E's head to z is not trained: only the layers below it are used)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert "d_loss" not in rows[-1]
    assert rows[-1]["invariance"] < 0.97 * rows[0]["invariance"]  # measured 0.94 on 3 seeds, 2 kernel sets
    # its report leaves out D's image pathway: an untrained layer is no result of the run
    results = evaluate_run(tmp_path / "run", protocol=EvalProtocol(budgets=(), seeds=(0,), restarts=1),
                           plot=False)["results"]
    assert sorted(results) == ["bigan (penultimate)", "bigan (z)", "random encoder (penultimate)",
                               "random encoder (z)", "raw pixels"]


@pytest.mark.parametrize("policy", ["none", "light"])
def test_d_sees_augmented_real_and_generated_images_only_with_diffaugment(tmp_path, policy):
    from bigan_repr.train.step import train_step

    trainer = Trainer(_cfg(steps=1, d_augment=policy), tmp_path / "run", progress=False)
    seen = []
    D = trainer.parts.model.discriminator
    forward = D.forward
    D.forward = lambda x, z: seen.append(x.detach().clone()) or forward(x, z)
    batch = trainer.parts.stream.next()
    train_step(trainer.parts.ctx, [batch])
    # D's update sees (real, generated), then the G/E update sees (real, generated) again
    real_inputs = [seen[0], seen[2]]
    augmented = [not torch.allclose(x, batch, atol=1e-5) for x in real_inputs]
    assert augmented == ([True, True] if policy == "light" else [False, False])
    if policy == "light":  # fresh draws for every call: D never sees the same transform twice
        assert not torch.allclose(seen[0], seen[2], atol=1e-5)


def test_resume_refuses_a_changed_architecture(tmp_path):
    train(_cfg(steps=2), tmp_path / "run", progress=False)
    changed = _cfg(steps=4).updated({"model": {"hidden": 64}})
    with pytest.raises(ConfigError, match="model.hidden"):
        Trainer(changed, tmp_path / "run", resume=True, progress=False)


def test_training_into_an_existing_run_is_refused(tmp_path):
    train(_cfg(steps=1), tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="already holds a run"):
        train(_cfg(steps=1), tmp_path / "run", progress=False)


def test_networks_too_large_for_the_memory_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    # a width within the limits can still be too wide for this machine: one line naming the sizes, no run
    import bigan_repr.model.networks as networks

    params = sum(p.numel() for p in networks_for(_cfg(), (1, 8, 8)).parameters())
    monkeypatch.setattr(networks, "available_bytes", lambda device: 4 * 4 * params - 1)  # a byte short
    small = ["--hidden", str(SMALL["model"]["hidden"]), "--z-dim", str(SMALL["model"]["z_dim"]), "--invariance", "none"]
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--steps", "1", "--threads", "1", *small, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "training them needs at least" in result.output and "--hidden" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()
    monkeypatch.setattr(networks, "available_bytes", lambda device: 4 * 4 * params)  # exactly enough
    train(_cfg(steps=1), tmp_path / "fits", progress=False)


def test_the_hybrids_train_from_the_cli_and_add_their_generated_views(tmp_path):
    small = ["--steps", "2", "--threads", "1", "--log-every", "1", "--hidden", "128", "--z-dim", "8",
             "--invariance", "infonce", "--quiet"]
    hybrid, plain = tmp_path / "hybrid", tmp_path / "plain"
    result = CliRunner().invoke(main, ["train", *small, "--fake-negatives", "--generative-positives", "0.2",
                                       "--out", str(hybrid)])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(main, ["train", *small, "--out", str(plain)]).exit_code == 0
    stored = json.loads((hybrid / "config.json").read_text())["train"]
    assert stored["fake_negatives"] is True and stored["generative_positives"] == 0.2
    first = [json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["invariance"] for run in (hybrid, plain)]
    # a second InfoNCE term (x against its generated positive) and B more candidates in every softmax
    assert first[0] > first[1] + 2 and all(math.isfinite(v) for v in first)


def test_same_seed_gives_the_same_weights_on_cpu(tmp_path):
    train(_cfg(steps=3), tmp_path / "a", progress=False)
    train(_cfg(steps=3), tmp_path / "b", progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_file_with_unknown_key_lists_valid_keys(tmp_path):
    bad = tmp_path / "cfg.json"
    bad.write_text(json.dumps({"train": {"objectiv": "gan"}}))
    result = CliRunner().invoke(main, ["train", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "train.objectiv" in result.output and "objective" in result.output
    assert "Traceback" not in result.output


def test_yaml_config_sets_defaults_and_flags_override(tmp_path):
    from bigan_repr.cli_flags import build_config

    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text("model:\n  z_dim: 12\ntrain:\n  objective: kl\n  batch_size: 32\n")
    cfg = build_config(str(cfg_file), {"train": {"batch_size": 16}})
    assert (cfg.model.z_dim, cfg.train.objective, cfg.train.batch_size) == (12, "kl", 16)


def test_invalid_values_name_the_field():
    with pytest.raises(ConfigError, match="train.objective='nope'.*wgan-gp"):
        Config().updated({"train": {"objective": "nope"}})
    with pytest.raises(ConfigError, match="train.batch_size"):
        Config().updated({"train": {"batch_size": 0}})
    with pytest.raises(ConfigError, match="gradient penalty"):
        from bigan_repr.model.networks import resolve_d_norm

        resolve_d_norm(Config().updated({"model": {"d_norm": "batch"}}).model, gradient_penalty=True)


def test_train_to_end_refuses_an_interrupted_run_then_resumes_it(tmp_path, monkeypatch):
    from bigan_repr.runs import fault_injection

    monkeypatch.setattr(fault_injection, "_SPEC", "INT@metrics:4")  # a Ctrl-C once step 4's row is written
    monkeypatch.setattr(fault_injection, "_fired", False)
    cfg, run = _cfg(steps=8, log_every=1, checkpoint_every=100), tmp_path / "run"
    with pytest.raises(TrainingStopped, match="training interrupted at step 4 of 8; run the same command again"):
        train_to_end(cfg, run)  # a benchmark must not measure this run as if it had finished
    assert [p.name for p in step_checkpoints(run)] == ["step_00000004.pt"]
    assert train_to_end(cfg, run).step == 8 and train_to_end(cfg, run).stopped == "finished"


@pytest.mark.parametrize("where", ["config.json", "config.json and checkpoint"])
def test_a_resume_is_checked_against_its_checkpoint_before_any_network_is_built(tmp_path, monkeypatch, where):
    """config.json (and the checkpoint's own config) edited to 65536-wide networks: refused in one line
    before the run's networks are built, and nothing in the run changes."""
    import bigan_repr.train.trainer as trainer_module
    from tests.conftest import one_error_line

    run = tmp_path / "run"
    train(_cfg(steps=2), run, progress=False)
    config = json.loads((run / "config.json").read_text())
    config["model"]["hidden"] = 65536
    (run / "config.json").write_text(json.dumps(config))
    if where != "config.json":
        path = step_checkpoints(run)[-1]
        ckpt = torch.load(path, weights_only=True)
        ckpt["config"]["model"]["hidden"] = 65536
        torch.save(ckpt, path)
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    monkeypatch.setattr(trainer_module, "assemble", lambda cfg: pytest.fail("the networks were built first"))
    line = one_error_line(["train", "--resume", run, "--steps", 4, "--quiet"])
    if where == "config.json":
        assert f"cannot resume {run} with model.hidden=65536: the run was trained with 128" in line, line
    else:
        assert "its weights do not fit the networks its config builds" in line and "[65536, 8] by the config" in line
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before
