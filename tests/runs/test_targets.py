"""The one rule of what a command may write (runs/targets.py), walked through every command that names an
output: a path that exists and is no regular file, one inside a run directory the command does not own,
a file the command reads, a trailing slash where a file goes, and an empty path are each refused in one
line naming the path, exit 2, before anything is written; the writer itself refuses the same."""

import os
import shutil
import socket
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.errors import UserError
from bigan_repr.runs.atomic import atomic_write_text
from bigan_repr.runs.run_dir import RunDir
from bigan_repr.runs.targets import check_target, command_scope
from tests.conftest import one_error_line


@pytest.fixture(scope="module")
def paths(tiny_run, tmp_path_factory):
    """A run (a copy), special files, a folder, query images, an npz source and a feature file beside it."""
    root = tmp_path_factory.mktemp("targets")
    run = root / "run"
    shutil.copytree(tiny_run, run)
    (run / "report.json").write_text('{"a report": "read by compare"}')
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    (root / "models").mkdir()
    (root / "link").symlink_to(root / "f.npz")  # replaced, the link would go and f.npz stay: refused
    (root / "q").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "q" / "a.png")
    rng = np.random.default_rng(0)
    np.savez(root / "x.npz", x=rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), y=np.arange(20) % 4)
    np.savez(root / "f.npz", features=rng.normal(size=(40, 4)), labels=np.arange(40) % 4)
    assert CliRunner().invoke(main, ["embed", str(run), str(root / "q"), "--out", str(root / "db.npz")]).exit_code == 0
    (root / "ev").mkdir()
    os.mkfifo(root / "ev" / "report.md")
    if os.geteuid() == 0:  # a device node of our own (the null device's numbers), never the system's
        os.mknod(root / "dev", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    yield {k: str(v) for k, v in {"ROOT": root, "RUN": run, "CKPT": next((run / "checkpoints").glob("step_*.pt")),
                                  "Q": root / "q", "X": root / "x.npz", "F": root / "f.npz", "DB": root / "db.npz",
                                  "FIFO": root / "fifo", "SOCK": root / "sock", "DEV": root / "dev",
                                  "MODELS": root / "models", "EV": root / "ev",
                                  "LINK": root / "link"}.items()}
    sock.close()


def _snapshot(root):
    """Every entry below ``root``: its kind, and a regular file's bytes."""
    kinds = {p: p.lstat().st_mode for p in root.rglob("*")}
    return {str(p.relative_to(root)): p.read_bytes() if stat.S_ISREG(mode) else stat.S_IFMT(mode)
            for p, mode in sorted(kinds.items())}


EXPORT = ["export", "{RUN}", "--format", "safetensors", "--out"]
EMBED = ["embed", "{RUN}", "{Q}", "--out"]
NEIGHBORS = ["neighbors", "{DB}", "{Q}/a.png", "--k", "1", "--grid"]
EVAL = ["eval", "--train", "{F}", "--test", "{F}", "--out"]


@pytest.mark.parametrize("args, shown, problem", [
    # exists and is not a regular file: never replaced
    ([*EXPORT, "{FIFO}"], "--out {FIFO}", "is a FIFO, not a regular file"),
    ([*EXPORT, "{SOCK}"], "--out {SOCK}", "is a socket, not a regular file"),
    ([*EXPORT, "{DEV}"], "--out {DEV}", "is a character device, not a regular file"),
    ([*EXPORT, "{MODELS}"], "--out {MODELS}", "is a directory, not a regular file"),
    ([*EXPORT, "{LINK}"], "--out {LINK}", "is a symbolic link, not a regular file"),
    (["compare", "{RUN}", "--html", "{FIFO}"], "--html {FIFO}", "is a FIFO"),
    ([*NEIGHBORS, "{DEV}"], "--grid {DEV}", "is a character device"),
    ([*EMBED, "{FIFO}"], "--out {FIFO}", "is a FIFO"),
    ([*EVAL, "{EV}"], "--out {EV}/report.md", "is a FIFO"),  # checked before report.json is written
    # inside a run directory the command does not own
    ([*EXPORT, "{CKPT}"], "--out {CKPT}", "is inside run directory {RUN}"),
    ([*EXPORT, "{RUN}/encoder.pt"], "--out {RUN}/encoder.pt", "is inside run directory {RUN}"),
    (["compare", "{RUN}", "--html", "{RUN}/report.json"], "--html {RUN}/report.json", "is inside run directory"),
    ([*NEIGHBORS, "{RUN}/samples.png"], "--grid {RUN}/samples.png", "is inside run directory"),
    ([*EMBED, "{RUN}/feats/"], "--out {RUN}/feats/", "is inside run directory {RUN}"),
    ([*EVAL, "{RUN}"], "--out {RUN}/report.json", "is inside run directory {RUN}"),
    # a file the command reads: named as an input, inside an input folder, or a data source
    ([*NEIGHBORS, "{Q}/a.png"], "--grid {Q}/a.png", "is a file this command reads"),
    ([*NEIGHBORS, "{DB}"], "--grid {DB}", "is a file this command reads"),
    (["neighbors", "{DB}", "{Q}", "--k", "1", "--grid", "{Q}/a.png"], "{Q}/a.png", "is a file this command reads"),
    (["embed", "{RUN}", "{Q}/a.png", "--out", "{Q}/a.png"], "--out {Q}/a.png", "is a file this command reads"),
    (["encode", "{RUN}", "--data", "npz:{X}", "--out", "{X}"], "{X}", "is a file this command reads"),
    # a trailing slash names a folder, everywhere
    ([*EXPORT, "{MODELS}/"], "--out {MODELS}/", "names a folder; give a file name"),
    ([*EXPORT, "{ROOT}/new/"], "--out {ROOT}/new/", "names a folder; give a file name"),
    (["compare", "{RUN}", "--html", "{ROOT}/pages/"], "--html {ROOT}/pages/", "names a folder"),
    ([*NEIGHBORS, "{ROOT}/grids/"], "--grid {ROOT}/grids/", "names a folder"),
    # an empty path
    ([*EXPORT, ""], "--out ''", "is empty"),
    (["compare", "{RUN}", "--html", ""], "--html ''", "is empty"),
    ([*NEIGHBORS, ""], "--grid ''", "is empty"),
    ([*EMBED, ""], "--out ''", "is empty"),
    (["encode", "{RUN}", "--out", ""], "--out ''", "is empty"),
    (["train", "--steps", "1", "--out", ""], "--out ''", "is empty"),
])
def test_every_command_refuses_what_it_may_not_write_before_writing_anything(paths, args, shown, problem):
    if "{DEV}" in args and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    root = Path(paths["ROOT"])
    before = _snapshot(root)
    line = one_error_line([a.format(**paths) for a in args])
    assert line.startswith(f"error: {shown.format(**paths)} {problem.format(**paths)}"), line
    assert _snapshot(root) == before  # nothing written, replaced or created


def test_the_writer_refuses_the_same_for_every_caller(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for target, problem in ((tmp_path / "fifo", "is a FIFO"), (tmp_path, "is a directory"), ("", "is empty"),
                            (f"{tmp_path}/new/", "names a folder")):
        with pytest.raises(UserError, match=problem):
            atomic_write_text(target, "text")
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode) and sorted(os.listdir(tmp_path)) == ["fifo"]


def test_a_run_is_written_only_by_the_process_holding_its_lock(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    notes = run / "checkpoints" / "notes.txt"
    with pytest.raises(UserError, match=f"is inside run directory {run}"):
        atomic_write_text(notes, "mine")
    owner = RunDir(run)
    owner.acquire_lock()  # as training and the report hold it
    atomic_write_text(notes, "the run's own")
    owner.release_lock()
    with pytest.raises(UserError, match="is inside run directory"):
        atomic_write_text(notes, "no longer")
    assert notes.read_text() == "the run's own"
    check_target(tmp_path / "beside.txt")  # beside the run, not in it: free


def test_a_file_opened_to_read_while_a_command_runs_is_not_written_then(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("input")
    with command_scope():
        source.read_text()
        with pytest.raises(UserError, match=f"{source} is a file this command reads"):
            atomic_write_text(source, "output")
        atomic_write_text(tmp_path / "other.txt", "output")  # written, and so not read
        atomic_write_text(tmp_path / "other.txt", "again")
    atomic_write_text(source, "output")  # a later command has not read it
    assert source.read_text() == "output"


def test_a_file_read_by_the_bounded_reader_counts_as_read_and_a_synced_folder_does_not(tmp_path):
    import os

    from bigan_repr.runs.untrusted import read_data

    source = tmp_path / "report.json"
    source.write_text('{"a": 1}')
    with command_scope():
        assert read_data(source) == {"a": 1}  # os.open, read-only
        with pytest.raises(UserError, match=f"{source} is a file this command reads"):
            atomic_write_text(source, "{}")
        fd = os.open(tmp_path, os.O_RDONLY)  # as a writer syncs the folder it wrote into
        os.close(fd)
        atomic_write_text(tmp_path / "other.json", "{}")
