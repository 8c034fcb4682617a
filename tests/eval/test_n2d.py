"""N2D's protocol: UMAP then a Gaussian mixture, scored like k-means; skipped plainly without umap-learn."""

import builtins

import numpy as np
import pytest
from bigan_repr.eval import n2d
from bigan_repr.eval.n2d import N2DUnavailable, n2d_eval
from sklearn.datasets import make_blobs


def test_well_separated_blobs_are_recovered_on_every_seed():
    pytest.importorskip("umap")
    x, y = make_blobs(n_samples=400, centers=4, n_features=16, cluster_std=1.0, random_state=0)
    result = n2d_eval(x, y, seeds=(0, 1))
    assert result["accs"] == [1.0, 1.0] and result["ari"] == pytest.approx(1.0)
    assert result["k"] == 4 and result["seconds"] > 0


def test_without_umap_learn_it_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(N2DUnavailable, match=r"umap-learn: pip install -e \".\[cluster\]\""):
        n2d.umap_gmm_clusters(np.zeros((20, 4)), 2, 0)
