"""Behaviour of eval.report, reading feature files for evaluation, and the suite end to end."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from bigan_repr.eval import (
    DEFAULT_PROTOCOL,
    EvalInputError,
    EvalProtocol,
    embedding_png,
    evaluate,
    evaluate_many,
    label_budget_probe,
    render_markdown,
    render_table_text,
    report_payload,
)
from bigan_repr.eval.html import render_report_html
from bigan_repr.eval.report import Method
from PIL import Image
from sklearn.datasets import make_blobs

from bigan_repr.features.files import FeatureFileError, load_feature_file
from bigan_repr.report.outputs import write_report

RESULTS = {
    "bigan": {
        "nn1_acc": 0.9739,
        "knn_acc": 0.975,
        "linear_acc": 0.88,
        "kmeans_acc": 0.6,
        "kmeans_nmi": 0.55,
        "kmeans_ari": 0.4,
        "budgets": {
            "10/class": {"mean": 0.7, "std": 0.021, "accs": [0.7] * 5, "n_labels": 100},
            "100%": {"mean": 0.88, "std": 0.0, "accs": [0.88], "n_labels": 60000},
        },
    },
    "raw_pixels": {"nn1_acc": 0.969, "knn_acc": 0.97, "linear_acc": 0.92},
}


def test_markdown_has_header_every_method_and_percentages():
    text = render_markdown(RESULTS, title="MNIST", notes=["features: z = E(x)"])
    assert text.startswith("# MNIST")
    assert "| method | 1-NN | k-NN | linear |" in text
    assert "| bigan | 97.4 | 97.5 | 88.0 |" in text
    assert "| raw_pixels | 96.9 |" in text
    assert "70.0 ± 2.1" in text
    assert "- features: z = E(x)" in text
    # Missing metrics are marked, not dropped: every row has the same number of cells.
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({line.count(" | ") for line in table if "---" not in line}) == 1


def test_kmeans_cells_show_mean_and_std_over_seeds():
    seeded = RESULTS["bigan"] | {"kmeans_acc": 0.508, "kmeans_acc_std": 0.0268, "kmeans_accs": [0.527, 0.476, 0.52],
                                 "kmeans_nmi_std": 0.01, "kmeans_nmis": [0.54, 0.55, 0.56]}
    text = render_markdown({"bigan": seeded, "raw_pixels": RESULTS["raw_pixels"]}, title="t")
    assert "| 50.8 ± 2.7 | 55.0 ± 1.0 | 40.0 |" in text  # ARI: an old-style single number
    assert "k-means and budgets are mean ± std over seeds" in text
    assert "50.8 ± 2.7" in render_table_text({"bigan": seeded})
    # A report written before k-means had seeds, or with one seed, shows the plain number.
    one_seed = seeded | {"kmeans_accs": [0.508], "kmeans_acc_std": 0.0}
    assert "| 50.8 | 55.0 ± 1.0 |" in render_markdown({"bigan": one_seed}, title="t")
    assert "| 60.0 | 55.0 | 40.0 |" in render_markdown(RESULTS, title="t")
    page = render_report_html(report_payload({"bigan": seeded}, title="t", meta={}))
    assert 'data-value="0.508" class="best">50.8 ± 2.7</td>' in page  # the mean is what is compared
    assert "k-means and label budgets are mean ± std over seeds" in page


def test_text_table_is_aligned():
    lines = render_table_text(RESULTS).splitlines()
    assert lines[0].split()[0] == "method"
    assert {len(line) for line in lines} == {len(lines[0])}
    assert any(line.startswith("raw_pixels") for line in lines)


def test_write_report_round_trips_json_and_writes_markdown(tmp_path):
    meta = {"checkpoint": "ckpt_200.pt", "epoch": np.int64(200), "seed": 0}
    paths = write_report(tmp_path / "out", report_payload(RESULTS, title="MNIST", meta=meta))
    json_path, md_path, html_path = paths
    loaded = json.loads(json_path.read_text())
    assert loaded["results"] == RESULTS
    assert loaded["meta"] == {"checkpoint": "ckpt_200.pt", "epoch": 200, "seed": 0}
    assert "bigan" in md_path.read_text() and "raw_pixels" in md_path.read_text()
    assert 'data-value="0.9739"' in html_path.read_text()
    # Atomic writes leave no temp files behind.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.json", "report.md"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf"), np.array([0.5, np.nan])])
def test_report_json_is_strict_json_and_refuses_a_number_that_is_not_finite(tmp_path, bad):
    """What the project writes it can read back: a NaN written as the token NaN would be refused on read."""
    from bigan_repr.runs.untrusted import read_data

    with pytest.raises(ValueError, match="not JSON compliant"):
        report_payload({"bigan (z)": {"knn_acc": bad}}, title="t", meta={})
    assert not (tmp_path / "out").exists()
    path = write_report(tmp_path / "out", report_payload(RESULTS, title="t", meta={"x": np.float64(0.25)})).json
    assert read_data(path)["meta"] == {"x": 0.25}


def test_embedding_png_is_a_png():
    x, y = make_blobs(n_samples=120, centers=3, n_features=10, random_state=0)
    with Image.open(io.BytesIO(embedding_png(x, y, title="blobs", method="pca"))) as image:
        assert image.format == "PNG"
        assert image.size[0] > 100


def test_eval_stands_alone():
    # eval/ is numpy in, dicts/strings/bytes out: importing all of it loads nothing of the package but
    # its (light) top module (torch is only the linear-algebra engine of the probe and k-means)
    code = ("import sys, bigan_repr.eval, bigan_repr.eval.compare, bigan_repr.eval.embedding, "
            "bigan_repr.eval.html, bigan_repr.eval.neighbors; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] == 'bigan_repr' and not m.startswith('bigan_repr.eval')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['bigan_repr']"


def test_evaluate_many_scores_every_feature_set(tmp_path):
    x, y = make_blobs(n_samples=400, centers=5, n_features=16, random_state=0)
    noise = np.random.default_rng(0).normal(size=x.shape)
    methods = {"good": (x[:250], x[250:]), "noise": (noise[:250], noise[250:])}
    results = evaluate_many(methods, y[:250], y[250:], EvalProtocol(seeds=(0, 1), budgets=(5,), restarts=2))
    assert results["good"]["linear_acc"] == pytest.approx(1.0)
    assert results["good"]["kmeans_ari"] == pytest.approx(1.0)
    assert results["noise"]["knn_acc"] < 0.4
    assert len(results["good"]["budgets"]["5/class"]["accs"]) == 2
    assert results["good"]["dim"] == 16 and results["good"]["n_test"] == 150
    # k-means runs once per seed: the mean, its spread and the per-seed values
    noise = results["noise"]
    assert noise["kmeans_seeds"] == [0, 1] and len(noise["kmeans_accs"]) == 2
    assert noise["kmeans_acc"] == pytest.approx(np.mean(noise["kmeans_accs"]))
    assert noise["kmeans_ari_std"] == pytest.approx(np.std(noise["kmeans_aris"], ddof=1))
    json_path = write_report(tmp_path, report_payload(results, title="t", meta={})).json
    assert json.loads(json_path.read_text())["results"]["noise"]["n_train"] == 250


def test_full_label_budget_matches_a_direct_budget_probe():
    # evaluate() reuses its full-label probe for "100%"; it must equal running the budget.
    x, y = make_blobs(n_samples=300, centers=4, n_features=8, cluster_std=5.0, random_state=0)
    split = (x[:200], y[:200], x[200:], y[200:])
    result = evaluate(*split, EvalProtocol(budgets=(3, 1.0), seeds=(0, 1), restarts=1))
    direct = label_budget_probe(*split, budgets=(3, 1.0), seeds=(0, 1))
    assert list(result["budgets"]) == ["3/class", "100%"]
    assert result["budgets"] == direct
    assert result["budgets"]["100%"]["mean"] < 1.0  # a case where C and the split matter


def test_quick_evaluation_skips_budgets():
    x, y = make_blobs(n_samples=200, centers=4, n_features=8, random_state=0)
    quick = DEFAULT_PROTOCOL.quick()
    assert (quick.budgets, quick.c_grid, quick.max_iter, quick.restarts) == ((), (0.1, 1.0), 300, 3)
    results = evaluate_many({"m": (x[:100], x[100:])}, y[:100], y[100:], quick)
    assert results["m"]["budgets"] == {}
    assert results["m"]["knn_acc"] == pytest.approx(1.0)


def test_protocol_refuses_unknown_index_backend_and_empty_seeds():
    for bad in ({"index": "annoy"}, {"probe_backend": "cuml"}, {"seeds": ()}, {"restarts": 0}):
        with pytest.raises(EvalInputError):
            EvalProtocol(**bad)


def test_method_labels_round_trip():
    for method in (Method("bigan", "z"), Method("random encoder", "penultimate"), Method("raw pixels")):
        assert Method.parse(method.label) == method
    assert Method("bigan", "d").label == "bigan (d)" and Method("bigan", "d").is_model
    assert not Method.parse("raw pixels").is_model


# --- feature files -----------------------------------------------------------------


def test_load_feature_file_splits_known_keys_from_meta(tmp_path):
    path = tmp_path / "feats.npz"
    np.savez(
        path,
        features=np.ones((4, 3)),
        labels=np.arange(4),
        ids=np.arange(4) + 10,
        epoch=np.array(200),
    )
    loaded = load_feature_file(path)
    assert loaded["features"].dtype == np.float32
    assert loaded["features"].flags["C_CONTIGUOUS"]
    assert loaded["labels"].dtype == np.int64
    np.testing.assert_array_equal(loaded["ids"], np.arange(4) + 10)
    assert int(loaded["meta"]["epoch"]) == 200


def test_missing_labels_named_with_file(tmp_path):
    path = tmp_path / "nolabels.npz"
    np.savez(path, features=np.ones((4, 3)))
    with pytest.raises(FeatureFileError, match=r"nolabels\.npz.*labels are required"):
        load_feature_file(path)
    assert load_feature_file(path, require_labels=False)["labels"] is None


def test_missing_features_key_lists_keys(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, z=np.ones((4, 3)), labels=np.arange(4))
    with pytest.raises(FeatureFileError, match=r"wrong\.npz.*'features'.*\['labels', 'z'\]"):
        load_feature_file(path)


def test_not_an_npz_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("this is not a zip archive\n")
    with pytest.raises(FeatureFileError, match=r"notes\.npz.*not a valid \.npz"):
        load_feature_file(path)


def test_bare_npy_is_not_an_npz(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.ones((4, 3)))
    with pytest.raises(FeatureFileError, match=r"array\.npy.*not an \.npz"):
        load_feature_file(path)


def test_file_not_found(tmp_path):
    with pytest.raises(FeatureFileError, match=r"not found.*absent\.npz"):
        load_feature_file(tmp_path / "absent.npz")


@pytest.mark.parametrize(
    "features, labels, message",
    [
        (np.ones((4, 3)), np.arange(5), r"labels count 5 != features count 4"),
        (np.ones(4), np.arange(4), r"must be 2-D"),
        (
            np.array([[1.0, np.inf], [0.0, 0.0], [np.nan, 1.0]]),
            np.arange(3),
            r"2 of 3 rows.*first bad row index: 0",
        ),
        (np.array([["a", "b"]]), np.arange(1), r"numeric"),
    ],
)
def test_bad_file_contents_are_named(tmp_path, features, labels, message):
    path = tmp_path / "bad.npz"
    np.savez(path, features=features, labels=labels)
    with pytest.raises(FeatureFileError, match=rf"bad\.npz.*{message}"):
        load_feature_file(path)
