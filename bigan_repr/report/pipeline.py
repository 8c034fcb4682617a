"""The main job: train a run, then report it beside its baselines (``run_report``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from eval.embedding import DEFAULT_EMBEDDING, check_method

from ..config import Config
from ..train.trainer import train
from .run_report import evaluate_run


def run_pipeline(cfg: Config, out: str | Path, *, progress: bool = True, **report_kwargs) -> dict[str, Any]:
    """Train ``cfg`` into ``out``, then ``evaluate_run`` it (``report_kwargs``: its options)."""
    check_method(report_kwargs.get("embedding") or DEFAULT_EMBEDDING)  # refused before training, not after
    result = train(cfg, out, progress=progress)
    print(f"training {result.stopped} at step {result.step}", file=sys.stderr, flush=True)
    return evaluate_run(result.run_dir, **report_kwargs)
