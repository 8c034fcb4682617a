"""The main job: train, encode both splits, evaluate beside the baselines, write the report.

Baselines always sit beside the model, computed by the same functions on the same split:
raw pixels and a random-init encoder of the same architecture.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .config import FEATURE_LAYERS, Config
from .errors import DataError
from .features import LoadedEncoder, dataset_for, load_encoder, random_encoder_like, raw_pixels
from .train import train


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def feature_sets(loaded: LoadedEncoder, train_images: np.ndarray, test_images: np.ndarray, *, seed: int = 0,
                 layers: tuple[str, ...] = FEATURE_LAYERS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{method: (train features, test features)}: the model and the random-init encoder at each
    layer (z = E(x), and the penultimate layer), and raw pixels."""
    random_init = random_encoder_like(loaded, seed=seed)
    sets = {}
    for name, encoder in (("bigan", loaded), ("random encoder", random_init)):
        for layer in layers:
            sets[f"{name} ({layer})"] = (encoder.encode(train_images, layer=layer),
                                         encoder.encode(test_images, layer=layer))
    sets["raw pixels"] = (raw_pixels(train_images), raw_pixels(test_images))
    return sets


def evaluate_run(run_dir: str | Path, *, budgets=(10, 1.0), seeds=(0, 1, 2, 3, 4), restarts: int = 10,
                 checkpoint: str | Path | None = None, plot: bool = True,
                 skip_bad: bool | None = None) -> dict[str, Any]:
    """Encode the run's dataset (train and test splits), evaluate, and write report.json/.md."""
    from eval import evaluate_many, plot_embedding, write_report

    run_dir = Path(run_dir)
    loaded = load_encoder(run_dir, checkpoint=checkpoint)
    train_set, test_set = (dataset_for(loaded, None, split, skip_bad=skip_bad) for split in ("train", "test"))
    if train_set.labels is None or test_set.labels is None:
        raise DataError(f"data source {loaded.config.data.source!r} has no labels; evaluation needs them")
    _log(f"encoding {len(train_set)} train and {len(test_set)} test images (step {loaded.step})")
    methods = feature_sets(loaded, train_set.images, test_set.images, seed=loaded.config.train.seed)
    _log(f"evaluating {len(methods)} feature sets: {', '.join(methods)}")
    results = evaluate_many(methods, train_set.labels, test_set.labels, budgets=budgets, seeds=seeds,
                            restarts=restarts)
    cfg = loaded.config
    meta = {"run": str(run_dir), "step": loaded.step, "data": cfg.data.source, "layer": cfg.model.features,
            "objective": cfg.train.objective, "arch": cfg.model.arch, "config": cfg.to_dict()}
    notes = [
        f"{cfg.data.source}: {len(train_set)} train / {len(test_set)} test images; checkpoint step "
        f"{loaded.step}; (z) = E(x), (penultimate) = the encoder's layer below z; the run exports "
        f"{cfg.model.features}.",
        f"objective {cfg.train.objective}, arch {cfg.model.arch}, z_dim {cfg.model.z_dim}, prior {cfg.model.prior}.",
        "k-means on the test features; linear probe C chosen on a held-out part of the training set.",
    ]
    write_report(run_dir, results, title=f"bigan-repr report: {run_dir.name}", meta=meta, notes=notes)
    if plot:
        model_name = f"bigan ({cfg.model.features})"
        plot_embedding(methods[model_name][1], test_set.labels, run_dir / "embedding.png",
                       title=f"{model_name}, test split (PCA)")
    return results


def run_pipeline(cfg: Config, out: str | Path, *, progress: bool = True, **eval_kwargs) -> dict[str, Any]:
    result = train(cfg, out, progress=progress)
    _log(f"training {result.stopped} at step {result.step}")
    return evaluate_run(result.run_dir, **eval_kwargs)
