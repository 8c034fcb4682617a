"""An exponential moving average of the encoder's weights, the encoder a run exports when on.

Averaging smooths the step-to-step churn of adversarial training; batch-norm statistics are
copied from the live encoder rather than averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EncoderEMA:
    def __init__(self, encoder: nn.Module, decay: float):
        self.decay = decay
        self.encoder = copy.deepcopy(encoder).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, encoder: nn.Module) -> None:
        ema_params = list(self.encoder.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in encoder.parameters()], 1.0 - self.decay)
        for ema_b, b in zip(self.encoder.buffers(), encoder.buffers(), strict=True):
            ema_b.copy_(b)

    def state_dict(self) -> dict:
        return self.encoder.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state)
