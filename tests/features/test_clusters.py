"""A run's clusters: k-means kept in the run so that calls agree, the report's best space, the saved
file checked on load, and assignment by constructed centroids."""

import json
import shutil

import numpy as np
import pytest
from bigan_repr.eval.clustering import hungarian_accuracy
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.features.clusters import (
    CLUSTERS_FILE,
    KMeansClusters,
    best_space,
    cluster_rows,
    head_clusters,
    load_clusters,
    save_clusters,
)
from bigan_repr.features.encoder import load_encoder, rows_for
from bigan_repr.runs.untrusted import UntrustedFileError
from tests.conftest import one_error_line


def test_assignment_by_constructed_centroids():
    model = KMeansClusters("z", "plain", 3, np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), spread=1.0)
    clusters, probs = model.assign(np.array([[9.0, 0.5], [0.2, 0.1], [5.0, 5.0]]))
    assert clusters[:2].tolist() == [1, 0]
    assert probs[0] > 0.999 and probs[1] > 0.999  # far nearer one centroid than the others
    assert abs(probs[2] - 1 / 3) < 1e-6  # equidistant from all three


def test_the_reports_best_space_for_the_exported_row(tmp_path):
    assert best_space(tmp_path, "bigan (z)") == "plain"  # no report yet
    row = {"kmeans_acc": 0.48, "kmeans_l2_acc": 0.57, "kmeans_pcaw_acc": 0.46}
    report = {"results": {"bigan (z)": row, "raw pixels": {"kmeans_acc": 0.9}}}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert best_space(tmp_path, "bigan (z)") == "l2"


def test_two_calls_agree_by_the_kmeans_kept_in_the_run(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    loaded = load_encoder(run)
    first, how = cluster_rows(loaded, rows_for(loaded, None, "test"))
    saved = (run / CLUSTERS_FILE).stat().st_mtime_ns
    second, _ = cluster_rows(load_encoder(run), rows_for(loaded, None, "test"))
    assert (run / CLUSTERS_FILE).stat().st_mtime_ns == saved  # read back, not fitted again
    assert first == second
    clusters = {row["cluster"] for row in first}
    assert "k-means on z" in how and clusters <= set(range(10)) and len(clusters) > 3
    assert all(0 < row["probability"] <= 1 for row in first)


@pytest.mark.parametrize("tamper", ["shape", "nan", "space"])
def test_a_tampered_clusters_file_is_refused(tmp_path, tamper):
    good = KMeansClusters("z", "plain", 3, np.zeros((4, 8)), 1.0)
    if tamper == "shape":
        good.centroids = np.zeros((3, 8))
    elif tamper == "nan":
        good.centroids[0, 0] = np.nan
    else:
        good.space = "cosine"
    save_clusters(tmp_path / CLUSTERS_FILE, good)
    with pytest.raises(UntrustedFileError, match=CLUSTERS_FILE):
        load_clusters(tmp_path / CLUSTERS_FILE, 4, 8)


def test_the_cluster_commands_refusals(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert "not both and not neither" in one_error_line(["cluster", run])
    assert "not both and not neither" in one_error_line(["cluster", run, run / "config.json", "--split", "test"])
    save_clusters(tmp_path / CLUSTERS_FILE, KMeansClusters("z", "plain", 3, np.zeros((4, 8)), 1.0))  # K 4, not 10
    shutil.copy(tmp_path / CLUSTERS_FILE, run / CLUSTERS_FILE)
    assert CLUSTERS_FILE in one_error_line(["cluster", run, "--split", "test"])
    (run / CLUSTERS_FILE).unlink()
    result = CliRunner().invoke(main, ["cluster", str(run), "--split", "test", "--json"])
    rows = json.loads(result.stdout)
    assert result.exit_code == 0 and len(rows) == 360 and {"id", "cluster", "probability"} == set(rows[0])


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A short digits run with the categorical prior mixed:10 (E gains 10 cluster logits)."""
    from bigan_repr.config import Config
    from bigan_repr.train.trainer import train
    from tests.conftest import SMALL

    out = tmp_path_factory.mktemp("runs") / "mixed"
    cfg = Config().updated(SMALL | {"model": SMALL["model"] | {"z_dim": 16, "prior": "mixed:10"},
                                    "train": SMALL["train"] | {"steps": 30}})
    train(cfg, out, progress=False)
    return out


def test_a_mixed_run_clusters_by_its_head_and_its_report_scores_the_head(mixed_run):
    from bigan_repr.eval.html import render_report_html

    from bigan_repr.features.encoder import dataset_for
    from bigan_repr.report.run_report import clusters_result

    loaded = load_encoder(mixed_run)
    rows, how = cluster_rows(loaded, rows_for(loaded, None, "test"))
    test_set = dataset_for(loaded, None, "test")
    clusters, probs = head_clusters(loaded, test_set.images)
    assert how == "the categorical head (K = 10)" and not (mixed_run / CLUSTERS_FILE).exists()
    assert [row["cluster"] for row in rows] == clusters.tolist() and set(clusters.tolist()) <= set(range(10))
    assert np.allclose([row["probability"] for row in rows], probs) and (probs >= 0.1 - 1e-6).all()
    scored = clusters_result(loaded, test_set)
    assert scored["k"] == 10 and scored["clusters_used"] == len(set(clusters.tolist()))
    assert scored["acc"] == round(100 * hungarian_accuracy(test_set.labels, clusters), 2)
    page = render_report_html({"title": "t", "results": {}, "meta": {}, "clusters": scored})
    assert f"ACC <b>{scored['acc']:.1f}%</b>" in page and 'id="clusters"' in page


def test_a_run_without_the_head_has_no_clusters_row(tiny_run):
    from bigan_repr.features.encoder import dataset_for
    from bigan_repr.report.run_report import clusters_result

    loaded = load_encoder(tiny_run)
    assert clusters_result(loaded, dataset_for(loaded, None, "test")) is None
