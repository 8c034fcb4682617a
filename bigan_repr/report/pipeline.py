"""The main job: train a run, then report it beside its baselines (``run_report``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bigan_repr.eval.embedding import DEFAULT_EMBEDDING, check_method
from bigan_repr.eval.linear_probe import check_budget_fits
from bigan_repr.eval.protocol import DEFAULT_PROTOCOL

from ..config import Config
from ..data.sources import open_rows
from ..train.trainer import train
from .run_report import evaluate_run, require_labels


def run_pipeline(cfg: Config, out: str | Path, *, progress: bool = True, **report_kwargs) -> dict[str, Any]:
    """Train ``cfg`` into ``out``, then ``evaluate_run`` it (``report_kwargs``: its options)."""
    # refused before training what the evaluation would refuse after it
    check_method(report_kwargs.get("embedding") or DEFAULT_EMBEDDING)
    labels = open_rows(cfg.data, "train").labels
    require_labels(cfg.data.source, labels)
    for budget in report_kwargs.get("protocol", DEFAULT_PROTOCOL).budgets:
        check_budget_fits(labels, budget)
    result = train(cfg, out, progress=progress)
    print(f"training {result.stopped} at step {result.step}", file=sys.stderr, flush=True)
    return evaluate_run(result.run_dir, **report_kwargs)
