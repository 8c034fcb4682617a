"""Evaluate chosen feature layers of a trained run, beside the random-init encoder at the same layers
and raw pixels, with the report's own functions and protocol.

    python benchmarks/layers.py RUN --layers concat --threads 2 --out benchmarks/results/fmnist-concat

A report evaluates the layers its run learned, the wide ``concat`` only where the run exports it; this
measures any of them on a finished run without training it again, and leaves the run directory as it
was. Writes OUT/layers.json (the report's payload, its meta also holding the config, command, commit and
seconds: results_file.provenance) and OUT/layers.md, and prints the table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bigan_repr.eval import report_payload
from bigan_repr.eval.report import render_markdown, report_json
from results_file import parse_args, provenance, publish

from bigan_repr.config import resolve_layer
from bigan_repr.features.encoder import dataset_for, load_encoder
from bigan_repr.report.run_report import evaluate_sets, feature_sets, require_labels
from bigan_repr.runs.atomic import atomic_write_text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--layers", default="concat", help="comma-separated feature layers (default: concat)")
    p.add_argument("--checkpoint", type=Path, default=None, help="default: the one `bigan report` evaluates")
    p.add_argument("--out", type=Path, required=True)
    args = parse_args(p)
    start = time.perf_counter()
    loaded = load_encoder(args.run, checkpoint=args.checkpoint)
    layers = tuple(resolve_layer(loaded.config, layer) for layer in args.layers.split(","))
    train_set, test_set = (dataset_for(loaded, None, split) for split in ("train", "test"))
    require_labels(loaded.config.data.source, train_set.labels, test_set.labels)
    methods = feature_sets(loaded, train_set.images, test_set.images, seed=loaded.config.train.seed, layers=layers)
    results = evaluate_sets(methods, train_set.labels, test_set.labels)
    dims = {method.label: train_x.shape[1] for method, (train_x, _) in methods.items()}
    notes = [f"run {args.run}, checkpoint step {loaded.step}; layers {', '.join(layers)}; feature dimensions: "
             + ", ".join(f"{label} {d}" for label, d in dims.items())]
    title = f"Layers of {args.run.name}"
    meta = {"run": str(args.run), "step": loaded.step, "layers": list(layers), "dims": dims}
    payload = report_payload(results, title=title, meta=meta | provenance(loaded.config, start), notes=notes)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "layers.json", report_json(payload))
    publish(args.out / "layers.md", render_markdown(results, title=title, notes=notes))


if __name__ == "__main__":
    main()
