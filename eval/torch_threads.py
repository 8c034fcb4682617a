"""How many torch threads a linear-algebra call can use, and running blocks of work on them.

`threads_for` caps torch's threads when the work is too small to share. `Workers` spreads
independent pieces of work (row blocks of one pass over the data) over that many Python
threads, each running single-threaded torch: torch releases the GIL in its kernels, so the
pieces run in parallel with no synchronization inside them. On cores shared with other jobs
this was measured several times faster than torch's own threads on the same blocks, whose
every operation waits for its slowest thread.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

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


class Workers:
    """`n` threads of single-threaded torch; `map` runs a function over items, results in order.

    A context manager: the threads live while it is open, and the calling thread, which only
    coordinates them, runs torch on one thread too (its small operations would otherwise wait
    on each other's threads). With n = 1 the items run in the calling thread, one after
    another, on one torch thread.
    """

    def __init__(self, n: int):
        self.n = max(1, int(n))
        self._pool, self._caller = None, None

    def __enter__(self) -> Workers:
        self._caller = torch.get_num_threads()
        torch.set_num_threads(1)
        if self.n > 1:
            self._pool = ThreadPoolExecutor(self.n, initializer=torch.set_num_threads, initargs=(1,))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        # torch's setting is per thread, but torch also keeps the last one set as the default of
        # the threads it starts later: setting the caller's again restores both.
        torch.set_num_threads(self._caller)

    def map(self, fn, items) -> list:
        if self._pool is None:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))


def spans(n: int, parts: int) -> list[tuple[int, int]]:
    """range(n) cut into `parts` contiguous (start, stop) pieces of near-equal size."""
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))
