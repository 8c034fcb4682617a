"""Presets are measured recipes: a change of a config default must not change one silently."""

import pytest

from bigan_repr.presets import PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_states_its_x_cycle_weight(name):
    # the default's weight (0.05) is the digits demo's; each preset was measured with its own
    assert "recon_weight" in PRESETS[name]["train"]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_states_its_length(name):
    # the default's 100 epochs are sized for the 1,437 digits; a preset sets steps or epochs itself
    assert {"steps", "epochs"} & set(PRESETS[name]["train"])


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_states_its_width(name):
    # the default's 512 units size the quick start; a preset was measured at its own width
    assert "hidden" in PRESETS[name]["model"]


def test_a_dropped_preset_is_refused_with_its_replacement():
    from bigan_repr.config import ConfigError
    from bigan_repr.presets import DROPPED, preset

    assert not set(DROPPED) & set(PRESETS)
    with pytest.raises(ConfigError, match="preset 'fmnist-mlp' was dropped: .*fmnist-mlp-alice"):
        preset("fmnist-mlp")
