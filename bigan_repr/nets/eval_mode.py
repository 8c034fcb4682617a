"""Networks switched to eval mode for a while, and back to the mode each had, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """``with eval_mode(encoder, discriminator): ...``: batch norm uses its running statistics inside,
    so looking at a training run never changes it."""
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)
