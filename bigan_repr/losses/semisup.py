"""The semi-supervised classifier's losses (Salimans et al. 2016, "Improved Techniques for Training
GANs"): pure functions of K class logits l(x), the "generated" class holding the fixed logit 0.

With Z(x) = sum_k exp(l_k(x)), p(generated | x) = 1 / (Z + 1) and p(k | x, real) = softmax(l)_k:
- a labelled real image: cross-entropy over the K real classes;
- an unlabelled real image: -log p(real | x) = -log(Z / (Z + 1)) = softplus(-LSE(l));
- a generated image: -log p(generated | x) = log(Z + 1) = softplus(LSE(l)).
Each is written through logsumexp and softplus, so no exp overflows.

FixMatch's consistency between a weak and a strong view of an unlabelled image (``pseudo_label_loss``)
lives here too: it is the classifier's other unlabelled loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def labelled_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of labelled real images over the K real classes; logits (B, K)."""
    return F.cross_entropy(logits.float(), labels)


def unlabelled_real_loss(logits: Tensor) -> Tensor:
    """Mean -log p(real | x) of real images whose labels are not used: softplus(-LSE(l))."""
    return F.softplus(-torch.logsumexp(logits.float(), dim=1)).mean()


def generated_loss(logits: Tensor) -> Tensor:
    """Mean -log p(generated | x) of generated images: softplus(LSE(l))."""
    return F.softplus(torch.logsumexp(logits.float(), dim=1)).mean()


def class_probabilities(logits: Tensor) -> Tensor:
    """p(k | x, real) = softmax(l): what ``predict`` reports, summing to 1 over the K real classes."""
    return torch.softmax(logits.float(), dim=1)


def pseudo_label_loss(logits_weak: Tensor, logits_strong: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """FixMatch's unlabelled loss (Sohn et al. 2020): the weak view's argmax as the strong view's target where
    the weak view's probability reaches ``threshold``, cross-entropy averaged over the whole batch (images
    below the threshold count as zero, as in the paper). Returns (loss, share of images above the threshold);
    no gradient flows through the weak view."""
    confidence, pseudo = torch.softmax(logits_weak.detach().float(), dim=1).max(dim=1)
    mask = (confidence >= threshold).float()
    loss = (F.cross_entropy(logits_strong.float(), pseudo, reduction="none") * mask).mean()
    return loss, mask.mean()
