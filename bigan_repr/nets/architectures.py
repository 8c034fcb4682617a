"""Network families, one builder per architecture in one registry that config, CLI and models read.

An architecture builds, for an image shape (C, H, W), the three parts that differ between
families; ``bigan.py`` puts the shared heads on top (E's map to z, D's joint with z):
- E's body: x -> the penultimate layer (B, F);
- G: z -> x in [-1, 1];
- D's image pathway: x -> (B, F') before the linear map where z joins.

"mlp" is the BiGAN paper's permutation-invariant MNIST setup (1024 units). "conv" is
DCGAN-style: stride-2 convolutions halve the size down to 4 px or less (4x4 kernels on even
sizes, 3x3 on odd ones, so 28 px runs natively as 28 -> 14 -> 7 -> 4, and powers of two keep
DCGAN's exact layers), G mirrors them with transposed convolutions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import ConfigError

Shape = tuple[int, int, int]
MIN_CONV_SIZE = 8


def norm_layer(kind: str, channels: int, conv: bool) -> nn.Module:
    """D's normalization: "batch", "layer", or nothing ("none", and "spectral", which wraps weights)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    return nn.Identity()


# ---- mlp ------------------------------------------------------------------------------------


def _mlp_encoder(cfg, shape: Shape) -> tuple[nn.Module, int]:
    c, h, w = shape
    body = nn.Sequential(
        nn.Flatten(),  # (B, C*H*W)
        nn.Linear(c * h * w, cfg.hidden), nn.LeakyReLU(0.2),
        nn.Linear(cfg.hidden, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.LeakyReLU(0.2),
    )  # (B, hidden)
    return body, cfg.hidden


def _mlp_generator(cfg, shape: Shape) -> nn.Module:
    c, h, w = shape
    return nn.Sequential(
        nn.Linear(cfg.z_dim, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
        nn.Linear(cfg.hidden, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
        nn.Linear(cfg.hidden, c * h * w), nn.Tanh(),
        nn.Unflatten(1, shape),  # (B, C, H, W)
    )


def _mlp_d_path(cfg, shape: Shape, norm: str) -> tuple[nn.Module, int]:
    c, h, w = shape
    return nn.Flatten(), c * h * w  # (B, C*H*W): the paper's D maps pixels straight to its hidden layer


# ---- conv -----------------------------------------------------------------------------------


def conv_sizes(size: int) -> list[int]:
    """Spatial sizes from the input down, each stage halving (rounding up) until <= 4 px."""
    if size < MIN_CONV_SIZE:
        raise ConfigError(f"the conv architecture needs images of at least {MIN_CONV_SIZE} px, got {size}; "
                         "pass --image-size or use --arch mlp")
    sizes = [size]
    while sizes[-1] > 4:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _kernel(size: int) -> int:
    return 4 if size % 2 == 0 else 3  # both halve with stride 2 and padding 1 (odd sizes round up)


def _down_stack(cfg, shape: Shape, norm: Callable[[int], nn.Module], all_bias: bool) -> tuple[nn.Module, int]:
    """Stride-2 convolutions from the image to the smallest size, flattened: E's body and D's path.
    The first layer has no normalization; the others have no bias unless ``all_bias``."""
    c, size, _ = shape
    sizes = conv_sizes(size)
    layers, ch = [], c
    for i, s in enumerate(sizes[:-1]):
        out = cfg.width * 2**i
        layers += [nn.Conv2d(ch, out, _kernel(s), 2, 1, bias=all_bias or i == 0)]  # (B, out, ceil(s/2), ..)
        layers += [norm(out)] if i > 0 else []
        layers += [nn.LeakyReLU(0.2)]
        ch = out
    return nn.Sequential(*layers, nn.Flatten()), ch * sizes[-1] ** 2  # (B, ch * s_min^2)


def _conv_encoder(cfg, shape: Shape) -> tuple[nn.Module, int]:
    return _down_stack(cfg, shape, nn.BatchNorm2d, all_bias=False)


def _conv_d_path(cfg, shape: Shape, norm: str) -> tuple[nn.Module, int]:
    return _down_stack(cfg, shape, lambda ch: norm_layer(norm, ch, conv=True), all_bias=True)


def _conv_generator(cfg, shape: Shape) -> nn.Module:
    c, size, _ = shape
    sizes = conv_sizes(size)
    stages, s0 = len(sizes) - 1, sizes[-1]
    ch = cfg.width * 2 ** (stages - 1)
    layers: list[nn.Module] = [
        nn.Linear(cfg.z_dim, ch * s0 * s0, bias=False), nn.Unflatten(1, (ch, s0, s0)),
        nn.BatchNorm2d(ch), nn.ReLU(),
    ]  # (B, ch, s0, s0)
    for i in reversed(range(stages)):
        out = c if i == 0 else cfg.width * 2 ** (i - 1)
        layers += [nn.ConvTranspose2d(ch, out, _kernel(sizes[i]), 2, 1, bias=i == 0)]  # -> (B, out, sizes[i], ..)
        layers += [nn.Tanh()] if i == 0 else [nn.BatchNorm2d(out), nn.ReLU()]
        ch = out
    return nn.Sequential(*layers)


def _dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@dataclass(frozen=True)
class Architecture:
    encoder_body: Callable[..., tuple[nn.Module, int]]  # (cfg, shape) -> (x -> (B, F), F)
    generator: Callable[..., nn.Module]  # (cfg, shape) -> (z -> x)
    d_image_path: Callable[..., tuple[nn.Module, int]]  # (cfg, shape, norm) -> (x -> (B, F'), F')
    init: Callable[[nn.Module], None] | None = None  # applied to all three networks


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(_mlp_encoder, _mlp_generator, _mlp_d_path),
    "conv": Architecture(_conv_encoder, _conv_generator, _conv_d_path, init=_dcgan_init),
}
