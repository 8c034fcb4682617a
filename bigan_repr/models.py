"""The three BiGAN networks, built from one :class:`ModelConfig`.

G: z -> x (tanh, images in [-1, 1]); E: x -> z (squashed into the prior's support);
D: (x, z) -> raw scores (B, S), S = 1 (the joint score) or 3 (plus BigBiGAN's unary s_x, s_z).

Two families. "mlp" is the BiGAN paper's permutation-invariant MNIST setup (1024 units).
"conv" is DCGAN-style for square images of 8-64 px (a power of two), 1 or 3 channels.

How D joins x and z: each path is mapped linearly to D's hidden width and the two are summed
before the first nonlinearity, i.e. a linear layer on the concatenation [phi(x); z]. Keeping the
pre-activations apart lets the unary heads read x alone and z alone at no extra cost.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .config import FEATURE_LAYERS, Config, ConfigError, ModelConfig
from .objectives import get_objective


def sample_prior(n: int, z_dim: int, prior: str, device, generator: torch.Generator | None) -> Tensor:
    if prior == "uniform":
        return torch.rand(n, z_dim, device=device, generator=generator).mul_(2).sub_(1)
    return torch.randn(n, z_dim, device=device, generator=generator)


def _d_norm_layer(kind: str, channels: int, conv: bool) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    return nn.Identity()  # "none" and "spectral" (spectral norm wraps the weights instead)


def _conv_stages(image_size: int) -> int:
    stages = int(math.log2(image_size)) - 2  # down to 4x4
    if image_size < 8 or image_size > 64 or 2 ** (stages + 2) != image_size:
        raise ConfigError(
            f"the conv architecture needs a square image size of 8, 16, 32 or 64 px, got {image_size}; "
            "pass --image-size (e.g. 32 for 28-px MNIST) or use --arch mlp"
        )
    return stages


class Encoder(nn.Module):
    """E: x -> z, with ``features(x)`` returning the penultimate layer."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = image_shape
        self.squash = cfg.prior == "uniform"
        if cfg.arch == "mlp":
            self.body = nn.Sequential(
                nn.Flatten(),  # (B, C*H*W)
                nn.Linear(c * h * w, cfg.hidden), nn.LeakyReLU(0.2),
                nn.Linear(cfg.hidden, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.LeakyReLU(0.2),
            )  # (B, hidden)
            self.head = nn.Linear(cfg.hidden, cfg.z_dim)
        else:
            layers, ch = [], c
            for i in range(_conv_stages(h)):
                out = cfg.width * 2**i
                layers += [nn.Conv2d(ch, out, 4, 2, 1, bias=i == 0)]
                layers += [nn.BatchNorm2d(out)] if i > 0 else []
                layers += [nn.LeakyReLU(0.2)]
                ch = out
            self.body = nn.Sequential(*layers, nn.Flatten())  # (B, ch*4*4)
            self.head = nn.Linear(ch * 16, cfg.z_dim)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        z = self.head(self.body(x))
        # official BiGAN: 2*sigmoid-1 keeps E(x) inside U(-1,1)'s support, else D wins on range
        return 2 * torch.sigmoid(z) - 1 if self.squash else z


class Generator(nn.Module):
    """G: z -> x in [-1, 1]."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = image_shape
        if cfg.arch == "mlp":
            self.net = nn.Sequential(
                nn.Linear(cfg.z_dim, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
                nn.Linear(cfg.hidden, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(),
                nn.Linear(cfg.hidden, c * h * w), nn.Tanh(),
                nn.Unflatten(1, image_shape),  # (B, C, H, W)
            )
        else:
            stages = _conv_stages(h)
            ch = cfg.width * 2 ** (stages - 1)
            layers: list[nn.Module] = [
                nn.Linear(cfg.z_dim, ch * 16, bias=False), nn.Unflatten(1, (ch, 4, 4)),
                nn.BatchNorm2d(ch), nn.ReLU(),
            ]  # (B, ch, 4, 4)
            for i in reversed(range(stages)):
                out = c if i == 0 else cfg.width * 2 ** (i - 1)
                layers += [nn.ConvTranspose2d(ch, out, 4, 2, 1, bias=i == 0)]  # doubles H, W
                layers += [nn.Tanh()] if i == 0 else [nn.BatchNorm2d(out), nn.ReLU()]
                ch = out
            self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class JointDiscriminator(nn.Module):
    """D(x, z) -> (B, S) raw scores: the joint s_xz, then s_x and s_z when ``unary``."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int], norm: str):
        super().__init__()
        c, h, w = image_shape
        hid = cfg.hidden
        if cfg.arch == "mlp":
            self.x_path = nn.Flatten()  # (B, C*H*W)
            x_dim = c * h * w
        else:
            layers, ch = [], c
            for i in range(_conv_stages(h)):
                out = cfg.width * 2**i
                layers += [nn.Conv2d(ch, out, 4, 2, 1)]
                layers += [_d_norm_layer(norm, out, conv=True)] if i > 0 else []
                layers += [nn.LeakyReLU(0.2)]
                ch = out
            self.x_path = nn.Sequential(*layers, nn.Flatten())  # (B, ch*4*4)
            x_dim = ch * 16
        self.x_in = nn.Linear(x_dim, hid)
        self.z_in = nn.Linear(cfg.z_dim, hid, bias=False)
        self.joint = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Linear(hid, hid), _d_norm_layer(norm, hid, conv=False), nn.LeakyReLU(0.2),
            nn.Linear(hid, 1),
        )
        self.unary = nn.ModuleList([nn.Linear(hid, 1), nn.Linear(hid, 1)]) if cfg.unary else None
        if norm == "spectral":
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    nn.utils.parametrizations.spectral_norm(m)

    def x_features(self, x: Tensor) -> Tensor:
        """D's image pathway up to where z joins, after its nonlinearity: (B, hidden)."""
        return nn.functional.leaky_relu(self.x_in(self.x_path(x)), 0.2)

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        hx, hz = self.x_in(self.x_path(x)), self.z_in(z)  # (B, hidden) each
        s_xz = self.joint(hx + hz)  # (B, 1)
        if self.unary is None:
            return s_xz
        act = nn.functional.leaky_relu
        s_x, s_z = self.unary[0](act(hx, 0.2)), self.unary[1](act(hz, 0.2))
        return torch.cat([s_xz, s_x, s_z], dim=1)  # (B, 3)


