"""The run directory's writer lock: one holder at a time, however many start together."""

import multiprocessing
import subprocess
from collections import Counter

import pytest

from bigan_repr.errors import UserError
from bigan_repr.runs.run_dir import LOCK_FILE, RunDir

WRITERS, ROUNDS = 8, 100


def _contend(folders, start, done, outcomes):
    for folder in folders:
        run_dir = RunDir(folder)
        start.wait()  # every writer asks at the same moment
        try:
            run_dir.acquire_lock()
            outcomes.put((str(folder), "locked"))
        except UserError:
            outcomes.put((str(folder), "refused"))
        done.wait()  # a winner holds the lock until every writer has asked
        run_dir.release_lock()


@pytest.mark.parametrize("left_by_a_dead_writer", [False, True])
def test_only_one_of_many_simultaneous_writers_gets_the_lock(tmp_path, left_by_a_dead_writer):
    dead = subprocess.Popen(["true"])
    dead.wait()
    folders = [tmp_path / str(i) for i in range(ROUNDS)]
    for folder in folders:
        folder.mkdir()
        if left_by_a_dead_writer:  # taking over a stale lock must be race-free too
            (folder / LOCK_FILE).write_text(str(dead.pid))
    ctx = multiprocessing.get_context("fork")
    start, done, outcomes = ctx.Barrier(WRITERS), ctx.Barrier(WRITERS), ctx.Queue()
    writers = [ctx.Process(target=_contend, args=(folders, start, done, outcomes)) for _ in range(WRITERS)]
    for w in writers:
        w.start()
    results = [outcomes.get(timeout=120) for _ in range(WRITERS * ROUNDS)]
    for w in writers:
        w.join(timeout=60)
    winners = Counter(folder for folder, outcome in results if outcome == "locked")
    assert all(winners[str(f)] == 1 for f in folders), winners
    assert not any((f / LOCK_FILE).exists() for f in folders)  # every winner let go


def test_the_lock_names_its_holder_and_is_free_again_after_release(tmp_path):
    first, second = RunDir(tmp_path), RunDir(tmp_path)
    first.acquire_lock()
    with pytest.raises(UserError, match=r"in use by process \d+"):
        second.acquire_lock()
    first.release_lock()
    second.acquire_lock()
    second.release_lock()
