"""The three BiGAN networks, built from one :class:`ModelConfig`.

G: z -> x (tanh, images in [-1, 1]); E: x -> z (squashed into the prior's support);
D: (x, z) -> raw scores (B, S), S = 1 (the joint score) or 3 (plus BigBiGAN's unary s_x, s_z).

The families ("mlp", "conv") differ in E's body, G and D's image pathway, built by the
registry in ``architectures.py``; the heads on top are shared.

How D joins x and z: each path is mapped linearly to D's hidden width and the two are summed
before the first nonlinearity, i.e. a linear layer on the concatenation [phi(x); z]. Keeping the
pre-activations apart lets the unary heads read x alone and z alone at no extra cost.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..config import FEATURE_LAYERS, ModelConfig
from ..losses.invariance import InvarianceSpec
from .architectures import ARCHITECTURES, Architecture, norm_layer
from .invariance_head import InvarianceHead
from .prior import parse_prior


def sample_prior(n: int, z_dim: int, prior: str, device, generator: torch.Generator | None) -> Tensor:
    """(n, z_dim) draws of the prior a config names (``prior.py``)."""
    return parse_prior(prior).sample(n, z_dim, device, generator)


def _architecture(cfg: ModelConfig) -> Architecture:
    return ARCHITECTURES[cfg.arch]


ALI_DEPTH = 3  # ALI's SVHN features: the encoder's last three hidden layers, with its output


class Encoder(nn.Module):
    """E: x -> z, with ``features(x)`` returning the penultimate layer and ``concatenated(x)`` ALI's
    features."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.prior = parse_prior(cfg.prior)
        self.body, self.feature_dim = _architecture(cfg).encoder_body(cfg, image_shape)  # (B, F)
        self.head = nn.Linear(self.feature_dim, cfg.z_dim)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def hidden(self, x: Tensor) -> list[Tensor]:
        """E's hidden layers, input side first, each flattened (B, F_i): the output of every nonlinearity
        of the body. The last one is the penultimate layer."""
        layers = []
        for module in self.body:
            x = module(x)
            if isinstance(module, nn.LeakyReLU):
                layers.append(x.flatten(1))
        return layers

    def concatenated(self, x: Tensor) -> Tensor:
        """ALI's trick (Dumoulin et al. 2017, SVHN): E's last ``ALI_DEPTH`` hidden layers (all of them when
        it has fewer) and z, concatenated: (B, sum F_i + z_dim)."""
        hidden = self.hidden(x)
        return torch.cat([*hidden[-ALI_DEPTH:], self.code(hidden[-1])], dim=1)

    def code(self, features: Tensor) -> Tensor:
        """z from the penultimate layer, so a caller that needs both computes the body once."""
        return self.prior.into_support(self.head(features))

    def cluster_logits(self, features: Tensor) -> Tensor:
        """Under a ``mixed:K`` prior, the K cluster logits from the penultimate layer: (B, K)."""
        return self.head(features)[:, : self.prior.clusters]

    def raw(self, features: Tensor) -> Tensor:
        """E's output before it is put into the prior's support: (B, z_dim)."""
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.code(self.body(x))


class Generator(nn.Module):
    """G: z -> x in [-1, 1]."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.image_shape = image_shape
        self.net = _architecture(cfg).generator(cfg, image_shape)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class JointDiscriminator(nn.Module):
    """D(x, z) -> (B, S) raw scores: the joint s_xz, then s_x and s_z when ``unary``."""

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int], norm: str):
        super().__init__()
        hid = cfg.hidden
        self.x_path, x_dim = _architecture(cfg).d_image_path(cfg, image_shape, norm)  # (B, F')
        self.x_in = nn.Linear(x_dim, hid)
        self.z_in = nn.Linear(cfg.z_dim, hid, bias=False)
        self.joint = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Linear(hid, hid), norm_layer(norm, hid, conv=False), nn.LeakyReLU(0.2),
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


# model.classifier_on -> the layer (config.FEATURE_LAYERS) a semi-supervised run's class logits are read from
CLASSIFIER_LAYERS = {"e": "penultimate", "d": "d"}


class BiGAN(nn.Module):
    """The three networks together (plus E's invariance head when the run has the term), so one
    state dict and one ``.to()`` cover them. ``d_norm``, ``invariance`` and ``n_classes`` are decided
    from the training recipe by ``model.networks.networks_for``.

    A semi-supervised run adds ``classifier``: K class logits on E's penultimate layer (or with
    ``classifier_on`` "d", on D's image pathway), the "generated" class holding the fixed logit 0
    (``losses/semisup.py``), so labels and the adversarial part train the one network a user predicts with.
    """

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int], d_norm: str,
                 invariance: InvarianceSpec | None = None, n_classes: int | None = None):
        super().__init__()
        self.cfg, self.image_shape = cfg, tuple(image_shape)
        self.generator = Generator(cfg, self.image_shape)
        self.encoder = Encoder(cfg, self.image_shape)
        self.discriminator = JointDiscriminator(cfg, self.image_shape, d_norm)
        init = ARCHITECTURES[cfg.arch].init
        if init is not None:
            self.apply(init)
        self.projector = None  # E's invariance head (the name checkpoints store its weights under)
        if invariance is not None:  # built last, so the three networks start from the same weights either way
            self.projector = InvarianceHead(self.encoder.feature_dim, invariance)
        body = self.encoder.feature_dim if cfg.classifier_on == "e" else cfg.hidden
        self.classifier = None if n_classes is None else nn.Linear(body, n_classes)  # (B, K)


_LAYERS = {
    "z": lambda encoder, discriminator, x: encoder(x),
    "penultimate": lambda encoder, discriminator, x: encoder.features(x),
    "d": lambda encoder, discriminator, x: discriminator.x_features(x),
    "concat": lambda encoder, discriminator, x: encoder.concatenated(x),
}
assert tuple(_LAYERS) == FEATURE_LAYERS


def layer_features(encoder: Encoder, discriminator: JointDiscriminator, x: Tensor, layer: str) -> Tensor:
    """The representation of x exported at ``layer`` (one of config.FEATURE_LAYERS); the encoder
    is passed apart from D because a run with --ema exports an averaged copy of it."""
    return _LAYERS[layer](encoder, discriminator, x)


def class_logits(encoder: Encoder, discriminator: JointDiscriminator, classifier: nn.Module, x: Tensor,
                 classifier_on: str) -> Tensor:
    """(B, K) class logits of a semi-supervised run's classifier, on the body ``classifier_on`` names."""
    return classifier(layer_features(encoder, discriminator, x, CLASSIFIER_LAYERS[classifier_on]))
