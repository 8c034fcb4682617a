"""The fine-tune protocol of self-supervised semi-supervised learning (SimCLR's 1% / 10%): E starts from a
trained run's weights (its exported checkpoint: best.pt where the run kept one, else its latest; the
averaged weights where it trained with ``--ema``) and trains with a fresh class head on N labelled images
per class, with the run's augmentations, for a stated step budget. No G, no D, no other term: the run's
recipe is the labels alone (the semi-supervised benchmark's row (a)), from a learned start.

``bigan finetune`` builds the config (:func:`finetune_config`); training reads ``train.init_encoder`` and
starts E from that run (:func:`init_encoder`). The new run is its own folder: the source run is only read.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..config import WITHOUT_GAN, Config, ConfigError
from ..model.checkpoint import best_checkpoint_path, load_checkpoint, load_weights, stored_config
from ..nets.bigan import BiGAN

FINETUNE_STEPS = 500  # at 10 labels per class and batch 256, about 1,300 passes over the labelled images
# every term but the labels' switched off, and nothing chosen on labels beyond the budget
_ONLY_LABELS = WITHOUT_GAN | {"invariance": "none", "consistency": 0.0, "select": None, "eval_every": None,
                             "ema": None}


def source_checkpoint(run: str | Path) -> dict:
    """The checkpoint a fine-tune starts from (checked on load like every checkpoint)."""
    best = best_checkpoint_path(Path(run))
    return load_checkpoint(best if best.is_file() else run, map_location="cpu")


def finetune_config(run: str | Path, labels_per_class: int, label_seed: int, steps: int = FINETUNE_STEPS,
                    threads: int | None = None) -> Config:
    """The fine-tune run's config: the source run's data and networks, its augmentations and E's learning
    rate, the labels alone, a classifier on E."""
    source = stored_config(source_checkpoint(run))
    return source.updated({
        "data": {"labels_per_class": labels_per_class, "label_seed": label_seed},
        "model": {"classifier_on": "e"},
        "train": _ONLY_LABELS | {"steps": steps, "init_encoder": str(run)}
        | ({"threads": threads} if threads else {}),
    })


def init_encoder(model: BiGAN, run: str | Path) -> int:
    """Load E's weights from ``run`` into ``model`` (its networks must be the run's); the source's step."""
    ckpt = source_checkpoint(run)
    source = stored_config(ckpt)
    ours, theirs = asdict(model.cfg), asdict(source.model)
    differ = [k for k in ours if k != "classifier_on" and ours[k] != theirs.get(k)]
    if differ:
        raise ConfigError(f"train.init_encoder {run}: its networks differ from this run's (model.{differ[0]}: "
                          f"{theirs.get(differ[0])!r} there, {ours[differ[0]]!r} here)")
    state = ckpt.get("ema_encoder") or {k.removeprefix("encoder."): v for k, v in ckpt["model"].items()
                                        if k.startswith("encoder.")}
    load_weights(model.encoder, state, ckpt["path"], "encoder weights")
    return int(ckpt["step"])
