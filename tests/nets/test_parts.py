"""The invariance head, eval_mode and batched encoding: small parts the step and the probes share."""

import numpy as np
import pytest
import torch
from torch import nn

from bigan_repr.losses.invariance import INVARIANCE, InvarianceSpec
from bigan_repr.nets.encoding import encode_in_batches
from bigan_repr.nets.eval_mode import eval_mode
from bigan_repr.nets.invariance_head import InvarianceHead


def test_head_makes_two_views_from_the_generator_and_its_loss_is_the_registered_one():
    head = InvarianceHead(12, InvarianceSpec("vicreg", "shift", 2.0, 16))
    assert [type(m) for m in head] == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 2 + [nn.Linear]
    assert head[0].in_features == 12 and head[-1].out_features == 16
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    views = head.views(x, torch.Generator().manual_seed(0))
    again = head.views(x, torch.Generator().manual_seed(0))
    assert views.shape == (10, 1, 8, 8) and torch.equal(views, again)  # drawn from the generator alone
    assert not torch.equal(views[:5], views[5:])  # two different views of each image
    h = torch.randn(10, 16)
    assert torch.equal(head.loss(h), INVARIANCE["vicreg"](h[:5], h[5:]))
    assert head.spec.weight == 2.0


def test_eval_mode_restores_each_modules_own_mode_even_on_error():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    b.eval()
    with pytest.raises(RuntimeError), eval_mode(a, b):
        assert not a.training and not b.training
        raise RuntimeError
    assert a.training and not b.training


def test_encode_in_batches_equals_one_pass_and_is_float32():
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    images = np.random.default_rng(0).integers(0, 256, (10, 1, 8, 8), dtype=np.uint8)
    whole = net(torch.from_numpy(images).float() / 127.5 - 1).detach().numpy()
    batched = encode_in_batches(net, images, "cpu", batch_size=3)
    assert batched.dtype == np.float32 and batched.flags.c_contiguous
    np.testing.assert_allclose(batched, whole, rtol=1e-6, atol=1e-6)


def test_head_with_the_hybrids_projects_the_generated_images_and_adds_their_terms():
    spec = InvarianceSpec("infonce", "shift", 1.0, 16, generative_sigma=0.5, fake_negatives=True)
    head = InvarianceHead(12, spec)
    assert spec.n_views == 4
    x, pos, neg = (torch.rand(5, 1, 8, 8) * 2 - 1 for _ in range(3))
    views = head.views(x, torch.Generator().manual_seed(0), pos, neg)
    assert views.shape == (20, 1, 8, 8)
    with pytest.raises(ValueError, match="4 views"):
        head.views(x, torch.Generator(), pos)  # the spec asks for a negative batch too
    h = torch.randn(20, 16)
    h1, h2, hp, hn = h.chunk(4)
    nce = INVARIANCE["infonce"]
    assert torch.allclose(head.loss(h), nce(h1, h2, negatives=hn) + nce(h1, hp, negatives=hn))
    only_positives = InvarianceHead(12, InvarianceSpec("vicreg", "shift", 1.0, 16, generative_sigma=0.5))
    h = torch.randn(15, 16)
    h1, h2, hp = h.chunk(3)
    assert torch.allclose(only_positives.loss(h), INVARIANCE["vicreg"](h1, h2) + INVARIANCE["vicreg"](h1, hp))
