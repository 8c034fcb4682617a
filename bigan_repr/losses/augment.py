"""Image augmentations on the training device: batched, differentiable, drawn from a seeded generator.

A policy is plain data; :func:`augment` applies it to a batch of images in [-1, 1] with one
``grid_sample`` for the geometry (zoom, rotation, horizontal flip, translation; the border
is filled with black) and elementwise ops for brightness, contrast and erasing. Every random
number comes from the generator passed in, a fixed number per image whatever the policy, so
a run that checkpoints the generator resumes bit for bit. Gradients flow through every op,
which is what augmenting generated images inside D's input (DiffAugment) needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

_DRAWS = 12  # uniform numbers drawn per image, whatever the policy


@dataclass(frozen=True)
class AugmentPolicy:
    translate: float = 0.0  # largest shift, as a fraction of the image side
    zoom: tuple[float, float] = (1.0, 1.0)  # magnification range (> 1 crops in, < 1 shrinks)
    rotate: float = 0.0  # largest rotation, degrees
    flip: bool = False  # horizontal flips with probability 1/2 (never vertical)
    brightness: float = 0.0  # largest additive shift, in the [-1, 1] range's units
    contrast: float = 0.0  # largest relative change of the contrast around each image's mean
    erase: float = 0.0  # probability of blanking one rectangle (random erasing / cutout)
    erase_area: tuple[float, float] = (0.02, 0.2)  # its area, as a fraction of the image

    @property
    def geometric(self) -> bool:
        return self.translate > 0 or self.zoom != (1.0, 1.0) or self.rotate > 0 or self.flip


# Each keeps a Fashion-MNIST class what it is: shifts of up to 3-4 px, zooms that keep most of
# the object, horizontal flips only, mild photometric changes (DESIGN notes, section 10).
POLICIES: dict[str, AugmentPolicy | None] = {
    "none": None,
    "shift": AugmentPolicy(translate=0.125),  # for data where a mirror image is another class (digits)
    "light": AugmentPolicy(translate=0.125, flip=True),
    "strong": AugmentPolicy(translate=0.125, zoom=(0.9, 1.3), rotate=10.0, flip=True,
                            brightness=0.2, contrast=0.3, erase=0.5),
}


def _lerp(u: Tensor, lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * u


def _geometry(x: Tensor, p: AugmentPolicy, u: Tensor) -> Tensor:
    zoom = torch.exp(_lerp(u[:, 0], math.log(p.zoom[0]), math.log(p.zoom[1])))
    angle = _lerp(u[:, 1], -p.rotate, p.rotate) * (math.pi / 180)
    flip = torch.where(u[:, 2] < 0.5, -1.0, 1.0) if p.flip else torch.ones_like(zoom)
    shift = _lerp(u[:, 3:5], -2 * p.translate, 2 * p.translate)  # normalized coords span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # output pixel -> input pixel: rotate and scale (flip on the x axis first), then shift
    theta = torch.stack([
        torch.stack([cos * flip, -sin, shift[:, 0]], 1),
        torch.stack([sin * flip, cos, shift[:, 1]], 1),
    ], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # sampled on x + 1 so that the zero padding outside the image is black (-1)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def _photometric(x: Tensor, p: AugmentPolicy, u: Tensor) -> Tensor:
    view = (-1,) + (1,) * (x.dim() - 1)
    mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    contrast = _lerp(u[:, 5], 1 - p.contrast, 1 + p.contrast).view(view)
    brightness = _lerp(u[:, 6], -p.brightness, p.brightness).view(view)
    return ((x - mean) * contrast + mean + brightness).clamp(-1, 1)


def _erase(x: Tensor, p: AugmentPolicy, u: Tensor) -> Tensor:
    _, _, h, w = x.shape
    area = _lerp(u[:, 7], *p.erase_area)
    aspect = torch.exp(_lerp(u[:, 8], math.log(0.3), math.log(3.3)))
    eh, ew = (area * aspect).sqrt().clamp(max=1), (area / aspect).sqrt().clamp(max=1)  # fractions of h, w
    top, left = u[:, 9] * (1 - eh), u[:, 10] * (1 - ew)
    rows = (torch.arange(h, device=x.device) + 0.5) / h  # pixel centres in (0, 1)
    cols = (torch.arange(w, device=x.device) + 0.5) / w
    inside_r = (rows[None] >= top[:, None]) & (rows[None] < (top + eh)[:, None])  # (B, H)
    inside_c = (cols[None] >= left[:, None]) & (cols[None] < (left + ew)[:, None])  # (B, W)
    mask = inside_r[:, :, None] & inside_c[:, None, :] & (u[:, 11] < p.erase)[:, None, None]  # (B, H, W)
    return x.masked_fill(mask[:, None], 0.0)  # 0 = mid-grey in [-1, 1]


def augment(x: Tensor, policy: AugmentPolicy | None, rng: torch.Generator) -> Tensor:
    """A randomly transformed copy of ``x`` (B, C, H, W) in [-1, 1]; ``x`` itself for no policy."""
    if policy is None:
        return x
    u = torch.rand(x.shape[0], _DRAWS, device=x.device, generator=rng)
    if policy.geometric:
        x = _geometry(x, policy, u)
    if policy.brightness or policy.contrast:
        x = _photometric(x, policy, u)
    if policy.erase:
        x = _erase(x, policy, u)
    return x
