"""Fault injection for the test suite: signal this process at a named point of a run.

Interruption tests name the point instead of racing a clock. ``BIGAN_REPR_TEST_SIGNAL`` holds
``SIGNAL@POINT``: ``KILL@metrics:17`` sends SIGKILL once the metrics row of step 17 is written,
``INT@metrics:10`` a Ctrl-C there, ``STOP@write:step_00000010.pt`` freezes the process while that
file's complete temporary copy waits for its rename, ``KILL@publish:old-aside`` kills an encode
between the two renames that move a shard folder into place (``features/publish.py``). It fires
once. ``BIGAN_REPR_TEST_UNSUPPORTED`` names, comma-separated, system calls to take as missing
(``renameat2``), so that the fallback written for systems without them is tested too. Neither is
ever set in normal use.
"""

from __future__ import annotations

import os
import signal

_SPEC = os.environ.get("BIGAN_REPR_TEST_SIGNAL", "")
_UNSUPPORTED = set(filter(None, os.environ.get("BIGAN_REPR_TEST_UNSUPPORTED", "").split(",")))
_fired = False


def reached(point: str) -> None:
    """Mark that the run is at ``point`` (e.g. "metrics:17"); signal it if the test asked to."""
    global _fired
    name, _, wanted = _SPEC.partition("@")
    if _fired or point != wanted:
        return
    _fired = True
    os.kill(os.getpid(), signal.Signals[f"SIG{name}"])


def unsupported(call: str) -> bool:
    """Whether the test asked that the system call ``call`` be taken as missing on this system."""
    return call in _UNSUPPORTED
