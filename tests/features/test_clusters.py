"""A run's clusters: k-means kept in the run so that calls agree, the report's best space, the saved
file checked on load, and assignment by constructed centroids."""

import json
import shutil

import numpy as np
import pytest

from bigan_repr.features.clusters import (
    CLUSTERS_FILE,
    KMeansClusters,
    assign_clusters,
    best_space,
    load_clusters,
    save_clusters,
)
from bigan_repr.features.encoder import dataset_for, load_encoder
from bigan_repr.runs.untrusted import UntrustedFileError


def test_assignment_by_constructed_centroids():
    model = KMeansClusters("z", "plain", 3, np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), variance=1.0)
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
    images = dataset_for(loaded, None, "test").images[:64]
    first, probs, how = assign_clusters(loaded, images)
    saved = (run / CLUSTERS_FILE).stat().st_mtime_ns
    second, again, _ = assign_clusters(load_encoder(run), images)
    assert (run / CLUSTERS_FILE).stat().st_mtime_ns == saved  # read back, not fitted again
    assert np.array_equal(first, second) and np.array_equal(probs, again)
    assert "k-means on z" in how and set(first.tolist()) <= set(range(10)) and len(set(first.tolist())) > 3
    assert ((probs > 0) & (probs <= 1)).all()


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
