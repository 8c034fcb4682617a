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

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str) -> torch.device:
    """``--device`` as a device of this machine: auto (CUDA, else MPS, else the CPU), cpu, cuda (this
    process's LOCAL_RANK), cuda:N or mps. Anything else, or a device this machine lacks, is one
    :class:`UserError` line, for every command that takes --device, before any work."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"--device {name!r} is not a device: choose {DEVICE_CHOICES}") from None
    if device.type not in ("cpu", "cuda", "mps") or (device.type != "cuda" and device.index not in (None, 0)):
        raise UserError(f"--device {name} is not a device this package computes on: choose {DEVICE_CHOICES}")
    if device.type == "mps" and not _mps_available():
        raise UserError(f"--device {name} was asked for, but MPS is not available")
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise UserError(f"--device {name} was asked for, but no CUDA device is available")
    index = int(os.environ.get("LOCAL_RANK", 0)) if device.index is None else device.index
    if index >= count:
        raise UserError(f"--device {name}: this machine has {count} CUDA device{'s' * (count > 1)} "
                        f"(cuda:0 to cuda:{count - 1})")
    return torch.device("cuda", index)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: a CUDA GPU, or a CPU with AVX512-BF16 or AMX units (as
    torch detects them; never guessed from the processor's name)."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    cpu = torch.cpu
    return any(bool(getattr(cpu, probe, lambda: False)()) for probe in ("_is_avx512_bf16_supported",
                                                                         "_is_amx_tile_supported"))


def resolve_precision(device: torch.device, precision: str) -> str:
    """"auto" made concrete: bf16 where the device has bf16 units, fp32 elsewhere (a CPU without them runs
    bf16 ~100x slower: measured 0.8 vs 105 GFLOP/s on an AVX2 machine)."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def autocast_for(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast where ``precision`` (resolved for ``device``) is bf16; fp32 (no autocast) otherwise."""
    if resolve_precision(device, precision) == "bf16":
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

