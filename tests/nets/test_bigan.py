"""The networks: every architecture at every supported size, the heads, and what building changes."""

import pytest
import torch
from torch import nn

from bigan_repr.config import FEATURE_LAYERS, Config, ConfigError
from bigan_repr.model.networks import networks_for as build_bigan
from bigan_repr.nets.architectures import ARCHITECTURES, conv_sizes
from bigan_repr.nets.bigan import layer_features


def _cfg(arch, **model):
    return Config().updated({"model": {"arch": arch, "hidden": 32, "width": 8, "z_dim": 5} | model})


# E's penultimate width: the MLP's hidden width; conv: the last stage's channels (width 8, doubled per stage)
# times the last stage's area, e.g. 28 -> 14 -> 7 -> 4 px: 8 * 2**2 channels * 4 * 4 = 512
PENULTIMATE = {"mlp": {8: 32, 28: 32, 12: 32, 32: 32}, "conv": {8: 8 * 4 * 4, 28: 32 * 4 * 4, 12: 16 * 3 * 3,
                                                                  32: 32 * 4 * 4}}
# concat: E's last three hidden layers (all, when it has fewer) and z; the MLP has two hidden layers
HIDDEN = {"mlp": {8: 2 * 32, 28: 2 * 32, 12: 2 * 32, 32: 2 * 32},
          "conv": {8: 8 * 4 * 4, 28: 8 * 14 * 14 + 16 * 7 * 7 + 32 * 4 * 4, 12: 8 * 6 * 6 + 16 * 3 * 3,
                   32: 8 * 16 * 16 + 16 * 8 * 8 + 32 * 4 * 4}}


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 12, 12), (3, 32, 32)])
def test_every_architecture_maps_between_images_and_codes(arch, shape):
    torch.manual_seed(0)
    m = build_bigan(_cfg(arch, unary=True), shape)
    x = torch.rand(4, *shape) * 2 - 1
    z = m.encoder(x)
    assert z.shape == (4, 5) and z.abs().max() <= 1  # squashed into U(-1, 1)'s support
    assert m.encoder.features(x).shape == (4, m.encoder.feature_dim)
    x_fake = m.generator(z)
    assert x_fake.shape == x.shape and x_fake.abs().max() <= 1
    assert m.discriminator(x, z).shape == (4, 3)  # joint score plus the two unary ones
    widths = {"z": 5, "penultimate": PENULTIMATE[arch][shape[1]], "d": 32,  # d: D's hidden width, before z joins
              "concat": HIDDEN[arch][shape[1]] + 5}
    assert tuple(widths) == FEATURE_LAYERS and m.encoder.feature_dim == widths["penultimate"]
    for layer in FEATURE_LAYERS:
        assert layer_features(m.encoder, m.discriminator, x, layer).shape == (4, widths[layer])


def test_concat_is_the_last_three_hidden_layers_then_z():
    torch.manual_seed(0)
    m = build_bigan(_cfg("conv"), (1, 64, 64)).eval()  # four stages: 64 -> 32 -> 16 -> 8 -> 4 px
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    hidden = m.encoder.hidden(x)
    assert [h.shape[1] for h in hidden] == [8 * 32 * 32, 16 * 16 * 16, 32 * 8 * 8, 64 * 4 * 4]
    concat = layer_features(m.encoder, m.discriminator, x, "concat")
    assert concat.shape == (3, 16 * 16 * 16 + 32 * 8 * 8 + 64 * 4 * 4 + 5)  # the first stage left out
    torch.testing.assert_close(concat[:, : hidden[1].shape[1]], hidden[1])
    torch.testing.assert_close(concat[:, -5 - 64 * 16: -5], m.encoder.features(x))  # the penultimate layer
    torch.testing.assert_close(concat[:, -5:], m.encoder(x))


def test_conv_halves_down_to_four_pixels_with_dcgan_kernels_on_powers_of_two():
    assert conv_sizes(28) == [28, 14, 7, 4] and conv_sizes(32) == [32, 16, 8, 4] and conv_sizes(12) == [12, 6, 3]
    m = build_bigan(_cfg("conv"), (1, 32, 32))
    kernels = [c.kernel_size for c in m.modules() if isinstance(c, (nn.Conv2d, nn.ConvTranspose2d))]
    assert set(kernels) == {(4, 4)}  # the DCGAN layers, so earlier 32-px checkpoints still load
    m28 = build_bigan(_cfg("conv"), (1, 28, 28))
    assert [c.kernel_size[0] for c in m28.encoder.modules() if isinstance(c, nn.Conv2d)] == [4, 4, 3]
    with pytest.raises(ConfigError, match="at least 8 px"):
        build_bigan(_cfg("conv"), (1, 6, 6))


def test_the_projector_changes_nothing_else():
    """Adding the invariance head must not move the other networks' weights or statistics, so the
    random-init baseline is the same network with and without it."""
    torch.manual_seed(0)
    plain = build_bigan(_cfg("mlp").updated({"train": {"invariance": "none"}}), (1, 8, 8)).state_dict()
    torch.manual_seed(0)
    with_head = build_bigan(_cfg("mlp").updated({"train": {"invariance": "vicreg"}}), (1, 8, 8)).state_dict()
    assert set(with_head) - set(plain) and all(k.startswith("projector.") for k in set(with_head) - set(plain))
    for key, value in plain.items():
        assert torch.equal(value, with_head[key]), key
