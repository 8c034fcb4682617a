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


def _blob_features(tmp_path):
    x, y = make_blobs(n_samples=200, centers=4, n_features=8, cluster_std=1.0, random_state=0)
    np.savez(tmp_path / "f.npz", features=x, labels=y)
    return tmp_path / "f.npz"


def test_the_protocol_adds_an_n2d_column_only_when_asked(tmp_path):
    pytest.importorskip("umap")
    import json

    from bigan_repr.eval.report import columns_for
    from click.testing import CliRunner

    from bigan_repr.cli import main

    f = _blob_features(tmp_path)
    args = ["eval", "--train", str(f), "--test", str(f), "--budgets", "", "--seeds", "2", "--json"]
    plain = json.loads(CliRunner().invoke(main, args).stdout)
    asked = json.loads(CliRunner().invoke(main, [*args, "--n2d"]).stdout)
    (row,), (with_n2d,) = plain.values(), asked.values()
    assert not any(key.startswith("n2d") for key in row)
    assert with_n2d["n2d_accs"] == [1.0, 1.0] and with_n2d["n2d_seconds"] > 0 and with_n2d["n2d_seeds"] == [0, 1]
    heads = {name: [c.head for c in columns_for(list(table.values()))] for name, table in (("plain", plain),
                                                                                       ("asked", asked))}
    assert "N2D" in heads["asked"] and "N2D" not in heads["plain"]


def test_n2d_asked_without_umap_learn_is_one_note_and_no_column(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from bigan_repr.cli import main

    monkeypatch.setattr(n2d, "n2d_available", lambda: False)
    f = _blob_features(tmp_path)
    result = CliRunner().invoke(main, ["eval", "--train", str(f), "--test", str(f), "--budgets", "", "--n2d", "--json"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert result.stderr.count("N2D column is skipped: it needs umap-learn") == 1
    (row,) = json.loads(result.stdout).values()
    assert not any(key.startswith("n2d") for key in row)
