"""checkpoint.py: a run's checkpoints found in step order; what is not one of our checkpoints, or disagrees
with itself (weights that are not finite, class names that are not one per output, weights of other shapes
than the stored config's networks, found before any is allocated), refused in one line naming the file; the
model rebuilt from one exactly."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from bigan_repr.config import Config
from bigan_repr.model.checkpoint import (
    FORMAT,
    CheckpointError,
    best_checkpoint_path,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    step_checkpoints,
)
from bigan_repr.model.networks import networks_for
from tests.conftest import one_error_line, run_with_checkpoint

CFG = Config().updated({"model": {"hidden": 32, "z_dim": 4}})
SHAPE = (1, 8, 8)


def _state() -> dict:
    """What every use of a checkpoint needs, for freshly built networks."""
    model = networks_for(CFG, SHAPE)
    return {"config": CFG.to_dict(), "step": 0, "image_shape": list(SHAPE), "model": model.state_dict()}


def test_a_runs_checkpoints_are_found_in_step_order(tmp_path):
    with pytest.raises(CheckpointError, match="has no checkpoints in checkpoints/"):
        latest_checkpoint(tmp_path)
    for step in (200, 30, 1000):
        checkpoint_path(tmp_path, step).parent.mkdir(exist_ok=True)
        checkpoint_path(tmp_path, step).write_bytes(b"")
    best_checkpoint_path(tmp_path).write_bytes(b"")  # not a step checkpoint
    (tmp_path / "checkpoints" / ".step_00002000.pt.tmp1").write_bytes(b"")  # a partial write
    assert [p.name for p in step_checkpoints(tmp_path)] == ["step_00000030.pt", "step_00000200.pt",
                                                            "step_00001000.pt"]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 1000)


@pytest.mark.parametrize("payload", [{"format": "bigan-repr-checkpoint/0"}, {"format": None}, {}])
def test_a_checkpoint_of_another_format_is_refused(tmp_path, payload):
    state = _state()
    torch.save({**state, **payload}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=f"not a bigan-repr checkpoint \\(expected format {FORMAT}\\)"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"format": FORMAT, **state}, tmp_path / "ours.pt")  # the same state in our format loads
    assert load_checkpoint(tmp_path / "ours.pt")["step"] == 0


def test_the_model_is_rebuilt_from_its_checkpoint_with_its_weights(tmp_path):
    state = _state()
    torch.save({"format": FORMAT, **state}, tmp_path / "c.pt")
    model, cfg = model_from_checkpoint(load_checkpoint(tmp_path / "c.pt"))
    assert cfg == CFG and model.image_shape == SHAPE
    rebuilt = model.state_dict()
    assert rebuilt.keys() == state["model"].keys()
    assert all(torch.equal(rebuilt[k], state["model"][k]) for k in rebuilt)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["config"]["model"].update(hidden=64), "its weights do not fit the networks its config builds "
                                                       "(32 of another shape, e.g. generator.net.0.weight: [128, 8] "
                                                       "in the file, [64, 8] by the config)"),
    (lambda c: c.pop("model"), "is not a usable bigan-repr checkpoint: no 'model' weights"),
    (lambda c: c.update(model={"w": [1, 2]}), "no 'model' weights (a mapping of tensors)"),
    (lambda c: c.pop("config"), "is not a usable bigan-repr checkpoint: no 'config' object"),
    (lambda c: c.update(step="22"), "no 'step' (an integer >= 0)"),
    (lambda c: c.update(image_shape=[1, 8]), "'image_shape' must be [channels 1 or 3, size, size]"),
    (lambda c: c.update(image_shape=[1, 10**9, 10**9]), "'image_shape' must be [channels 1 or 3, size, size]"),
    (lambda c: c.update(image_shape=[2, 8, 8]), "'image_shape' must be [channels 1 or 3, size, size]"),
    (lambda c: c.update(ema_encoder={"w": torch.zeros(1)}), "its averaged encoder weights do not fit"),
    (lambda c: c["config"].update(train=5), "section 'train' must be a mapping, got a number (5)"),
])
def test_a_checkpoint_that_disagrees_with_itself_is_one_line_naming_it(tiny_run, tmp_path, change, message):
    run, path = run_with_checkpoint(tiny_run, tmp_path, change)
    line = one_error_line(["encode", run, "--out", tmp_path / "f.npz"])
    assert str(path) in line and message in line, line
    assert not (tmp_path / "f.npz").exists()


def test_random_bytes_are_no_checkpoint_not_code(tiny_run, tmp_path):
    run, path = run_with_checkpoint(tiny_run, tmp_path, lambda c: None)
    path.write_bytes(bytes(range(256)) * 64)
    line = one_error_line(["encode", run, "--out", tmp_path / "f.npz"])
    assert line == f"error: {path} is not a checkpoint: torch cannot read it (random or damaged bytes, or a pickle " \
                   "of a form torch.save does not write)"


# ---- what a checkpoint stores is checked on load, before anything is built from it ---------------------

SEMI = CFG.updated({"data": {"labels_per_class": 2}})


def _semisup_run(tmp_path, change=lambda c: None, k: int = 3):
    """A run folder holding one semi-supervised checkpoint of ``k`` classes (``change`` edits it first), and an
    image to predict."""
    torch.manual_seed(0)
    model = networks_for(SEMI, SHAPE, k)
    ckpt = {"format": FORMAT, "config": SEMI.to_dict(), "step": 1, "image_shape": list(SHAPE),
            "model": model.state_dict(), "classes": list(range(k)), "class_names": ["cat", "dog", "emu"][:k]}
    change(ckpt)
    run = tmp_path / "run"
    checkpoint_path(run, 1).parent.mkdir(parents=True)
    torch.save(ckpt, checkpoint_path(run, 1))
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "x.png")
    return run


def _set(key, value):
    return lambda c: c.update({key: value})


def _poison(key: str, value: float, part: str = "model"):
    def change(c):
        c[part][key] = c[part][key].clone()
        c[part][key].view(-1)[0] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set("class_names", "cat"), "'class_names' must be a list of 3 distinct non-empty strings, one per classifier "
                                 "output, not a str of 3 characters"),
    (_set("class_names", ["cat", "dog"]), "not a list of 2 items"),
    (_set("class_names", ["cat", "dog", "emu", "fox"]), "not a list of 4 items"),
    (_set("class_names", ["cat", "cat", "emu"]), "'class_names' must be a list of 3 distinct non-empty strings"),
    (_set("class_names", ["cat", "", "emu"]), "'class_names' must be a list of 3 distinct non-empty strings"),
    (_set("class_names", ["cat", 7, "emu"]), "'class_names' must be a list of 3 distinct non-empty strings"),
    (_set("class_names", {"0": "cat"}), "not a dict of 1 items"),
    (_set("classes", [0, 0, 1]), "'classes' must be a list of at least 2 distinct integer labels (>= 0)"),
    (_set("classes", [0, -1, 2]), "'classes' must be a list of at least 2 distinct integer labels (>= 0)"),
    (_set("classes", [0, 1]), "'class_names' must be a list of 2 distinct non-empty strings"),
    (_set("classes", None), "'class_names' must be a list of K distinct non-empty strings"),
    (lambda c: c.update(classes=[0, 1], class_names=None), "its weights do not fit the networks its config builds "
                                                           "(2 of another shape, e.g. classifier"),
    (_poison("classifier.weight", float("nan")), "model/classifier.weight holds NaN or infinity; every number a "
                                                 "checkpoint stores must be finite"),
    (_poison("encoder.body.1.weight", float("inf")), "model/encoder.body.1.weight holds NaN or infinity"),
    (_poison("classifier.bias", float("-inf")), "model/classifier.bias holds NaN or infinity"),
])
def test_a_stored_classifier_is_checked_before_any_answer(tmp_path, change, message):
    """Class names, class labels and weights as stored: refused in one line naming the checkpoint, never a
    prediction of class 0 with probability NaN, never a string's letters taken for class names."""
    run = _semisup_run(tmp_path, change)
    for args in (["predict", run, tmp_path / "x.png"], ["encode", run, "--out", tmp_path / "f.npz"]):
        line = one_error_line(args)
        assert line.startswith(f"error: {checkpoint_path(run, 1)}") and message in line, line
    assert not (tmp_path / "f.npz").exists()


