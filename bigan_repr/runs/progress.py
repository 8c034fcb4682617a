"""Progress a person can read on long work: one line per phase with its elapsed time, on stderr.

A phase prints its name when it starts and the seconds it took when it ends, on the same line
("eval bigan (z) ... 4.2 s"), plus an optional short note (a headline number). stdout stays
free for results and --json.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Phase:
    note: str = ""  # shown after the elapsed time when the phase ends


def _say(text: str, end: str = "\n") -> None:
    print(text, end=end, file=sys.stderr, flush=True)


@contextmanager
def phase(name: str) -> Iterator[Phase]:
    """``with phase("encode train split") as p: ...; p.note = "1437 x 50"``."""
    current, start = Phase(), time.perf_counter()
    _say(f"{name} ...", end="")
    try:
        yield current
    except BaseException:
        _say(f" failed after {time.perf_counter() - start:.1f} s")
        raise
    _say(f" {time.perf_counter() - start:.1f} s" + (f"  {current.note}" if current.note else ""))
