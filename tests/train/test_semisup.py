"""Semi-supervised training: the labelled part, the classifier's terms in each recipe, resume, refusals."""

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.config import Config, ConfigError
from bigan_repr.train.trainer import Trainer, train

SMALL = {"model": {"hidden": 32, "z_dim": 4, "projector": 16},
         "train": {"batch_size": 32, "threads": 1, "log_every": 2, "checkpoint_every": 3, "sample_every": 1000}}


def _cfg(steps: int, labels: int = 5, **train_fields) -> Config:
    return Config().updated({"data": {"labels_per_class": labels}, "model": SMALL["model"],
                             "train": SMALL["train"] | {"steps": steps} | train_fields})


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("recipe, terms", [
    ({}, {"class_loss", "generated_class_loss", "invariance", "d_loss"}),  # (c) the full recipe
    ({"adversarial": False}, {"class_loss", "invariance"}),  # (b) labels + invariance, no D or G
    ({"adversarial": False, "invariance": "none"}, {"class_loss"}),  # (a) the labels alone
    ({"feature_matching": 1.0}, {"class_loss", "generated_class_loss", "invariance", "d_loss", "feature_gap"}),
])
def test_each_recipe_trains_the_classifier_with_its_own_terms(tmp_path, recipe, terms):
    trainer = Trainer(_cfg(4, **recipe), tmp_path / "run", progress=False)
    model = trainer.parts.model
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    trainer.run()
    logged = set(_rows(tmp_path / "run")[-1]) & {"class_loss", "generated_class_loss", "invariance", "d_loss",
                                                 "feature_gap"}
    assert logged == terms
    moved = {net for net in ("generator", "encoder", "discriminator", "classifier")
             if any(not torch.equal(before[k], p) for k, p in model.named_parameters() if k.startswith(net))}
    assert moved == ({"generator", "encoder", "discriminator", "classifier"} if "d_loss" in terms
                     else {"encoder", "classifier"})
    stored = json.loads((tmp_path / "run" / "labelled.json").read_text())
    assert stored["labelled"] == 50 and stored["labels_per_class"] == 5 and stored["label_seed"] == 0


def test_the_labelled_cross_entropy_falls(tmp_path):
    train(_cfg(80, adversarial=False, invariance="none", log_every=10, lr=2e-3), tmp_path / "run", progress=False)
    losses = [r["class_loss"] for r in _rows(tmp_path / "run") if "class_loss" in r]
    assert losses[-1] < 0.5 * losses[0]


def test_resume_keeps_the_labelled_ids_and_refuses_a_changed_split(tmp_path):
    run = tmp_path / "run"
    train(_cfg(3), run, progress=False)
    first = (run / "labelled.json").read_bytes()
    train(_cfg(6), run, resume=True, progress=False)
    assert (run / "labelled.json").read_bytes() == first  # the same ids, bit for bit
    stored = json.loads(first)
    stored["ids"][0] = "somewhere-else"
    (run / "labelled.json").write_text(json.dumps(stored))
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(Exception, match="holds other labelled images than the 50 drawn now"):
        train(_cfg(9), run, resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    train(_cfg(6), tmp_path / "whole", progress=False)
    train(_cfg(3), tmp_path / "split", progress=False)
    train(_cfg(6), tmp_path / "split", resume=True, progress=False)
    whole = torch.load(tmp_path / "whole/checkpoints/step_00000006.pt", weights_only=True)["model"]
    split = torch.load(tmp_path / "split/checkpoints/step_00000006.pt", weights_only=True)["model"]
    assert whole.keys() == split.keys() and all(torch.equal(whole[k], split[k]) for k in whole)


def test_config_refusals():
    with pytest.raises(ConfigError, match=r"data.labels_per_class must lie in \[1, 1000000000\], got 0"):
        _cfg(1, labels=0)
    with pytest.raises(ConfigError, match="data.labels_per_class must be an integer"):
        Config().updated({"data": {"labels_per_class": 2.5}})
    with pytest.raises(ConfigError, match="train.select chooses checkpoints on labels beyond"):
        _cfg(1, eval_every=1, select="knn")
    with pytest.raises(ConfigError, match="leaves nothing to train"):
        Config().updated({"train": {"adversarial": False, "invariance": "none"}})


def _unlabelled_folder(root):
    folder = root / "imgs"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(np.full((8, 8), i * 6, np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("extra, message", [
    (["--data", "folder:{FOLDER}"], "--labels-per-class needs labels, and data source 'folder:"),
    (["--data", "npz:{NPZ}"], "--labels-per-class needs labels, and data source 'npz:"),
    ([], "--labels-per-class 200: class '0' (label 0) of data source 'digits' has only"),
])
def test_bad_labelled_sources_are_one_line_exit_2_and_nothing_written(tmp_path, extra, message):
    np.savez(tmp_path / "x.npz", x=np.zeros((40, 8, 8), np.uint8))
    folder = _unlabelled_folder(tmp_path)
    labels = "200" if not extra else "2"
    args = ["train", "--out", str(tmp_path / "out"), "--labels-per-class", labels, "--steps", "1", "--quiet",
            "--batch-size", "8",
            *[a.format(FOLDER=folder, NPZ=tmp_path / "x.npz") for a in extra]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_fractional_label_count(tmp_path):
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "o"), "--labels-per-class", "2.5"])
    assert result.exit_code == 2 and "'2.5' is not a valid integer" in result.output
    assert not (tmp_path / "o").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_an_encoder_average_is_refused_with_a_classifier():
    """--ema exports an average of E alone; the classifier head was trained beside the live E."""
    with pytest.raises(ConfigError, match="train.ema averages E alone"):
        _cfg(1, ema=0.99)


def test_a_labelled_json_that_is_no_regular_file_is_refused_without_blocking(tmp_path):
    """A FIFO at RUN/labelled.json would block a plain open() until someone wrote to it: refused at once."""
    import os
    import signal

    run = tmp_path / "run"
    train(_cfg(3), run, progress=False)
    (run / "labelled.json").unlink()
    os.mkfifo(run / "labelled.json")

    def expire(signum, frame):
        raise TimeoutError("the resume blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        with pytest.raises(Exception, match=r"labelled\.json: is a FIFO \(named pipe\), not a regular file"):
            train(_cfg(6), run, resume=True, progress=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not (run / "checkpoints" / "step_00000006.pt").exists()
