"""Where encode puts a shard folder: only its own feature folders are replaced, never a user's files;
--out that is or holds the current folder is refused; a kill at any step of the move into place
loses nothing, and with the atomic exchange --out is never missing at all; temporaries of killed
encodes are removed by the next one, a live one's never."""

import ctypes
import errno
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.features import publish
from bigan_repr.features.files import MANIFEST, read_features
from bigan_repr.features.manifest import FeatureFileError
from bigan_repr.runs.leftovers import HOST

HOOK = "BIGAN_REPR_TEST_SIGNAL"  # bigan_repr/runs/fault_injection.py
NO_EXCHANGE = {"BIGAN_REPR_TEST_UNSUPPORTED": "renameat2"}  # publish as where renameat2 is missing


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _encode_killed(run, out, point, *args, env=None):
    cmd = [sys.executable, "-m", "bigan_repr.cli", "encode", str(run), "--out", str(out), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", HOOK: f"KILL@{point}", **(env or {})}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _refused(result, *phrases):
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and all(p in result.output for p in phrases), result.output


def test_a_folder_with_its_own_manifest_json_is_not_a_feature_folder(tiny_run, tmp_path):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / MANIFEST).write_text('{"name": "my project", "files": ["src/main.py"]}')
    (project / "src" / "main.py").write_text("print('mine')\n")
    (project / "part-00000.npy").write_bytes(b"my own array")
    before = _snapshot(tmp_path)
    _refused(_invoke("encode", tiny_run, "--split", "test", "--out", f"{project}/"),
             f"{project} is a folder that holds other files and is not a feature folder",
             "manifest.json: not a bigan-repr feature manifest")
    assert _snapshot(tmp_path) == before  # no file changed, no staging folder left


def test_files_added_to_a_feature_folder_make_reencoding_refuse(tiny_run, tmp_path):
    out = tmp_path / "feats"
    assert _invoke("encode", tiny_run, "--split", "test", "--out", f"{out}/").exit_code == 0
    (out / "notes.txt").write_text("which checkpoint this was")
    (out / "plots").mkdir()
    before = _snapshot(tmp_path)
    _refused(_invoke("encode", tiny_run, "--split", "test", "--out", out),
             f"{out} holds 'notes.txt' (and 1 more), which its manifest does not name")
    assert _snapshot(tmp_path) == before
    (out / "notes.txt").unlink()
    _refused(_invoke("encode", tiny_run, "--split", "test", "--out", out), "holds 'plots'")
    (out / "plots").rmdir()  # only what the manifest names: replaced
    assert _invoke("encode", tiny_run, "--split", "test", "--out", out).exit_code == 0
    assert read_features(out).count == 360 and sorted(p.name for p in tmp_path.iterdir()) == ["feats"]


@pytest.mark.parametrize("inside, out, phrase", [
    ("", "./", "is the current folder"), ("", ".", "is the current folder"),
    ("sub", "..", "is a folder holding the current folder")])
def test_out_that_is_or_holds_the_current_folder_is_refused(tiny_run, tmp_path, monkeypatch, inside, out, phrase):
    feats = tmp_path / "feats"
    assert _invoke("encode", tiny_run, "--split", "test", "--out", f"{feats}/").exit_code == 0
    (feats / inside).mkdir(exist_ok=True)  # "..": run in a folder the user made inside the feature folder
    before = _snapshot(tmp_path)
    monkeypatch.chdir(feats / inside)
    _refused(_invoke("encode", tiny_run, "--split", "test", "--out", out), f"--out {out} {phrase}")
    assert _snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def two_encodings(tiny_run, tmp_path_factory):
    """The test split's features (an earlier output) and the train split's (its replacement)."""
    root = tmp_path_factory.mktemp("publish")
    for split in ("test", "train"):
        assert _invoke("encode", tiny_run, "--split", split, "--out", f"{root / split}/").exit_code == 0
    return {split: read_features(root / split).features().copy() for split in ("test", "train")}


def _exchange_works(folder) -> bool:
    a, b = folder / "a", folder / "b"
    a.mkdir(), b.mkdir()
    try:
        return publish.exchange(a, b)
    finally:
        a.rmdir(), b.rmdir()


# every point of the move into place: (point, what the kill leaves beside feats/, which output feats/ holds)
WITH_EXCHANGE = [
    ("publish:staged", ["tmp"], "test"),  # the new shards complete in their staging folder
    ("publish:exchanged", ["tmp"], "train"),  # swapped: the old output under the staging folder's name
]
WITHOUT_EXCHANGE = [
    ("publish:staged", ["tmp"], "test"),
    ("publish:old-aside", ["old", "tmp"], "test"),  # between the renames: no feats/ at all
    ("publish:new-in-place", ["old"], "train"),  # the old copy not yet removed
]


@pytest.mark.parametrize("exchange, point, left, finds", [(True, *case) for case in WITH_EXCHANGE]
                         + [(False, *case) for case in WITHOUT_EXCHANGE])
