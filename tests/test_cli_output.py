"""Standard output that takes no more (closed, a broken pipe, a full disk) is one line on stderr and exit
status 2, whichever command was writing: never a silent exit 0, never a traceback. Run as the user runs
it, in a process of its own whose stdout is really closed, a pipe with no reader, or /dev/full."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REASONS = {"closed": "it is closed", "full": "No space left on device", "pipe": "Broken pipe"}


def _run(args, sink: str, cwd: Path) -> subprocess.CompletedProcess:
    """``bigan ARGS`` with its stdout ``sink``: closed, /dev/full (writes fail with ENOSPC), or a pipe whose
    reading end is closed before anything is written (EPIPE)."""
    cmd = [sys.executable, "-m", "bigan_repr.cli", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if sink == "closed":
        return subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *cmd], stderr=subprocess.PIPE, text=True, env=env,
                              cwd=cwd, timeout=300)
    if sink == "full":
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full on this system")
        with open("/dev/full", "w") as full:
            return subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, timeout=300)
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, timeout=300)
    finally:
        os.close(write)


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    path = tmp_path_factory.mktemp("output") / "f.npz"
    rng = np.random.default_rng(0)
    np.savez(path, features=rng.normal(size=(40, 4)), labels=np.arange(40) % 4)
    return path


@pytest.mark.parametrize("command, sink", [
    ("info", "closed"), ("info", "full"), ("info", "pipe"),  # the run's config, checkpoints and last metrics
    ("eval", "full"),  # the results as JSON
    ("version", "closed"), ("help", "pipe"),  # click's own printing goes through the same guard
])
def test_a_stdout_that_takes_no_more_is_one_line_and_exit_2(tiny_run, features, tmp_path, command, sink):
    args = {"info": ["info", tiny_run], "eval": ["eval", "--train", features, "--test", features, "--json"],
            "version": ["--version"], "help": ["--help"]}[command]
    result = _run(args, sink, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert errors == [f"error: cannot write to standard output: {REASONS[sink]}"], result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == errors[0] and "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr  # nothing left to fail again at exit


def test_a_command_that_prints_nothing_on_stdout_runs_with_it_closed(tiny_run, tmp_path):
    result = _run(["export", tiny_run, "--format", "safetensors", "--out", tmp_path / "e.safetensors"], "closed",
                  tmp_path)
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr[-2000:]
    assert (tmp_path / "e.safetensors").stat().st_size > 0
