"""Shared fixtures: small, fast runs on the bundled digits data."""

import os
import shutil
from pathlib import Path

import pytest
import torch
from sklearn.datasets import make_blobs

# two cores: one torch thread per test process keeps BLAS, OpenMP and torch from fighting
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

# the plain BiGAN objective (no invariance term) exporting z: what most tests exercise
SMALL = {
    "model": {"hidden": 128, "z_dim": 8, "features": "z"},
    "train": {"batch_size": 64, "log_every": 5, "threads": 1, "checkpoint_every": 1000, "invariance": "none"},
}


def blobs(n_train=300, n_test=200, n_classes=10, dim=32, seed=0):
    """Well-separated Gaussian classes, split into (train_x, train_y, test_x, test_y)."""
    x, y = make_blobs(n_samples=n_train + n_test, centers=n_classes, n_features=dim, random_state=seed)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 1-epoch digits run with a small MLP, shared by the feature and report tests."""
    from bigan_repr.config import Config
    from bigan_repr.train.trainer import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"epochs": 1}})
    train(cfg, out, progress=False)
    return out


def run_with_checkpoint(tiny_run: Path, tmp_path: Path, change) -> tuple[Path, Path]:
    """A copy of the tiny run whose latest checkpoint ``change`` has edited; (run, checkpoint file)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    path = sorted((run / "checkpoints").glob("step_*.pt"))[-1]
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    return run, path


def one_error_line(args) -> str:
    """The `bigan` command's output for ``args``, asserted to be one error line with exit status 2."""
    from click.testing import CliRunner

    from bigan_repr.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]
