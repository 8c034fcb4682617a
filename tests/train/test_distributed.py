"""torchrun on CPU (gloo): two processes train (rank 0 alone writes, replicas agree) and encode
(shards shared out, the result equal to one process's)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.features.files import MANIFEST, read_features
from bigan_repr.model.checkpoint import load_checkpoint, step_checkpoints

TRAIN = ["train", "--hidden", "128", "--z-dim", "8", "--batch-size", "32", "--threads", "1",
         "--log-every", "2", "--quiet"]
REPO = Path(__file__).resolve().parents[2]


def _run_torchrun(tmp_path, *args):
    # PYTHONPATH: the processes import this checkout's code, wherever the package is installed from
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "bigan_repr.cli", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _torchrun(tmp_path, *args):
    proc = _run_torchrun(tmp_path, *TRAIN, *args)
    digests = dict(re.findall(r"rank (\d)/2 weights sha256 ([0-9a-f]{64})", proc.stderr))
    assert set(digests) == {"0", "1"}, proc.stderr[-3000:]
    return digests


def test_two_processes_train_identical_replicas_and_rank0_writes(tmp_path):
    out = tmp_path / "run"
    digests = _torchrun(tmp_path, "--steps", "6", "--out", str(out))
    assert digests["0"] == digests["1"]
    assert [p.name for p in step_checkpoints(out)] == ["step_00000006.pt"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]  # one writer: no row twice
    ckpt = load_checkpoint(out)
    assert len(ckpt["rng"]["z"]) == 2 and not torch.equal(ckpt["rng"]["z"][0], ckpt["rng"]["z"][1])
    # each rank drew its own shard: the stream advanced by 6 batches of 32 per rank
    assert ckpt["stream"] == {"epoch": 0, "pos": 6}

    # resume under torchrun continues to 10 steps, replicas still identical
    digests = _torchrun(tmp_path, "--steps", "10", "--resume", str(out))
    assert digests["0"] == digests["1"]
    assert step_checkpoints(out)[-1].name == "step_00000010.pt"


def test_two_process_encode_equals_one_process(tiny_run, tmp_path):
    # 1437 rows in shards of 300: rank 0 writes shards 0, 2, 4 and rank 1 shards 1, 3
    proc = _run_torchrun(tmp_path, "encode", tiny_run, "--layer", "penultimate", "--shard-size", "300",
                         "--threads", "1", "--out", f"{tmp_path / 'two'}/")
    assert re.search(r"rank 1: shard 4/5", proc.stderr) and "wrote 1437 x 128" in proc.stderr
    r = CliRunner().invoke(main, ["encode", str(tiny_run), "--layer", "penultimate", "--shard-size", "300",
                                  "--out", f"{tmp_path / 'one'}/"])
    assert r.exit_code == 0, r.output
    two, one = read_features(tmp_path / "two"), read_features(tmp_path / "one")
    assert [len(s) for s in two.shards] == [300, 300, 300, 300, 237]
    np.testing.assert_allclose(two.features(), one.features(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(two.labels, one.labels)
    np.testing.assert_array_equal(two.ids, one.ids)
    manifests = [json.loads((tmp_path / name / MANIFEST).read_text()) for name in ("two", "one")]
    assert manifests[0] == manifests[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no staging folder left


def test_two_processes_train_with_the_gathered_invariance_loss(tmp_path):
    out = tmp_path / "run"
    digests = _torchrun(tmp_path, "--steps", "4", "--invariance", "vicreg", "--gather-invariance", "--out", str(out))
    assert digests["0"] == digests["1"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and all(np.isfinite(r["invariance"]) for r in rows)
