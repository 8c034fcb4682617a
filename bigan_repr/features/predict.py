"""Predicting with a semi-supervised run's classifier: the class of each image file and its probability.

Files and folders are read exactly as ``bigan embed`` reads them (the same image rule, conversion and
refusals), :data:`BLOCK` files at a time, so memory holds one block however many files are given; the
classifier is the run's (``--labels-per-class``), applied to E's penultimate layer. The text output is
one line per file, tab-separated, with the characters that would break its lines escaped
(:func:`escaped`); ``--json`` gives the names exactly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..data.rows import FileRows
from ..errors import UserError
from .encoder import LoadedEncoder, image_files

BLOCK = 256  # files decoded and classified at a time, as `embed` encodes a block of rows at a time


def predict_files(loaded: LoadedEncoder, inputs: list[str | Path]) -> list[dict[str, Any]]:
    """[{"file", "class", "probability"}] for every image file in ``inputs``, in the order read."""
    if loaded.classifier is None:  # before any file is read
        raise UserError(f"run {loaded.run} has no classifier: train one with --labels-per-class N")
    rows = FileRows(image_files(inputs), None, loaded.image_shape)
    predictions = []
    for start in range(0, len(rows), BLOCK):
        block = rows.read(start, min(start + BLOCK, len(rows)))
        probabilities = loaded.class_probabilities(block.images)
        if not np.isfinite(probabilities).all():
            bad = block.ids[int(np.flatnonzero(~np.isfinite(probabilities).all(1))[0])]
            raise UserError(f"run {loaded.run}'s classifier gives no finite probabilities for {bad}")
        best = probabilities.argmax(1)
        predictions += [{"file": str(f), "class": loaded.class_name(int(k)), "probability": float(p[k])}
                        for f, k, p in zip(block.ids, best, probabilities, strict=True)]
    return predictions


_BREAKING = re.compile("[\\\\\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    if "\udc80" <= ch <= "\udcff":  # a byte of a file name that is not UTF-8, as Python decoded it
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def escaped(text: str) -> str:
    """``text`` on one line, tab-free: backslash, newline, tab and carriage return as ``\\\\``, ``\\n``,
    ``\\t``, ``\\r``; other control and line-breaking characters (and the bytes of a file name that is not
    UTF-8) as ``\\xNN`` or ``\\uNNNN``. Every other character is left as it is."""
    return _BREAKING.sub(_escape, text)


def as_text(predictions: list[dict[str, Any]]) -> str:
    """One line per file: the file, its class and the class's probability, tab-separated (escaped)."""
    return "\n".join(f"{escaped(p['file'])}\t{escaped(str(p['class']))}\t{p['probability']:.4f}"
                     for p in predictions)
