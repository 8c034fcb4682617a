"""Bad input on the command line: one clear line, exit status 2, no traceback, nothing written."""

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_run):
    """Paths the table below refers to by name: a run (a copy), a feature file, tiny datasets."""
    root = tmp_path_factory.mktemp("cli")
    run = root / "run"
    shutil.copytree(tiny_run, run)
    rng = np.random.default_rng(0)
    np.savez(root / "f.npz", features=rng.normal(size=(40, 4)), labels=np.arange(40) % 4)
    np.savez(root / "two.npz", x=rng.integers(0, 256, (2, 8, 8), dtype=np.uint8), y=np.array([0, 1]))
    np.savez(root / "unlabelled.npz", x=rng.integers(0, 256, (8, 8, 8), dtype=np.uint8))
    (root / "one").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "one" / "a.png")
    foreign = root / "other.pt"  # a checkpoint that is not one of the run's own
    shutil.copy(next((tiny_run / "checkpoints").glob("step_*.pt")), foreign)
    return {"RUN": run, "F": root / "f.npz", "TWO": root / "two.npz", "ONE": root / "one", "FOREIGN": foreign,
            "OUT": root / "out", "UNLABELLED": root / "unlabelled.npz"}


TRAIN = ["train", "--out", "{OUT}", "--quiet"]
EVAL = ["eval", "--train", "{F}", "--test", "{F}"]
PIPELINE = ["pipeline", "--out", "{OUT}", "--quiet", "--steps", "1"]  # refused before training, not after it