def _dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def projector(in_dim: int, width: int) -> nn.Sequential:
    """The invariance term's head on E's penultimate layer (VICReg's expander, narrower)."""
    return nn.Sequential(
        nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, width),
    )  # (B, width)


class BiGAN(nn.Module):
    """The three networks together (plus the invariance projector when one is trained), so one
    state dict and one ``.to()`` cover them."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int], d_norm: str,
                 with_projector: bool = False):
        super().__init__()
        self.cfg, self.image_shape = cfg, tuple(image_shape)
        self.generator = Generator(cfg, self.image_shape)
        self.encoder = Encoder(cfg, self.image_shape)
        self.discriminator = JointDiscriminator(cfg, self.image_shape, d_norm)
        if cfg.arch == "conv":
            self.apply(_dcgan_init)
        self.projector = None
        if with_projector:  # built last, so the three networks start from the same weights either way
            feature_dim = self.encoder.features(torch.zeros(2, *self.image_shape)).shape[1]
            self.projector = projector(feature_dim, cfg.projector)


_LAYERS = {
    "z": lambda encoder, discriminator, x: encoder(x),
    "penultimate": lambda encoder, discriminator, x: encoder.features(x),
    "d": lambda encoder, discriminator, x: discriminator.x_features(x),
}
assert tuple(_LAYERS) == FEATURE_LAYERS


def layer_features(encoder: Encoder, discriminator: JointDiscriminator, x: Tensor, layer: str) -> Tensor:
    """The representation of x exported at ``layer`` (one of config.FEATURE_LAYERS); the encoder
    is passed apart from D because a run with --ema exports an averaged copy of it."""
    return _LAYERS[layer](encoder, discriminator, x)


def build_bigan(cfg: Config, image_shape: tuple[int, int, int]) -> BiGAN:
    """The networks a config trains: D's normalization resolved, the projector when E has an
    invariance term. Training, checkpoint loading and the random baseline all build through here."""
    d_norm = resolve_d_norm(cfg.model, bool(get_objective(cfg.train.objective).gradient_penalty))
    return BiGAN(cfg.model, image_shape, d_norm, with_projector=cfg.train.invariance is not None)


def resolve_d_norm(cfg: ModelConfig, gradient_penalty: bool) -> str:
    """D's normalization: batch norm by default, layer norm under a gradient penalty.

    Batch norm makes each sample's score depend on the batch, which breaks the per-sample
    gradient that a gradient penalty constrains.
    """
    if cfg.d_norm == "auto":
        return "layer" if gradient_penalty else "batch"
    if cfg.d_norm == "batch" and gradient_penalty:
        raise ConfigError("model.d_norm='batch' cannot be used with a gradient penalty; use layer, spectral or none")
    return cfg.d_norm