def test_a_kill_at_each_step_of_the_publish_loses_nothing(tiny_run, tmp_path, two_encodings, exchange, point, left,
                                                          finds):
    if exchange and not _exchange_works(tmp_path):
        pytest.skip("this file system cannot exchange two folders (renameat2 RENAME_EXCHANGE)")
    out = tmp_path / "feats"
    assert _invoke("encode", tiny_run, "--split", "test", "--out", f"{out}/").exit_code == 0
    _encode_killed(tiny_run, f"{out}/", point, "--split", "train", env=None if exchange else NO_EXCHANGE)
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name != "feats")
    assert all(name.startswith(".feats.") for name in hidden) and sorted(n.rsplit(".")[-1] for n in hidden) == left
    # with the exchange, feats/ is never missing: a complete output is there before anything repairs it
    assert (out / MANIFEST).is_file() == (exchange or point != "publish:old-aside")
    # where the user looks: the old output, or the new one, complete (reading puts a moved-aside copy back)
    np.testing.assert_array_equal(read_features(out).features(), two_encodings[finds])
    assert _invoke("encode", tiny_run, "--split", "test", "--out", out).exit_code == 0  # removes what is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feats"]
    np.testing.assert_array_equal(read_features(out).features(), two_encodings["test"])


@pytest.mark.parametrize("exchange, cases", [(True, WITH_EXCHANGE), (False, WITHOUT_EXCHANGE)])
def test_the_kill_tests_cover_every_point_the_publish_passes(tmp_path, monkeypatch, exchange, cases):
    if exchange and not _exchange_works(tmp_path):
        pytest.skip("this file system cannot exchange two folders (renameat2 RENAME_EXCHANGE)")
    passed = []
    monkeypatch.setattr(publish.fault_injection, "reached", passed.append)
    monkeypatch.setattr(publish.fault_injection, "unsupported", lambda call: not exchange)
    out, staging = tmp_path / "feats", tmp_path / ".feats.staging"
    out.mkdir(), staging.mkdir()
    (out / "part-00000.npy").write_text("old"), (staging / "part-00000.npy").write_text("new")
    publish.move_into_place(staging, out)
    assert passed == [point for point, _, _ in cases]
    assert (out / "part-00000.npy").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["feats"]


class _FakeLibc:
    """A libc whose renameat2 fails with ``code`` (or that has none: ``code`` None)."""

    def __init__(self, code):
        self.code = code

    def __getattr__(self, name):
        if self.code is None:
            raise AttributeError(name)
        return self

    def __call__(self, *args):
        ctypes.set_errno(self.code)
        return -1


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS, None])
def test_without_the_exchange_the_publish_falls_back_to_two_renames(tmp_path, monkeypatch, code):
    monkeypatch.setattr(publish.ctypes, "CDLL", lambda *a, **k: _FakeLibc(code))
    out, staging = tmp_path / "feats", tmp_path / ".feats.staging"
    out.mkdir(), staging.mkdir()
    (out / "part-00000.npy").write_text("old"), (staging / "part-00000.npy").write_text("new")
    publish.move_into_place(staging, out)
    assert (out / "part-00000.npy").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["feats"]


def test_an_exchange_the_system_refuses_otherwise_leaves_the_output_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(publish.ctypes, "CDLL", lambda *a, **k: _FakeLibc(errno.EBUSY))
    out, staging = tmp_path / "feats", tmp_path / ".feats.staging"
    out.mkdir(), staging.mkdir()
    (out / "part-00000.npy").write_text("old")
    with pytest.raises(FeatureFileError, match=f"cannot move the shards into {out}: Device or resource busy"):
        publish.move_into_place(staging, out)
    assert (out / "part-00000.npy").read_text() == "old"


def test_the_next_encode_removes_what_killed_ones_left_and_nothing_else(tiny_run, tmp_path):
    out, npz = tmp_path / "feats", tmp_path / "f.npz"
    _encode_killed(tiny_run, f"{out}/", "write:part-00001.npy", "--shard-size", 500)  # mid-way through the shards
    _encode_killed(tiny_run, npz, "write:f.npz", "--split", "test")  # the complete temporary, not yet renamed
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(".f.npz.") and left[1].startswith(".feats."), left
    assert (tmp_path / left[1] / "part-00000.npy").is_file()
    live = tmp_path / f".feats.{os.getpid()}@{HOST}.abcd1234.tmp"  # a live process's staging folder: kept
    live.mkdir()
    (tmp_path / ".feats.mine.tmp").write_text("a user's file")  # not named by a process: kept
    assert _invoke("encode", tiny_run, "--split", "test", "--out", f"{out}/").exit_code == 0
    assert _invoke("encode", tiny_run, "--split", "test", "--out", npz).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".feats.mine.tmp", live.name, "f.npz", "feats"])
