"""Predicting with a semi-supervised run's classifier: the class of each image file and its probability.

Files and folders are read exactly as ``bigan embed`` reads them (the same image rule, conversion and
refusals); the classifier is the run's (``--labels-per-class``), applied to E's penultimate layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.rows import FileRows
from ..errors import UserError
from .encoder import LoadedEncoder, image_files


def predict_files(loaded: LoadedEncoder, inputs: list[str | Path]) -> list[dict[str, Any]]:
    """[{"file", "class", "probability"}] for every image file in ``inputs``, in the order read."""
    if loaded.classifier is None:  # before any file is read
        raise UserError(f"run {loaded.run} has no classifier: train one with --labels-per-class N")
    files = image_files(inputs)
    block = FileRows(files, None, loaded.image_shape).read(0, len(files))
    probabilities = loaded.class_probabilities(block.images)
    best = probabilities.argmax(1)
    return [{"file": str(f), "class": loaded.class_name(int(k)), "probability": float(p[k])}
            for f, k, p in zip(files, best, probabilities, strict=True)]


def as_text(predictions: list[dict[str, Any]]) -> str:
    """One line per file: the file, its class and the class's probability."""
    return "\n".join(f"{p['file']}\t{p['class']}\t{p['probability']:.4f}" for p in predictions)
