"""Retrieval: `bigan neighbors` finds a training image itself first, agrees between a run and its
feature files, prints and writes JSON and a grid, and refuses what it cannot answer."""

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.sources import load_images

QUERIES = [3, 100, 1000]  # rows of the digits training split


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _query_files(tmp_path):
    train = load_images(DataConfig(), "train")
    folder = tmp_path / "queries"
    folder.mkdir()
    for i in QUERIES:  # the training images themselves, as PNG files
        Image.fromarray(train.images[i, 0], "L").save(folder / f"q{i:04d}.png")
    return folder, train


def _neighbors(database, *args):
    r = _invoke("neighbors", database, *args)
    assert r.exit_code == 0, r.output
    return r


def test_a_training_image_finds_itself_first(tiny_run, tmp_path):
    folder, train = _query_files(tmp_path)
    found = json.loads(_neighbors(tiny_run, folder, "--k", 5, "--json").stdout)
    assert (found["layer"], found["step"], found["k"]) == ("z", 22, 5)
    assert [q["query"] for q in found["queries"]] == [str(folder / f"q{i:04d}.png") for i in QUERIES]
    for i, query in zip(QUERIES, found["queries"], strict=True):
        first, *rest = query["neighbors"]
        assert (first["index"], first["id"], first["label"]) == (i, train.ids[i], int(train.labels[i]))
        assert first["distance"] < 1e-5
        distances = [n["distance"] for n in query["neighbors"]]
        assert distances == sorted(distances) and len(distances) == 5
    # an approximate index still finds an image itself first (a query that is a database point)
    hnsw = json.loads(_neighbors(tiny_run, folder, "--k", 5, "--json", "--index", "hnsw").stdout)
    assert [q["neighbors"][0]["index"] for q in hnsw["queries"]] == QUERIES
    text = _neighbors(tiny_run, folder / "q0003.png", "--k", 2).stdout.splitlines()
    assert text[0] == str(folder / "q0003.png")
    assert text[1].split()[:2] == ["1", "distance"] and f"id {train.ids[3]}" in text[1]


def test_feature_files_give_what_the_run_gives_and_a_grid(tiny_run, tmp_path):
    folder, _ = _query_files(tmp_path)
    expected = json.loads(_neighbors(tiny_run, folder, "--k", 4, "--json").stdout)
    assert _invoke("encode", tiny_run, "--out", f"{tmp_path / 'feats'}/", "--shard-size", 400).exit_code == 0
    found = json.loads(_neighbors(tmp_path / "feats", folder, "--k", 4, "--json", "--grid", tmp_path / "g.png").stdout)
    assert found["database"] == str(tmp_path / "feats")
    for a, b in zip(expected["queries"], found["queries"], strict=True):
        assert [n["id"] for n in a["neighbors"]] == [n["id"] for n in b["neighbors"]]
        np.testing.assert_allclose([n["distance"] for n in a["neighbors"]], [n["distance"] for n in b["neighbors"]],
                                   atol=1e-5)
    grid = Image.open(tmp_path / "g.png")
    assert grid.size[0] > grid.size[1] > 100  # three rows of five tiles


def test_embedded_files_are_a_database_too(tiny_run, tmp_path):
    folder, _ = _query_files(tmp_path)
    assert _invoke("embed", tiny_run, folder, "--out", tmp_path / "e.npz").exit_code == 0
    found = json.loads(_neighbors(tmp_path / "e.npz", folder / "q0100.png", "--k", 3, "--json", "--grid",
                                  tmp_path / "g.png").stdout)
    first = found["queries"][0]["neighbors"][0]
    assert first["id"] == str(folder / "q0100.png") and first["label"] is None and first["distance"] < 1e-5
    grid = Image.open(tmp_path / "g.png")
    assert grid.format == "PNG" and grid.size[0] > 2 * grid.size[1]  # one row: the query, then 3 neighbours


def test_unanswerable_requests_are_refused_in_one_line(tiny_run, tmp_path):
    folder, _ = _query_files(tmp_path)
    r = _invoke("neighbors", tiny_run, folder, "--k", 5000)
    assert r.exit_code == 2 and "k=5000" in r.output and "Traceback" not in r.output
    r = _invoke("neighbors", tiny_run, folder, "--index", "ball-tree")
    assert r.exit_code == 2 and "unknown k-NN index 'ball-tree'" in r.output
    np.savez(tmp_path / "anon.npz", features=np.ones((4, 8), np.float32))
    r = _invoke("neighbors", tmp_path / "anon.npz", folder, "--grid", tmp_path / "g.png")
    assert r.exit_code == 2 and "does not say which run made it" in r.output
    assert not (tmp_path / "g.png").exists()


def test_labels_follow_the_one_label_rule_that_eval_follows(tiny_run, tmp_path):
    """A database whose labels are not integers (3.5, 1e20) is refused as `bigan eval` refuses it, never
    printed as 3; the rule is eval.validation.integer_labels."""
    folder, _ = _query_files(tmp_path)
    assert _invoke("embed", tiny_run, folder, "--out", tmp_path / "e.npz").exit_code == 0
    arrays = dict(np.load(tmp_path / "e.npz"))
    for bad, shown in ((3.5, "3.5"), (1e20, "1e+20")):
        np.savez(tmp_path / "bad.npz", **arrays, labels=np.array([bad, 1.0, 2.0]))
        r = _invoke("neighbors", tmp_path / "bad.npz", folder / "q0100.png", "--k", 2)
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert f"label {shown} is not an integer a class id can hold exactly" in r.output, r.output
        r = _invoke("eval", "--train", tmp_path / "bad.npz", "--test", tmp_path / "bad.npz")
        assert r.exit_code == 2 and f"label {shown} is not an integer" in r.output, r.output
    np.savez(tmp_path / "good.npz", **arrays, labels=np.array([3.0, 1.0, 2.0]))  # whole floats are labels
    found = json.loads(_neighbors(tmp_path / "good.npz", folder / "q0100.png", "--k", 1, "--json").stdout)
    assert found["queries"][0]["neighbors"][0]["label"] == 1
