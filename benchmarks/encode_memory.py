"""Benchmark: peak memory of `bigan encode` to shards, 2,000 vs 200,000 images, in one run.

Makes synthetic 28x28 uint8 `npz:` sources (random pixels: the weights and pixels do not matter
for memory), trains a 2-step run with the paper MLP's 1024-wide penultimate layer on the small
one, then runs, each under `/usr/bin/time -v`:

    bigan encode RUN --data npz:FILE --layer penultimate --out DIR/ --threads T

on both sizes (and the large source saved compressed, and the large one to a single .npz, the
output that holds every feature in memory, for comparison), and prints each peak RSS and the
difference between the two sizes. Target: at most 300 MB apart.

    python benchmarks/encode_memory.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 300


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="images in the small source")
    parser.add_argument("--large", type=int, default=200000, help="images in the large source")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir", help="where the sources, run and outputs go (default: a temporary folder)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the compressed-source and single-.npz runs of the large source")
    return parser.parse_args(argv)


def make_source(path: Path, n: int, compressed: bool = False, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    (np.savez_compressed if compressed else np.savez)(path, x=x, y=rng.integers(0, 10, size=n))
    return path


def cli(args: list[str], cwd: Path, threads: int, timed: bool = False) -> subprocess.CompletedProcess:
    """`python -m cli ARGS` with this checkout's code; under `/usr/bin/time -v` when ``timed``."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    cmd = (["/usr/bin/time", "-v"] if timed else []) + [sys.executable, "-m", "bigan_repr.cli", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return proc


def peak_rss_mb(stderr: str) -> float:
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1)) / 1024


def wall_s(stderr: str) -> float:
    text = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", stderr).group(1)
    return sum(float(part) * 60**i for i, part in enumerate(reversed(text.split(":"))))


def output_mb(out: Path) -> float:
    files = out.glob("*") if out.is_dir() else [out]
    return sum(f.stat().st_size for f in files) / 2**20


def encode(work: Path, run: Path, source: Path, out: str, threads: int) -> dict:
    proc = cli(["encode", str(run), "--data", f"npz:{source}", "--layer", "penultimate", "--out", out,
                "--threads", str(threads)], work, threads, timed=True)
    written = re.search(r"wrote (\d+) x (\d+) features", proc.stderr)
    return {"source": source.name, "images": int(written.group(1)), "dim": int(written.group(2)), "out": out,
            "peak_rss_mb": peak_rss_mb(proc.stderr), "wall_s": wall_s(proc.stderr),
            "written_mb": output_mb(work / out)}


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="encode-memory-"))
    work.mkdir(parents=True, exist_ok=True)
    small = make_source(work / "small.npz", args.small)
    large = make_source(work / "large.npz", args.large, seed=1)
    cli(["train", "--data", f"npz:{small}", "--hidden", "1024", "--z-dim", "50", "--steps", "2", "--batch-size",
         "64", "--threads", str(args.threads), "--quiet", "--out", "run"], work, args.threads)
    rows = [encode(work, work / "run", small, "small/", args.threads),
            encode(work, work / "run", large, "large/", args.threads)]
    if not args.no_reference:
        compressed = make_source(work / "large-compressed.npz", args.large, compressed=True, seed=1)
        rows.append(encode(work, work / "run", compressed, "large-compressed/", args.threads))
        rows.append(encode(work, work / "run", large, "large.npz", args.threads))
    print(f"{'source':<22} {'images':>8} {'output':<18} {'features MB':>11} {'peak RSS MB':>11} {'wall s':>7}")
    for r in rows:
        print(f"{r['source']:<22} {r['images']:>8} {r['out']:<18} {r['written_mb']:>11.0f} {r['peak_rss_mb']:>11.0f} "
              f"{r['wall_s']:>7.1f}")
    diff = rows[1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
    verdict = "met" if diff <= TARGET_MB else f"missed by {diff - TARGET_MB:.0f} MB"
    print(f"peak RSS, {args.large} - {args.small} images to shards: {diff:+.0f} MB "
          f"(target <= {TARGET_MB} MB: {verdict})")
    print(json.dumps({"threads": args.threads, "rows": rows, "difference_mb": diff}))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
