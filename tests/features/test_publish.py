"""Where encode puts a shard folder: only its own feature folders are replaced, never a user's files;
--out that is or holds the current folder is refused; a kill at any step of the move into place
loses nothing; temporaries of killed encodes are removed by the next one, a live one's never."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.features.files import MANIFEST, read_features
from bigan_repr.runs.leftovers import HOST

HOOK = "BIGAN_REPR_TEST_SIGNAL"  # bigan_repr/runs/fault_injection.py


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _encode_killed(run, out, point, *args):
    cmd = [sys.executable, "-m", "bigan_repr.cli", "encode", str(run), "--out", str(out), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", HOOK: f"KILL@{point}"}
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


@pytest.mark.parametrize("point, left, finds", [
    ("publish:staged", ["tmp"], "test"),  # the new shards complete in their staging folder
    ("publish:old-aside", ["old", "tmp"], "test"),  # between the renames: no feats/ at all
    ("publish:new-in-place", ["old"], "train"),  # the old copy not yet removed
])
def test_a_kill_at_each_step_of_the_publish_loses_nothing(tiny_run, tmp_path, two_encodings, point, left, finds):
    out = tmp_path / "feats"
    assert _invoke("encode", tiny_run, "--split", "test", "--out", f"{out}/").exit_code == 0
    _encode_killed(tiny_run, f"{out}/", point, "--split", "train")
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name != "feats")
    assert all(name.startswith(".feats.") for name in hidden) and sorted(n.rsplit(".")[-1] for n in hidden) == left
    assert out.exists() == (point != "publish:old-aside")
    # where the user looks: the old output, or the new one, complete (reading puts a moved-aside copy back)
    np.testing.assert_array_equal(read_features(out).features(), two_encodings[finds])
    assert _invoke("encode", tiny_run, "--split", "test", "--out", out).exit_code == 0  # removes what is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feats"]
    np.testing.assert_array_equal(read_features(out).features(), two_encodings["test"])


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
