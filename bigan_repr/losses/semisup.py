"""The semi-supervised classifier's losses (Salimans et al. 2016, "Improved Techniques for Training
GANs"): pure functions of K class logits l(x), the "generated" class holding the fixed logit 0.

With Z(x) = sum_k exp(l_k(x)), p(generated | x) = 1 / (Z + 1) and p(k | x, real) = softmax(l)_k:
- a labelled real image: cross-entropy over the K real classes;
- an unlabelled real image: -log p(real | x) = -log(Z / (Z + 1)) = softplus(-LSE(l));
- a generated image: -log p(generated | x) = log(Z + 1) = softplus(LSE(l)).
Each is written through logsumexp and softplus, so no exp overflows.
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
