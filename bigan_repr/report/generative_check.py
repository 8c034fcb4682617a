"""Is the BiGAN doing its job? The model side of report.json's "coupling" and "generation" objects.

G, E and D run in eval mode (no gradients, no training-mode batch statistics) over the run's test
images and over prior draws; ``eval/coupling.py`` and ``eval/generation.py`` turn the arrays into
numbers, measured against the dataset's fixed yardsticks (``eval/pixel_reference.py``: the training
pixels' PCA space and their raw-pixel k-NN classifier). E is the encoder the run exports (the weight
average with --ema). At most MAX_IMAGES test images (a seeded subsample beyond that) and as many
draws of z are used, so the cost stays bounded on large datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from bigan_repr.eval.coupling import (
    class_kept,
    code_scale,
    coupling_verdict,
    distance_ratio,
    ranking_accuracy,
    shuffled_partners,
)
from bigan_repr.eval.generation import classes_covered, precision_recall, realistic
from bigan_repr.eval.pixel_reference import PCA_DIMS, PixelReference

from ..data.image_set import ImageSet, to_model_range
from ..features.encoder import LoadedEncoder, raw_pixels
from ..nets.bigan import sample_prior
from ..nets.prior import parse_prior

MAX_IMAGES = 5000
_BATCH = 512


class Passes(NamedTuple):
    """Every network output the numbers need, as float arrays (images in [-1, 1])."""

    x: np.ndarray  # (n, C, H, W) the test images
    z_real: np.ndarray  # E(x)
    x_rec: np.ndarray  # G(E(x))
    z: np.ndarray  # prior draws
    x_fake: np.ndarray  # G(z)
    z_rec: np.ndarray  # E(G(z))
    d_real: np.ndarray  # D's joint score on (x, E(x))
    d_fake: np.ndarray  # D's joint score on (G(z), z)


def _batched(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> np.ndarray:
    out = [fn(*(t[i : i + _BATCH] for t in inputs)).float().cpu() for i in range(0, len(inputs[0]), _BATCH)]
    return torch.cat(out).numpy()


@torch.inference_mode()
def network_passes(loaded: LoadedEncoder, images: np.ndarray, seed: int) -> Passes:
    """E, G and D over uint8 test images and as many prior draws (seeded)."""
    E, G, D, dev = loaded.encoder, loaded.generator, loaded.discriminator, loaded.device
    cfg = loaded.config.model
    x = to_model_range(torch.from_numpy(images).to(dev))
    z = sample_prior(len(images), cfg.z_dim, cfg.prior, "cpu", torch.Generator().manual_seed(seed)).to(dev)
    z_real = torch.from_numpy(_batched(E, x)).to(dev)
    x_fake = torch.from_numpy(_batched(G, z)).to(dev)
    joint = lambda xb, zb: D(xb, zb)[:, 0]  # noqa: E731 - the joint score, without the unary ones
    return Passes(x.cpu().numpy(), z_real.cpu().numpy(), _batched(G, z_real), z.cpu().numpy(), x_fake.cpu().numpy(),
                  _batched(E, x_fake), _batched(joint, x, z_real), _batched(joint, x_fake, z))


def _pixels(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] as raw_pixels rows in [0, 1]."""
    return np.ascontiguousarray((images.reshape(len(images), -1) + 1) / 2, dtype=np.float32)


def _coupling(p: Passes, labels: np.ndarray, predicted: dict[str, np.ndarray], prior_std: float,
              partner: np.ndarray) -> dict:
    c = {
        "recon_ratio": distance_ratio(p.x, p.x_rec, partner),
        "latent_ratio": distance_ratio(p.z, p.z_rec, partner),
        "d_accuracy": ranking_accuracy(p.d_real, p.d_fake),
        "code_scale": code_scale(p.z_real, prior_std),
    }
    c = {k: round(v, 4) for k, v in c.items()}
    c |= class_kept(labels, predicted["x"], predicted["rec"], predicted["shuffled"])
    c["coupled"], c["verdict"] = coupling_verdict(c)
    return c | {"images": len(p.x), "d_accuracy_rule": "share of all (real, fake) pairs D scores real above fake",
                "class_kept_unit": "percent"}


def coupling_and_generation(loaded: LoadedEncoder, train_set: ImageSet, test_set: ImageSet,
                            seed: int = 0) -> dict[str, dict] | None:
    """{"coupling": ..., "generation": ...} of a run with G and D; None for a run without them."""
    if loaded.generator is None:
        return None
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(test_set), MAX_IMAGES, replace=False)) if len(test_set) > MAX_IMAGES \
        else np.arange(len(test_set))
    images, labels = test_set.images[keep], test_set.labels[keep]
    p = network_passes(loaded, images, seed)
    partner = shuffled_partners(len(images), seed)
    reference = PixelReference.fit(raw_pixels(train_set.images), train_set.labels)
    queries = {"x": raw_pixels(images), "rec": _pixels(p.x_rec), "shuffled": _pixels(p.x_rec[partner]),
               "fake": _pixels(p.x_fake)}
    flat = reference.classify(np.concatenate(list(queries.values())))  # one index for every query
    predicted = dict(zip(queries, np.split(flat, np.cumsum([len(q) for q in queries.values()])[:-1]), strict=True))
    model_cfg = loaded.config.model
    coupling = _coupling(p, labels, predicted, parse_prior(model_cfg.prior).std(model_cfg.z_dim), partner)
    real, fake = reference.project(queries["x"]), reference.project(queries["fake"])
    generation = precision_recall(real, fake)
    generation |= classes_covered(predicted["fake"], reference.classes, realistic_mask=realistic(real, fake))
    generation |= {"samples": len(images), "feature_space": f"PCA of the training pixels to "
                   f"{reference.basis.shape[1]} dims (at most {PCA_DIMS})",
                   "classifier": "weighted k-NN (k = 20, cosine) on the raw training pixels"}
    return {"coupling": coupling, "generation": generation}
