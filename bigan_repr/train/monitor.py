"""Diagnostics that make BiGAN failure modes visible, and the PNG grids of a run.

Reconstruction error ||x - G(E(x))|| beside a shuffled-pair baseline ||x_i - G(E(x_j))||
shows whether G uses E's code at all; E(x)'s moments beside the prior's show whether E's
output covers the prior. All of it runs in eval mode and draws no random numbers, so
watching a run never changes it.
"""

from __future__ import annotations

import torch
from torchvision.utils import save_image

from ..nets.bigan import BiGAN
from ..nets.eval_mode import eval_mode
from ..nets.prior import parse_prior
from ..runs.atomic import atomic_path


@torch.no_grad()
def diagnostics(model: BiGAN, x: torch.Tensor) -> dict[str, float]:
    """Reconstruction and latent statistics on a fixed batch ``x`` (floats in [-1, 1])."""
    with eval_mode(model):
        z = model.encoder(x).float()
        x_rec = model.generator(z.to(x.dtype)).float()
        xf = x.float()
        recon = (xf - x_rec).flatten(1).norm(dim=1).mean()
        # pair each image with the reconstruction of its neighbour in the batch
        shuffled = (xf - x_rec.roll(1, dims=0)).flatten(1).norm(dim=1).mean()
        stats = torch.stack([recon, shuffled, z.mean(), z.std()]).tolist()
    return {
        "recon": stats[0],
        "recon_shuffled": stats[1],
        "z_mean": stats[2],
        "z_std": stats[3],
        "prior_std": parse_prior(model.cfg.prior).std(model.cfg.z_dim),
    }


@torch.no_grad()
def save_grids(model: BiGAN, x: torch.Tensor, z: torch.Tensor, folder) -> None:
    """Write ``samples.png`` (G(z)) and ``reconstructions.png`` (x above G(E(x)), per column)."""
    with eval_mode(model):
        samples = model.generator(z).float()
        x_rec = model.generator(model.encoder(x)).float()
    n = min(len(x), 16)
    pairs = torch.cat([x[:n].float(), x_rec[:n]])  # row 1: inputs, row 2: reconstructions
    for name, images, nrow in (("samples.png", samples, 8), ("reconstructions.png", pairs, n)):
        with atomic_path(folder / name, suffix=".png") as tmp:
            save_image(images.cpu() * 0.5 + 0.5, tmp, nrow=nrow, padding=1, format="png")
