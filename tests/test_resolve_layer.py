"""Which feature layer a command exports is decided in one place, config.resolve_layer."""

import pytest

from bigan_repr.config import FEATURE_LAYERS, Config, ConfigError, resolve_layer

NO_D = {"train": {"adversarial": False}}


def test_the_default_is_the_runs_own_layer_and_any_learned_layer_may_be_asked_for():
    cfg = Config().updated({"model": {"features": "z"}})
    assert resolve_layer(cfg, None) == "z"
    assert [resolve_layer(cfg, layer) for layer in FEATURE_LAYERS] == list(FEATURE_LAYERS)


def test_d_needs_a_trained_d():
    cfg = Config().updated(NO_D)
    assert cfg.trained_layers == ("z", "penultimate", "concat") and resolve_layer(cfg, None) == "penultimate"
    with pytest.raises(ConfigError, match=r"layer 'd' is not valid for this run \(the run trained no D"):
        resolve_layer(cfg, "d")


def test_an_unknown_layer_lists_the_valid_ones():
    with pytest.raises(ConfigError,
                       match="layer 'fc7' is not valid for this run; choose one of: z, penultimate, d, concat"):
        resolve_layer(Config(), "fc7")


def test_a_config_exporting_d_without_training_d_is_refused():
    with pytest.raises(ConfigError, match="model.features='d' exports D's image pathway"):
        Config().updated(NO_D | {"model": {"features": "d"}})


def test_the_api_refuses_d_of_a_run_without_d(tmp_path):
    import numpy as np

    from bigan_repr.features.encoder import load_encoder
    from bigan_repr.features.export import feature_net
    from bigan_repr.train.trainer import train

    cfg = Config().updated({"model": {"hidden": 32, "z_dim": 4, "projector": 16},
                            "train": NO_D["train"] | {"steps": 1, "batch_size": 32, "threads": 1}})
    train(cfg, tmp_path / "run", progress=False)
    loaded = load_encoder(tmp_path / "run")
    images = np.zeros((2, 1, 8, 8), np.uint8)
    assert loaded.encode(images).shape == (2, 32)  # penultimate, the run's own layer
    for refused in (lambda: loaded.encode(images, layer="d"), lambda: feature_net(loaded, "d")):
        with pytest.raises(ConfigError, match="trained no D"):
            refused()


def test_a_report_evaluates_concat_only_where_the_run_exports_it():
    assert Config().report_layers == ("z", "penultimate", "d")
    assert Config().updated({"model": {"features": "concat"}}).report_layers == FEATURE_LAYERS
