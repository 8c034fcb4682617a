"""The (K+1)-class losses of Salimans et al. on known logits, and their numerical range."""

import math

import pytest
import torch
import torch.nn.functional as F

from bigan_repr.losses.semisup import class_probabilities, generated_loss, labelled_loss, unlabelled_real_loss


def test_values_on_equal_logits():
    k = 10
    logits = torch.zeros(4, k)  # Z = K: p(generated) = 1 / (K + 1)
    assert labelled_loss(logits, torch.tensor([0, 3, 5, 9])).item() == pytest.approx(math.log(k))
    assert unlabelled_real_loss(logits).item() == pytest.approx(math.log(1 + 1 / k))  # -log(K / (K + 1))
    assert generated_loss(logits).item() == pytest.approx(math.log(1 + k))  # -log(1 / (K + 1))


def test_real_and_generated_probabilities_sum_to_one():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, -4.0, -2.5], [8.0, 1.0, 0.0]])
    for row in logits:
        p_real = math.exp(-unlabelled_real_loss(row[None]).item())
        p_generated = math.exp(-generated_loss(row[None]).item())
        assert p_real + p_generated == pytest.approx(1.0)
        # and p(real) is Z / (Z + 1), with the generated class's logit fixed at 0
        z = row.exp().sum().item()
        assert p_real == pytest.approx(z / (z + 1))


def test_labelled_loss_is_cross_entropy_over_the_real_classes():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.equal(labelled_loss(logits, y), F.cross_entropy(logits, y))
    assert torch.allclose(class_probabilities(logits).sum(1), torch.ones(6))


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits_stay_finite_with_finite_gradients(scale):
    logits = (scale * torch.tensor([[1.0, 0.5, 0.2]])).requires_grad_(True)
    for loss in (unlabelled_real_loss(logits), generated_loss(logits), labelled_loss(logits, torch.tensor([1]))):
        (grad,) = torch.autograd.grad(loss, logits)
        assert torch.isfinite(loss) and torch.isfinite(grad).all()
    # a confident real image costs nothing as real and everything as generated, and the reverse
    assert unlabelled_real_loss(logits).item() == pytest.approx(0.0 if scale > 0 else 2000.0, rel=1e-3, abs=1e-6)


def test_pseudo_labels_only_above_the_threshold_and_averaged_over_the_whole_batch():
    import math

    from bigan_repr.losses.semisup import pseudo_label_loss

    weak = torch.tensor([[8.0, 0.0, 0.0], [0.0, 0.0, 8.0], [1.0, 1.0, 0.0], [0.0, 0.5, 0.0]])  # 2 confident of 4
    strong = torch.zeros(4, 3)  # uniform: every target costs log 3
    loss, share = pseudo_label_loss(weak, strong, threshold=0.95)
    assert share.item() == 0.5
    assert math.isclose(loss.item(), 2 * math.log(3) / 4, rel_tol=1e-6)
    strong_right = torch.tensor([[9.0, 0, 0], [0, 0, 9.0], [0, 0, 0], [0, 0, 0]])
    assert pseudo_label_loss(weak, strong_right, 0.95)[0].item() < 1e-3  # agreeing where confident: ~free
    weak.requires_grad_(True)
    strong.requires_grad_(True)
    pseudo_label_loss(weak, strong, 0.95)[0].backward()
    assert weak.grad is None or not weak.grad.any()  # the weak view is only a target
    assert strong.grad[2:].abs().sum() == 0 and strong.grad[:2].abs().sum() > 0  # unconfident rows: no gradient
