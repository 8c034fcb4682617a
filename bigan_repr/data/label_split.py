"""The labelled part of a semi-supervised run: ``labels_per_class`` images of each class of the training
split, drawn with ``label_seed``; every other training image is used without its label.

The draw is the evaluation's own label-budget rule (``eval.linear_probe.subsample_labels``), so a linear
probe with budget N and seed S is fitted on exactly the images a run with ``--labels-per-class N
--label-seed S`` trained on. The split is written into the run directory (``labelled.json``: ids, labels,
positions) so it can be audited and reused, and a resumed run checks it draws the same one, bit for bit.
The file grows with the labelled images and their ids (100,000 long paths write more than 16 MiB), so it
is read back within a bound sized by the split drawn now, never a fixed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

LABELS_FILE = "labelled.json"
FORMAT = "bigan-repr-labelled/1"


@dataclass(frozen=True)
class LabelSplit:
    positions: np.ndarray  # int64 (n,): rows of the training split, sorted
    ids: np.ndarray  # str (n,): those images' ids (an index or a file path)
    labels: np.ndarray  # int64 (n,): their labels as the source gives them
    classes: np.ndarray  # int64 (K,): every label value of the training split, sorted; class index k is classes[k]
    labels_per_class: int
    seed: int

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def targets(self) -> np.ndarray:
        """The labels as class indices 0..K-1, what the classifier is trained to output."""
        return np.searchsorted(self.classes, self.labels).astype(np.int64)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "labels_per_class": self.labels_per_class, "label_seed": self.seed,
                           "classes": self.classes.tolist(), "labelled": len(self),
                           "positions": self.positions.tolist(), "ids": self.ids.tolist(),
                           "labels": self.labels.tolist()}, indent=1, allow_nan=False) + "\n"

    def same_as(self, stored: dict[str, Any]) -> bool:
        """Whether a ``labelled.json`` a run wrote holds this very split."""
        return (stored.get("format") == FORMAT and stored.get("positions") == self.positions.tolist()
                and stored.get("ids") == self.ids.tolist() and stored.get("labels") == self.labels.tolist()
                and stored.get("classes") == self.classes.tolist())


def draw_label_split(labels: np.ndarray | None, ids: np.ndarray, labels_per_class: int, seed: int,
                     source: str, class_names: list[str] | None = None) -> LabelSplit:
    """``labels_per_class`` images of every class of a training split (labels, ids), drawn with ``seed``;
    ``class_names`` (the source's, by label value, where it has them) name a class in messages."""
    from bigan_repr.eval.linear_probe import subsample_labels

    if labels is None:
        raise DataError(f"--labels-per-class needs labels, and data source {source!r} has none (a folder needs "
                        "class subfolders, an npz a 'y' array)")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"--labels-per-class needs at least 2 classes; data source {source!r} has {len(classes)}")
    short = np.flatnonzero(counts < labels_per_class)
    if short.size:
        c = short[0]
        raise DataError(f"--labels-per-class {labels_per_class}: class {class_label(classes[c], class_names)} of data "
                        f"source {source!r} has only {counts[c]} training images")
    positions = subsample_labels(labels, labels_per_class, seed)
    return LabelSplit(positions, np.asarray(ids)[positions].astype(str), np.asarray(labels)[positions].astype(np.int64),
                      classes.astype(np.int64), labels_per_class, seed)


def class_label(label: int, class_names: list[str] | None) -> str:
    """'cat (label 3)' where the source names its classes, else '3': how messages name a class."""
    if class_names and 0 <= label < len(class_names):
        return f"{class_names[label]!r} (label {label})"
    return str(label)


def check_same_split(split: LabelSplit, path) -> None:
    """Refuse to resume a run whose ``labelled.json`` (at ``path``) is not the split drawn now: the data
    changed, or the file was edited. A run that stopped before writing it has none yet, which is fine."""
    from ..runs.untrusted import UntrustedFileError, read_mapping

    path = Path(path)
    if not path.exists():
        return
    # its bound: the file this split writes, with room for reformatting (it grows with the labelled images and
    # their ids, past any fixed bound); anything larger is another split
    bound = 2 * len(split.to_json().encode()) + 2**20
    try:  # the one bounded reader of files a user may have edited
        stored = read_mapping(path, yaml=False, max_bytes=bound)
    except UntrustedFileError as e:
        raise DataError(f"{e} (it records the run's labelled images)") from None
    if not split.same_as(stored):
        raise DataError(f"{path} holds other labelled images than the {len(split)} drawn now from the training "
                        "data: the data changed since the run started, or the file was edited; nothing was changed")