@pytest.mark.parametrize("args, message", [
    ([*TRAIN, "--epochs", "inf"], "'inf' is not a finite number"),
    ([*TRAIN, "--lr", "nan"], "'nan' is not a finite number"),
    ([*TRAIN, "--threads", "-1"], "Invalid value for '--threads': -1 is not in the range 1<=x<=1024"),
    ([*TRAIN, "--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295"),
    ([*TRAIN, "--image-size", "100000"], "Invalid value for '--image-size': 100000 is not in the range 1<=x<=1024"),
    # sane limits, declared once on the config's fields (config.option(limits=...)) and shown by --help
    ([*TRAIN, "--threads", "100000000000"], "'--threads': 100000000000 is not in the range 1<=x<=1024"),
    ([*TRAIN, "--epochs", "1e308"], "'--epochs': 1e+308 is not in the range 0.0<=x<=1000000.0"),
    ([*TRAIN, "--hidden", "100000000000"], "'--hidden': 100000000000 is not in the range 1<=x<=65536"),
    ([*TRAIN, "--z-dim", "1000000000000"], "'--z-dim': 1000000000000 is not in the range 1<=x<=65536"),
    ([*TRAIN, "--steps", "10000000000"], "'--steps': 10000000000 is not in the range 1<=x<=1000000000"),
    ([*TRAIN, "--batch-size", "10000000"], "'--batch-size': 10000000 is not in the range 1<=x<=1000000"),
    ([*EVAL, "--seeds", "100000000000000"], "'--seeds': 100000000000000 is not in the range 1<=x<=1000"),
    ([*EVAL, "--threads", "100000000000"], "'--threads': 100000000000 is not in the range 1<=x<=1024"),
    (["encode", "{RUN}", "--out", "{OUT}/", "--shard-size", "0"], "'--shard-size': 0 is not in the range"),
    ([*EVAL, "--index", "ivf:nlist=\u00b2"], "nlist must be an integer from 1 to 16777216, got '\u00b2'"),
    ([*EVAL, "--index", "ivf:nlist=100000000000000000000"], "nlist must be an integer from 1 to 16777216"),
    ([*EVAL, "--index", "ivf:nlist=41"], "nlist=41 lists for 40 database vectors"),
    ([*EVAL, "--budgets", "100000"], "label budget 100000/class: class 0 has only 10 training examples"),
    ([*EVAL, "--budgets", "1.5"], "label budget must be an int (per class) or a float in (0, 1], got 1.5"),
    ([*PIPELINE, "--budgets", "100000"], "label budget 100000/class: class"),
    ([*PIPELINE, "--data", "npz:{UNLABELLED}", "--batch-size", "4"], "has no labels; evaluation needs them"),
    ([*TRAIN, "--batch-size", "1", "--steps", "1"], "batch norm, which needs at least 2 images per batch"),
    ([*TRAIN, "--data", "folder:{ONE}", "--steps", "1"], "larger than the dataset (1 images)"),
    ([*TRAIN, "--data", "npz:{TWO}", "--batch-size", "2", "--eval-every", "1"], "--eval-every needs a validation"),
    (["train", "--resume", "{RUN}", "--preset", "fmnist-mlp-alice"], "--preset cannot be combined with it"),
    # a dropped preset's name is answered with what replaced it, by train and pipeline alike
    ([*TRAIN, "--preset", "fmnist-mlp"], "preset 'fmnist-mlp' was dropped: it did not couple G and E"),
    ([*PIPELINE, "--preset", "fmnist-mlp"], "fmnist-mlp-alice adds the x-cycle term"),
    (["train", "--resume", "{RUN}", "--out", "{RUN}"], "--out cannot be combined with it"),
    ([*EVAL, "--seeds", "0"], "Invalid value for '--seeds': 0 is not in the range 1<=x<=1000"),
    ([*EVAL, "--restarts", "0"], "Invalid value for '--restarts': 0 is not in the range 1<=x<=1000"),
    ([*EVAL, "--k", "0"], "Invalid value for '--k': 0 is not in the range 1<=x<=100000"),
    ([*EVAL, "--threads", "0"], "Invalid value for '--threads': 0 is not in the range 1<=x<=1024"),
    (["report", "{RUN}", "--threads", "-1"], "Invalid value for '--threads': -1 is not in the range 1<=x<=1024"),
    (["encode", "{RUN}", "--out", "{OUT}", "--threads", "-1"], "Invalid value for '--threads'"),
    (["report", "{RUN}", "--checkpoint", "{FOREIGN}"], "is not one of"),
])
def test_bad_input_is_one_clear_line_and_exit_2(inputs, args, message):
    before = sorted(p.name for p in inputs["RUN"].rglob("*"))
    result = CliRunner().invoke(main, [a.format(**inputs) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))
    assert len([line for line in result.output.splitlines() if message in line]) == 1, result.output
    assert not inputs["OUT"].exists() and sorted(p.name for p in inputs["RUN"].rglob("*")) == before


@pytest.fixture(scope="module")
def run_without_d(tmp_path_factory):
    """An invariance-only run (--no-adversarial): it trains no D, so it has no "d" layer."""
    from bigan_repr.config import Config
    from bigan_repr.train.trainer import train

    out = tmp_path_factory.mktemp("no-d") / "run"
    cfg = Config().updated({"model": {"hidden": 32, "z_dim": 4, "projector": 16},
                            "train": {"adversarial": False, "steps": 2, "batch_size": 32, "threads": 1}})
    train(cfg, out, progress=False)
    return out


@pytest.mark.parametrize("command", [
    ["encode", "{RUN}", "--out", "{OUT}/f.npz"],
    ["embed", "{RUN}", "{ONE}", "--out", "{OUT}/f.npz"],
    ["export", "{RUN}", "--format", "safetensors", "--out", "{OUT}/e.safetensors"],
])
def test_layer_d_of_a_run_that_trained_no_d_is_refused_by_every_command(inputs, run_without_d, command):
    args = [a.format(RUN=run_without_d, ONE=inputs["ONE"], OUT=inputs["OUT"]) for a in command]
    result = CliRunner().invoke(main, [*args, "--layer", "d"])
    assert result.exit_code == 2, result.output
    assert "layer 'd' is not valid for this run (the run trained no D" in result.output
    assert not inputs["OUT"].exists()
    assert CliRunner().invoke(main, args).exit_code == 0  # its own layer is fine
    shutil.rmtree(inputs["OUT"])


@pytest.mark.parametrize("device, message", [
    ("xyz", "--device 'xyz' is not a device: choose auto, cpu, cuda, cuda:N or mps"),
    ("", "--device '' is not a device"),
    ("meta", "--device meta is not a device this package computes on"),  # a torch device that computes nothing
    ("cpu:3", "--device cpu:3 is not a device this package computes on"),
    ("cuda:99", "--device cuda:99"),  # no such GPU here, whether the machine has none or fewer
])
@pytest.mark.parametrize("command", [
    ["encode", "{RUN}", "--out", "{OUT}/f.npz"], ["embed", "{RUN}", "{ONE}", "--out", "{OUT}/f.npz"],
    ["predict", "{RUN}", "{ONE}"], ["neighbors", "{RUN}", "{ONE}"],
])
def test_a_device_this_machine_lacks_is_refused_by_every_command_that_takes_one(inputs, command, device, message):
    import torch

    from tests.conftest import one_error_line

    if device == "cuda:99" and torch.cuda.device_count() > 99:
        pytest.skip("this machine has a cuda:99")
    line = one_error_line([*[a.format(**inputs) for a in command], "--device", device])
    assert line.startswith(f"error: {message}"), line
    assert not inputs["OUT"].exists()