def test_a_stored_classifier_that_holds_predicts_by_its_class_names(tmp_path):
    from click.testing import CliRunner

    from bigan_repr.cli import main

    run = _semisup_run(tmp_path)
    result = CliRunner().invoke(main, ["predict", str(run), str(tmp_path / "x.png"), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["class"] in ("cat", "dog", "emu") and 0 < row["probability"] <= 1


@pytest.mark.parametrize("part, where", [("model", None), ("ema_encoder", None),
                                         ("opt_ge", "opt_ge/state/0/exp_avg"), ("best_metric", "best_metric"),
                                         ("nested", "nested/1/x")])
def test_every_number_a_checkpoint_stores_is_finite_on_load(tmp_path, part, where):
    state = _state() | {"format": FORMAT}
    if part in ("model", "ema_encoder"):
        state[part] = networks_for(CFG, SHAPE).encoder.state_dict() if part == "ema_encoder" else state["model"]
        key = next(k for k, v in state[part].items() if v.is_floating_point())
        _poison(key, float("nan"), part)(state)
        where = f"{part}/{key}"
    elif part == "opt_ge":
        state["opt_ge"] = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.tensor([0.0, float("inf")])}},
                           "param_groups": [{"lr": 2e-4}]}
    elif part == "best_metric":
        state["best_metric"] = float("nan")
    else:
        state["nested"] = [1.5, {"x": -float("inf")}]
    torch.save(state, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=rf"c\.pt is not a usable bigan-repr checkpoint: {re.escape(where)} holds "
                                              r"NaN or infinity; every number a checkpoint stores must be finite"):
        load_checkpoint(tmp_path / "c.pt")


def test_weights_are_checked_against_the_stored_config_before_any_network_is_allocated(tiny_run, tmp_path,
                                                                                       monkeypatch):
    """A config edited to `hidden 65536` (17 GB of networks) beside small weights: refused in one line, with
    every network built before the refusal built on the meta device (shapes only, no memory)."""
    import bigan_repr.model.checkpoint as checkpoint

    devices = []

    def recording(*args, **kwargs):
        devices.append(torch.get_default_device().type)
        return networks_for(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "networks_for", recording)
    run, path = run_with_checkpoint(tiny_run, tmp_path, lambda c: c["config"]["model"].update(hidden=65536))
    for args in (["encode", run, "--out", tmp_path / "f.npz"],
                 ["export", run, "--format", "safetensors", "--out", tmp_path / "e.safetensors"]):
        devices.clear()
        line = one_error_line(args)
        assert line.startswith(f"error: {path}: its weights do not fit the networks its config builds ("), line
        assert "[128, 8] in the file, [65536, 8] by the config" in line, line
        assert devices == ["meta"]
    run, _ = run_with_checkpoint(tiny_run, tmp_path / "ema", lambda c: c.update(ema_encoder={"w": torch.zeros(1)}))
    with pytest.raises(CheckpointError, match=r"its averaged encoder weights do not fit .* \(.* missing, e\.g\. "):
        load_checkpoint(run)
