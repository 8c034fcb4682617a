"""Augmentations on the device: shapes, seeded determinism, what each transform does, gradients."""

import math

import pytest
import torch

from bigan_repr.losses.augment import POLICIES, AugmentPolicy, augment


def _images(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 12, 12, generator=g) * 2 - 1


def _rng(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", [n for n, p in POLICIES.items() if p is not None])
def test_policies_keep_shape_range_and_are_seeded(name, channels):
    x = torch.rand(16, channels, 12, 12, generator=_rng(5)) * 2 - 1
    a, b = augment(x, POLICIES[name], _rng(1)), augment(x, POLICIES[name], _rng(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)  # same generator state, same images
    assert not torch.equal(a, augment(x, POLICIES[name], _rng(2)))
    assert not torch.equal(a, x)
    assert a.min() >= -1 - 1e-6 and a.max() <= 1 + 1e-6


def test_no_policy_is_the_identity_and_draws_nothing():
    x, rng = _images(), _rng(0)
    state = rng.get_state()
    assert augment(x, None, rng) is x and torch.equal(rng.get_state(), state)


def test_flip_gives_each_image_or_its_mirror():
    x = _images(64)
    out = augment(x, AugmentPolicy(flip=True), _rng(0))
    same = (out - x).abs().flatten(1).amax(1) < 1e-5
    mirrored = (out - x.flip(-1)).abs().flatten(1).amax(1) < 1e-5
    assert torch.all(same | mirrored)
    assert 10 < mirrored.sum() < 54  # about half of 64


def test_translation_moves_a_dot_by_at_most_the_policy_and_fills_black():
    x = torch.full((200, 1, 16, 16), -1.0)
    x[:, :, 8, 8] = 1.0  # a white dot on black
    out = augment(x, AugmentPolicy(translate=0.125), _rng(0))  # at most 2 px
    weight = (out + 1).flatten(1)  # brightness above black
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    cy = (weight * ys.flatten()).sum(1) / weight.sum(1)
    cx = (weight * xs.flatten()).sum(1) / weight.sum(1)
    shift = torch.stack([cy - 8, cx - 8], 1).abs()
    assert shift.max() <= 2 + 1e-4 and shift.max() > 1  # moved, within bounds
    assert torch.allclose(out[:, :, 0, :], torch.tensor(-1.0))  # black border, not grey


def test_erasing_blanks_one_rectangle_of_the_requested_area():
    x = torch.ones(100, 1, 20, 20)
    out = augment(x, AugmentPolicy(erase=1.0, erase_area=(0.1, 0.2)), _rng(0))
    erased = (out == 0).flatten(1).float().mean(1)
    assert torch.all(erased > 0.04) and torch.all(erased < 0.3)  # pixel rounding of 0.1-0.2
    assert torch.all((out == 0) | (out == 1))


def test_photometric_changes_keep_the_ordering_of_pixels():
    x = torch.linspace(-0.5, 0.5, 64).view(1, 1, 8, 8).repeat(32, 1, 1, 1)
    out = augment(x, AugmentPolicy(brightness=0.2, contrast=0.3), _rng(0))
    flat = out.flatten(1)
    assert torch.all(flat[:, 1:] >= flat[:, :-1])  # a monotone map of each image
    spread = flat[:, -1] - flat[:, 0]
    assert spread.min() >= 0.7 - 1e-5 and spread.max() <= 1.3 + 1e-5  # contrast within +-30%


def test_gradients_flow_through_every_transform():
    """DiffAugment needs d(augmented)/d(image) for the generator's update."""
    x = _images().requires_grad_(True)
    augment(x, POLICIES["strong"], _rng(0)).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0 and math.isfinite(x.grad.sum().item())
