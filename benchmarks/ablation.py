"""What each part of a recipe adds: the same budget and the same evaluation for every row.

    python benchmarks/ablation.py --preset fmnist --steps 1000 --threads 2 --out benchmarks/results/ablation

Every row trains the preset's networks for the preset's steps (or --steps), batch and seed,
keeps the checkpoint its validation probe (a split of the TRAINING set) likes best, and is
evaluated on the test set with the report's full protocol (1-NN, weighted k-NN, linear probe
with C chosen on held-out training labels, k-means with 10 restarts, linear with 10 labels
per class over 5 seeds) at the preset's exported layer, and at D's image pathway ("d") where
there is a D. The rows switch one part of the recipe at a time:

- BiGAN alone (no augmentation for D, no invariance term);
- BiGAN + augmentation inside D's input (DiffAugment);
- BiGAN + the invariance term on E;
- BiGAN + both (the preset's recipe, when it has both);
- the invariance term alone: E trained without D or G, the control that says whether the
  adversarial part adds anything;
- a random-init encoder of the same architecture and raw pixels, evaluated the same way.

Results go to OUT/ablation.json and OUT/ablation.md; each row's run directory to OUT/runs/ (named
in the JSON relative to OUT). Rows train first (--train-only stops there); a second invocation
evaluates the rows not evaluated yet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bigan_repr.eval import evaluate
from bigan_repr.eval.report import render_markdown
from results_file import ResultsFile, parse_args, publish

from bigan_repr.config import D_NORMS, Config
from bigan_repr.features.encoder import dataset_for, load_encoder, random_encoder_like, raw_pixels
from bigan_repr.presets import preset
from bigan_repr.train.trainer import train_to_end

# the recipe parts each row switches, on top of the preset
ROWS: dict[str, dict] = {
    "bigan": {"d_augment": "none", "invariance": "none"},
    "bigan + D augmentation": {"invariance": "none"},
    "bigan + invariance": {"d_augment": "none"},
    "bigan + D augmentation + invariance": {},
    "invariance alone": {"adversarial": False, "d_augment": "none"},
}


def row_config(base: Config, changes: dict, steps: int | None, threads: int) -> Config | None:
    """The preset with one row's switches; None when the row needs a part the preset lacks."""
    train_cfg = base.train
    if changes.get("invariance") != "none" and train_cfg.invariance == "none":
        return None
    if "d_augment" not in changes and train_cfg.d_augment == "none":
        return None
    overrides = dict(changes, threads=threads, **({"steps": steps} if steps else {}))
    return base.updated({"train": overrides})


def evaluate_layers(run: Path, exported: str, random_too: bool = False) -> tuple[dict, Config]:
    """Full-protocol results of a run's encoder (and, with random_too, its random-init twin) at the exported
    layer and at D's image pathway where the run trained D; and the config the run was trained with."""
    loaded = load_encoder(run)
    layers = [layer for layer in dict.fromkeys((exported, "d")) if layer in loaded.config.trained_layers]
    print(f"{run.name}: evaluating {', '.join(layers)}", flush=True)
    train_set, test_set = dataset_for(loaded, None, "train"), dataset_for(loaded, None, "test")
    models = {"": loaded} | ({"random encoder ": random_encoder_like(loaded, seed=loaded.config.train.seed)}
                             if random_too else {})
    results = {}
    for prefix, encoder in models.items():
        for layer in layers:
            train_x = encoder.encode(train_set.images, layer=layer)
            test_x = encoder.encode(test_set.images, layer=layer)
            r = results[f"{prefix}({layer})"] = evaluate(train_x, train_set.labels, test_x, test_set.labels)
            print(f"  {prefix}({layer}): k-NN {r['knn_acc']:.4f} linear {r['linear_acc']:.4f}", flush=True)
    if random_too:
        results["raw pixels"] = evaluate(raw_pixels(train_set.images), train_set.labels,
                                         raw_pixels(test_set.images), test_set.labels)
    return {"step": loaded.step, "results": results}, loaded.config


def train_rows(base: Config, names: list[str], args, results: ResultsFile) -> None:
    """Train every row not trained yet (a row interrupted midway resumes), recording its time."""
    rows = results.rows
    for name in names:
        cfg = row_config(base, ROWS[name], args.steps, args.threads)
        if cfg is None:
            print(f"{name}: skipped (the preset has no such part)", flush=True)
            continue
        if rows.get(name, {}).get("steps") == cfg.train.steps:
            continue
        run = args.out / "runs" / name.replace(" + ", "+").replace(" ", "-")
        start = time.perf_counter()
        result = train_to_end(cfg, run)  # an interrupted row stops the script, never counts as trained
        seconds = time.perf_counter() - start + rows.get(name, {}).get("train_s", 0)
        results.add(name, {"run": str(run.relative_to(args.out)), "train_s": round(seconds), "steps": result.step,
                           "adversarial": cfg.train.adversarial}, cfg, start)
        print(f"{name}: trained {result.step} steps in {seconds:.0f} s", flush=True)


def evaluate_rows(exported: str, names: list[str], args, results: ResultsFile) -> None:
    """Evaluate every trained row not evaluated yet; the first one evaluated also measures the baselines."""
    summary = results.document
    for name in names:
        row = results.rows.get(name)
        if row is None or "results" in row:
            continue
        start = time.perf_counter()
        evaluated, config = evaluate_layers(args.out / row["run"], exported, random_too="baselines" not in summary)
        row |= evaluated
        if "baselines" not in summary:
            summary["baselines"] = {k: row["results"].pop(k) for k in list(row["results"]) if not k.startswith("(")}
        # a row trained by one invocation (--train-only) may be evaluated by another: the row carries the
        # evaluating one's stamp, its seconds counting the training too, and the training's command and commit
        row["trained_by"] = {k: row[k] for k in ("command", "commit") if k in row}
        results.add(name, row, config, start - row["train_s"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="fmnist")
    p.add_argument("--steps", type=int, default=None, help="G/E steps per row (default: the preset's)")
    p.add_argument("--d-norm", choices=D_NORMS, default=None, help="D's normalization (default: the preset's)")
    p.add_argument("--recon-weight", type=float, default=None,
                   help="the x-cycle term's weight (default: the preset's; 0 reproduces the committed rows)")
    p.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of the rows")
    p.add_argument("--train-only", action="store_true", help="train the rows, evaluate later")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation"))
    args = parse_args(p)
    args.out.mkdir(parents=True, exist_ok=True)
    base = Config().updated(preset(args.preset))
    if args.d_norm:
        base = base.updated({"model": {"d_norm": args.d_norm}})
    if args.recon_weight is not None:
        base = base.updated({"train": {"recon_weight": args.recon_weight}})
    results = ResultsFile(args.out / "ablation.json", rows_key="rows", indent=2)
    results.document |= {"preset": args.preset, "exported_layer": base.model.features, "d_norm": base.model.d_norm}
    names = [n for n in args.rows.split(",") if n]
    train_rows(base, names, args, results)
    if args.train_only:
        return
    evaluate_rows(base.model.features, names, args, results)
    rows = results.rows
    table = {f"{name} {layer}": r for name, row in rows.items() for layer, r in row.get("results", {}).items()}
    table |= results.document.get("baselines", {})
    publish(args.out / "ablation.md",
            render_markdown(table, title=f"Ablation of the {args.preset} preset (Fashion-MNIST test set)"))


if __name__ == "__main__":
    main()
