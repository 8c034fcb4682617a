"""Where and how computation runs: device, precision and thread pools, decided once.

torch, faiss (OpenMP) and scikit-learn/numpy (BLAS) each start their own thread pool; on a
small machine oversubscribing them slows training by an order of magnitude, so every entry
point calls :func:`set_threads` with one number for all of them.
"""

from __future__ import annotations

import contextlib
import os

import torch

from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for, but no CUDA device is available")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS is not available")
    return torch.device(name)


def autocast_for(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA by default; fp32 elsewhere (CPUs without bf16 units run it ~100x
    slower: measured 0.8 vs 105 GFLOP/s on an AVX2 machine)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def set_threads(n: int | None) -> int:
    """Use ``n`` threads (default: all cores) in torch, faiss and the BLAS libraries."""
    n = n or os.cpu_count() or 1
    torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    return n

