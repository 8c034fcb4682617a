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


class StepProgress:
    """Training's progress on stderr: a bar on a terminal; elsewhere (a log file, a pipe, CI) one plain
    line at every tenth of the budget, so a log holds ten lines, not thousands of bar redraws."""

    def __init__(self, total: int, initial: int, desc: str, *, enabled: bool = True, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.step, self.desc, self.enabled = total, initial, desc, enabled
        self.terminal = enabled and self.stream.isatty()
        self.next_line = self._next_tenth(initial)
        self.shown: dict[str, float] = {}
        self.bar = None
        if self.terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, file=self.stream, dynamic_ncols=True)

    def _next_tenth(self, step: int) -> int:
        tenth = max(1, -(-self.total // 10))  # ceil: at most ten lines, the last at the budget
        return min(self.total, (step // tenth + 1) * tenth)

    def update(self, step: int, shown: dict[str, float] | None = None) -> None:
        """Step ``step`` is done; ``shown``: the latest logged values (losses, img/s), when new."""
        if shown:
            self.shown = shown
            if self.bar is not None:
                self.bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()})
        if self.bar is not None:
            self.bar.update(step - self.step)
        elif self.enabled and step >= self.next_line:
            values = "  ".join(f"{k} {v:.3g}" for k, v in self.shown.items())
            print(f"{self.desc}: step {step}/{self.total} ({100 * step // self.total}%)  {values}".rstrip(),
                  file=self.stream, flush=True)
            self.next_line = self._next_tenth(step)
        self.step = step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
