"""--classifier-on d: the K class logits read from D's image pathway and trained in D's update (Salimans et
al., ALI); G and E's update leaves them alone; predict, export and the report read the same classifier."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.config import Config, ConfigError
from bigan_repr.features.encoder import dataset_for, load_encoder
from bigan_repr.losses.semisup import generated_loss, labelled_loss, unlabelled_real_loss
from bigan_repr.nets.bigan import class_logits
from bigan_repr.train.step import train_step
from bigan_repr.train.trainer import Trainer

SMALL = {"model": {"hidden": 32, "z_dim": 4, "projector": 16},
         "train": {"batch_size": 32, "threads": 1, "log_every": 2, "checkpoint_every": 4, "sample_every": 1000}}


def _cfg(steps: int, on: str = "d", **train_fields) -> Config:
    return Config().updated({"data": {"labels_per_class": 5}, "model": SMALL["model"] | {"classifier_on": on},
                             "train": SMALL["train"] | {"steps": steps} | train_fields})


def test_a_classifier_on_d_needs_labels_and_d():
    with pytest.raises(ConfigError, match="classifier_on d puts the classifier on D"):
        Config().updated({"model": {"classifier_on": "d"}})
    with pytest.raises(ConfigError, match="classifier_on d puts the classifier on D"):
        _cfg(2, adversarial=False)
    assert _cfg(2).model.classifier_on == "d" and Config().model.classifier_on == "e"


def test_the_head_reads_ds_image_pathway_and_trains_in_ds_update_alone(tmp_path):
    trainer = Trainer(_cfg(1), tmp_path / "run", progress=False)
    model, ctx = trainer.parts.model, trainer.parts.ctx
    assert model.classifier.in_features == model.cfg.hidden  # D's image pathway, not E's penultimate layer
    assert [t.name for t in ctx.trained_by("d")] == ["real_or_generated", "labelled"]
    assert all(t.trains == "ge" for t in ctx.trained_by("ge"))
    in_d = {id(p) for group in ctx.opt_d.param_groups for p in group["params"]}
    in_ge = {id(p) for group in ctx.opt_ge.param_groups for p in group["params"]}
    assert all(id(p) in in_d and id(p) not in in_ge for p in model.classifier.parameters())
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    stats = train_step(ctx, [trainer.parts.stream.next()])
    assert {"class_loss", "generated_class_loss", "d_loss"} <= set(stats)
    moved = {k.split(".")[0] for k, p in model.named_parameters() if not torch.equal(before[k], p)}
    assert {"classifier", "discriminator", "encoder", "generator"} <= moved


def test_ds_class_terms_on_known_logits():
    # the terms' losses are the (K+1)-class losses of losses/semisup on the head's logits, whichever body
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    assert labelled_loss(logits, y).item() == pytest.approx(
        float(-(torch.log_softmax(logits, 1)[0, 0] + torch.log_softmax(logits, 1)[1, 2]) / 2), abs=1e-6)
    z = torch.logsumexp(logits, 1)  # log Z(x); p(real | x) = Z / (Z + 1), p(generated | x) = 1 / (Z + 1)
    assert unlabelled_real_loss(logits).item() == pytest.approx(float((torch.nn.functional.softplus(z) - z).mean()),
                                                               abs=1e-6)
    assert generated_loss(logits).item() == pytest.approx(float(torch.nn.functional.softplus(z).mean()), abs=1e-6)


def test_predict_export_and_report_read_the_classifier_on_d(tmp_path):
    pytest.importorskip("safetensors")
    run = tmp_path / "run"
    Trainer(_cfg(6, lr=1e-3), run, progress=False).run()
    loaded = load_encoder(run)
    test_set = dataset_for(loaded, None, "test")
    probs = loaded.class_probabilities(test_set.images[:20])
    with torch.no_grad():
        x = loaded.conform(test_set.images[:20])
        direct = torch.softmax(class_logits(loaded.encoder, loaded.discriminator, loaded.classifier,
                                            torch.from_numpy(x).float() / 127.5 - 1, "d"), 1).numpy()
    assert np.allclose(probs, direct, atol=1e-5)
    out = tmp_path / "clf.safetensors"
    result = CliRunner().invoke(main, ["export", str(run), "--classifier", "--format", "safetensors",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    from bigan_repr.features.export import load_safetensors

    net = load_safetensors(out)
    with torch.no_grad():
        exported = net(torch.from_numpy(test_set.images[:20])).numpy()
    assert net.encoder is None and net.reads == "d"  # D's image pathway only: no encoder weights in the file
    assert np.allclose(exported, probs, atol=1e-5)
    files = tmp_path / "images"
    files.mkdir()
    for i, image in enumerate(test_set.images[:20]):
        Image.fromarray(image[0]).save(files / f"{i:02d}.png")
    result = CliRunner().invoke(main, ["predict", str(run), str(files), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["probability"] for r in rows] == pytest.approx(probs.max(1).tolist(), abs=1e-5)
