"""Evaluation during training, best-checkpoint selection, and the named presets."""

import json

import numpy as np
import pytest
import torch

from bigan_repr.config import Config, ConfigError
from bigan_repr.features.encoder import load_encoder
from bigan_repr.model.checkpoint import load_checkpoint
from bigan_repr.presets import PRESETS
from bigan_repr.train.trainer import Trainer, train
from tests.conftest import SMALL


def test_eval_every_logs_validation_and_best_is_the_best_checkpoint(tmp_path):
    cfg = Config().updated(SMALL | {"train": SMALL["train"] | {"steps": 40, "batch_size": 16,
                                                               "eval_every": 8, "select": "knn"}})
    train(cfg, tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r.get("kind") == "eval"]
    assert [r["step"] for r in evals] == [8, 16, 24, 32, 40]
    # ten classes, chance 0.1; measured 0.61-0.73 on native and ATEN_CPU_CAPABILITY=default kernels
    assert all(r["val_knn"] > 0.4 and r["val_linear"] > 0.4 for r in evals)
    best_row = max(evals, key=lambda r: r["val_knn"])  # the first maximum wins ties
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["step"] == best_row["step"] and best["best_metric"] == pytest.approx(best_row["val_knn"])
    # encoders load the best checkpoint by default: the tool does not hand out the worse one
    assert load_encoder(tmp_path / "run").step == best_row["step"]


def test_select_without_eval_every_is_refused():
    with pytest.raises(ConfigError, match="eval_every"):
        Config().updated({"train": {"select": "knn"}})


def _preset_config(name, tmp_path):
    cfg = Config().updated(PRESETS[name])
    if cfg.data.source not in ("fashion-mnist",):  # offline here: same image format, synthetic pixels
        c = cfg.data.channels or 1
        rng = np.random.default_rng(0)
        path = tmp_path / "data.npz"
        np.savez(path, x=rng.integers(0, 256, (64, 28, 28, c), dtype=np.uint8), y=np.arange(64) % 10)
        cfg = cfg.updated({"data": {"source": f"npz:{path}"}})
    return cfg.updated({"train": {"steps": 1, "threads": 1, "batch_size": 8, "eval_every": None, "select": None}})


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_loads_and_trains_one_step(tmp_path, name):
    from bigan_repr.data.sources import DEBIAN_FASHION_MNIST

    if PRESETS[name]["data"]["source"] == "fashion-mnist" and not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("Fashion-MNIST files absent (apt-get install dataset-fashion-mnist)")
    trainer = Trainer(_preset_config(name, tmp_path), tmp_path / "run", progress=False)
    before = {k: p.detach().clone() for k, p in trainer.parts.model.named_parameters()}
    result = trainer.run()
    assert result.step == 1 and np.isfinite(result.metrics["g_loss"]) and np.isfinite(result.metrics["d_loss"])
    after = dict(trainer.parts.model.named_parameters())
    for net in ("generator", "encoder", "discriminator"):  # the one step moved every network, to finite values
        params = [k for k in before if k.startswith(f"{net}.")]
        assert any(not torch.equal(before[k], after[k]) for k in params), net
        assert all(torch.isfinite(after[k]).all() for k in params), net


def test_ema_encoder_is_exported_and_resumes_exactly(tmp_path):
    def cfg(steps):
        return Config().updated(SMALL | {"train": SMALL["train"] | {"steps": steps, "ema": 0.9}})

    train(cfg(6), tmp_path / "straight", progress=False)
    train(cfg(3), tmp_path / "split", progress=False)
    Trainer(cfg(6), tmp_path / "split", resume=True, progress=False).run()
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert all(torch.equal(a["ema_encoder"][k], b["ema_encoder"][k]) for k in a["ema_encoder"])
    exported = load_encoder(tmp_path / "straight").encoder.state_dict()
    assert all(torch.equal(exported[k], a["ema_encoder"][k]) for k in exported)
    live = {k[len("encoder."):]: v for k, v in a["model"].items() if k.startswith("encoder.")}
    assert not torch.equal(exported["head.weight"], live["head.weight"])  # an average, not the live weights
