"""The labelled part of a semi-supervised run: deterministic, class-balanced, the eval's own draw."""

import json

import numpy as np
import pytest
from bigan_repr.eval.linear_probe import subsample_labels

from bigan_repr.data.label_split import LabelSplit, check_same_split, draw_label_split
from bigan_repr.errors import DataError

LABELS = np.repeat(np.array([3, 7, 9]), [20, 15, 30])  # label values need not start at 0
IDS = np.array([f"img{i}.png" for i in range(len(LABELS))])


def test_the_split_is_class_balanced_and_deterministic():
    a = draw_label_split(LABELS, IDS, 5, seed=1, source="npz:x")
    b = draw_label_split(LABELS, IDS, 5, seed=1, source="npz:x")
    assert np.array_equal(a.positions, b.positions) and len(a) == 15
    assert {int(c): int(n) for c, n in zip(*np.unique(a.labels, return_counts=True), strict=True)} == {3: 5, 7: 5, 9: 5}
    assert a.classes.tolist() == [3, 7, 9] and sorted(set(a.targets.tolist())) == [0, 1, 2]
    assert np.array_equal(a.ids, IDS[a.positions]) and np.array_equal(a.labels, LABELS[a.positions])
    other = draw_label_split(LABELS, IDS, 5, seed=2, source="npz:x")
    assert not np.array_equal(a.positions, other.positions)


def test_the_split_is_the_eval_label_budget_draw():
    """A linear probe with budget N and seed S fits on exactly the run's labelled images."""
    split = draw_label_split(LABELS, IDS, 4, seed=3, source="npz:x")
    assert np.array_equal(split.positions, subsample_labels(LABELS, 4, 3))


@pytest.mark.parametrize("labels, n, message", [
    (None, 5, "--labels-per-class needs labels, and data source 'npz:x' has none"),
    (LABELS, 16, "--labels-per-class 16: class 7 of data source 'npz:x' has only 15 training images"),
    (np.zeros(10, np.int64), 2, "needs at least 2 classes"),
])
def test_refusals_name_the_problem(labels, n, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        draw_label_split(labels, IDS[:10] if labels is not None and len(labels) == 10 else IDS, n, 0, "npz:x")


def test_the_stored_split_is_checked_bit_for_bit(tmp_path):
    split = draw_label_split(LABELS, IDS, 5, seed=0, source="npz:x")
    path = tmp_path / "labelled.json"
    check_same_split(split, path)  # none stored yet: fine
    path.write_text(split.to_json())
    check_same_split(split, path)
    stored = json.loads(path.read_text())
    assert stored["labelled"] == 15 and stored["labels_per_class"] == 5 and stored["ids"] == split.ids.tolist()
    stored["positions"][0] += 1
    path.write_text(json.dumps(stored))
    with pytest.raises(DataError, match="holds other labelled images than the 15 drawn now"):
        check_same_split(split, path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match=r"not UTF-8 text .*it records the run's labelled images"):
        check_same_split(split, path)
    assert isinstance(split, LabelSplit)


def test_a_class_too_small_is_named_as_its_source_names_it():
    names = [f"class-{v}" for v in range(10)]
    with pytest.raises(DataError, match=r"--labels-per-class 16: class 'class-7' \(label 7\) of data source "
                                        r"'folder:x' has only 15 training images"):
        draw_label_split(LABELS, IDS, 16, 0, "folder:x", class_names=names)


def test_a_labelled_json_past_the_readers_default_bound_is_read_back(tmp_path):
    """What training writes, a resume reads: 4,400 labelled images with 4,000-character paths write 17 MB,
    past the 16 MiB every other run file is held to; the bound is the split's own file."""
    from bigan_repr.runs.untrusted import MAX_BYTES

    n = 4400
    ids = np.array([f"{i:06d}/" + "d" * 3990 + ".png" for i in range(n)], dtype=object)
    split = LabelSplit(np.arange(n, dtype=np.int64), ids, np.arange(n, dtype=np.int64) % 2, np.array([0, 1]),
                       n // 2, 0)
    path = tmp_path / "labelled.json"
    path.write_text(split.to_json())
    assert path.stat().st_size > MAX_BYTES
    check_same_split(split, path)
    small = draw_label_split(LABELS, IDS, 5, seed=0, source="npz:x")  # another split: its own bound refuses it
    with pytest.raises(DataError, match="larger than .*; not a file this program reads .*it records the run's"):
        check_same_split(small, path)
