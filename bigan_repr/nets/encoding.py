"""Running a network over uint8 images in batches: the one loop behind the validation probe,
``encode``, ``embed`` and every report, so memory stays bounded by the batch everywhere."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..data.image_set import to_model_range


@torch.inference_mode()
def encode_in_batches(features: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, device,
                      batch_size: int = 1024) -> np.ndarray:
    """float32 ``features(x)`` of uint8 images (N, C, H, W) already in the model's format."""
    out = []
    for start in range(0, len(images), batch_size):
        x = to_model_range(torch.from_numpy(images[start : start + batch_size]).to(device))
        out.append(features(x).float().cpu().numpy())
    return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
