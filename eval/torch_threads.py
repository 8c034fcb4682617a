"""How many torch threads a linear-algebra call can use: fewer than set when the work is small."""

from __future__ import annotations

import contextlib

import torch

# Multiply-adds per thread below which another torch thread costs more in synchronization than
# it saves (measured on 2 shared cores: a 1k x 64 probe ran 25x slower on 2 threads than on 1).
_WORK_PER_THREAD = 1 << 24


@contextlib.contextmanager
def threads_for(work: int):
    """Run torch with at most the caller's thread count, fewer if `work` multiply-adds per
    operation cannot keep them busy; the caller's setting is restored afterwards."""
    caller = torch.get_num_threads()
    wanted = max(1, min(caller, work // _WORK_PER_THREAD))
    if wanted != caller:
        torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        if wanted != caller:
            torch.set_num_threads(caller)
