"""bigan finetune: E starts from a trained run's weights and trains with a fresh head on the labels alone; the
new run is its own folder (the source is only read), and predict reads it."""

import hashlib
import shutil

import pytest
import torch
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import ConfigError
from bigan_repr.features.encoder import load_encoder
from bigan_repr.train.finetune import finetune_config, init_encoder
from bigan_repr.train.trainer import Trainer
from tests.conftest import one_error_line


def _digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def source(tiny_run, tmp_path):
    run = tmp_path / "source"
    shutil.copytree(tiny_run, run)
    return run


def test_the_fine_tune_config_keeps_the_networks_and_trains_the_labels_alone(source):
    cfg = finetune_config(source, 5, 2, steps=7)
    stored = load_encoder(source).config
    assert cfg.model == stored.model.__class__(**{**vars(stored.model), "classifier_on": "e"})
    assert (cfg.data.labels_per_class, cfg.data.label_seed, cfg.train.steps) == (5, 2, 7)
    assert not cfg.train.adversarial and cfg.train.invariance == "none" and cfg.train.select is None
    assert cfg.train.init_encoder == str(source)


def test_e_starts_from_the_source_run_and_the_source_is_only_read(source, tmp_path):
    before = _digest(source)
    trainer = Trainer(finetune_config(source, 5, 0, steps=4), tmp_path / "tuned", progress=False)
    learned = load_encoder(source).encoder.state_dict()
    start = trainer.parts.model.encoder.state_dict()
    assert all(torch.equal(start[k], learned[k]) for k in learned)
    trainer.run()
    tuned = load_encoder(tmp_path / "tuned")
    assert tuned.classifier is not None and tuned.step == 4
    assert not all(torch.equal(tuned.encoder.state_dict()[k], learned[k]) for k in learned)  # E trained on
    assert _digest(source) == before


def test_the_finetune_command_writes_a_run_predict_reads(source, tmp_path):
    out = tmp_path / "tuned"
    result = CliRunner().invoke(main, ["finetune", str(source), "--labels-per-class", "3", "--steps", "2",
                                       "--out", str(out), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "finished at step 2" in result.output and (out / "labelled.json").is_file()
    from PIL import Image

    Image.fromarray(load_encoder(out).conform(torch.zeros(1, 1, 8, 8, dtype=torch.uint8).numpy())[0, 0]).save(
        tmp_path / "x.png")
    predicted = CliRunner().invoke(main, ["predict", str(out), str(tmp_path / "x.png"), "--json"])
    assert predicted.exit_code == 0, predicted.output


def test_the_finetune_commands_refusals_write_nothing(source, tmp_path):
    before = _digest(source)
    args = ["finetune", source, "--labels-per-class", "3", "--steps", "2"]
    assert "is inside run directory" in one_error_line([*args, "--out", source / "tuned"])
    assert "already holds a run" in one_error_line([*args, "--out", source])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no checkpoints" in one_error_line(["finetune", empty, "--labels-per-class", "3", "--out",
                                               tmp_path / "t"])
    assert _digest(source) == before and not (tmp_path / "t").exists()


def test_networks_unlike_the_source_are_refused(source):
    cfg = finetune_config(source, 5, 0).updated({"model": {"hidden": 64}})
    from bigan_repr.model.networks import networks_for

    model = networks_for(cfg, (1, 8, 8), 10)
    with pytest.raises(ConfigError, match="its networks differ from this run's \\(model.hidden"):
        init_encoder(model, source)
