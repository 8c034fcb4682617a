"""checkpoint.py: a run's checkpoints found in step order; what is not one of our checkpoints, or disagrees
with itself, refused in one line naming the file; the model rebuilt from one exactly."""

import pytest
import torch

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
