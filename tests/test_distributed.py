"""torchrun + DDP on CPU (gloo): two processes train, rank 0 alone writes, replicas agree."""

import json
import os
import re
import subprocess
import sys

import torch

from bigan_repr.checkpoint import load_checkpoint, step_checkpoints

TRAIN = ["train", "--hidden", "128", "--z-dim", "8", "--batch-size", "32", "--threads", "1",
         "--log-every", "2", "--quiet"]


def _torchrun(tmp_path, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "cli", *TRAIN, *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
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
