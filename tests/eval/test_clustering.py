"""Behaviour of eval.clustering: Hungarian accuracy and k-means on easy/hard data."""

import numpy as np
import pytest
from bigan_repr.eval import EvalInputError, cluster_eval, hungarian_accuracy
from bigan_repr.eval.kmeans import kmeans, kmeans_runs
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs


def test_hungarian_accuracy_is_one_for_a_relabelled_perfect_clustering():
    y_true = np.repeat(np.arange(5), 20)
    relabel = np.array([3, 0, 4, 1, 2])
    assert hungarian_accuracy(y_true, relabel[y_true]) == 1.0


def test_hungarian_accuracy_is_invariant_to_cluster_ids():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 6, size=300)
    # A partly right clustering: 30% of points moved to a random cluster.
    y_pred = np.where(rng.random(300) < 0.3, rng.integers(0, 6, size=300), y_true)
    base = hungarian_accuracy(y_true, y_pred)
    assert 0.6 < base < 1.0
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(6)
        assert hungarian_accuracy(y_true, perm[y_pred]) == pytest.approx(base)
    # Arbitrary (non-contiguous) cluster ids too.
    assert hungarian_accuracy(y_true, y_pred * 17 + 1000) == pytest.approx(base)


def test_hungarian_accuracy_with_more_clusters_than_classes():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    y_pred = np.array([0, 0, 2, 2, 1, 1, 1, 1])  # class 0 split in two clusters
    # Only one of the two halves can be matched to class 0.
    assert hungarian_accuracy(y_true, y_pred) == pytest.approx(6 / 8)


def test_hungarian_accuracy_with_fewer_clusters_than_classes():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 0, 1, 1])
    assert hungarian_accuracy(y_true, y_pred) == pytest.approx(4 / 6)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_ten_separated_blobs_are_recovered_exactly(seed):
    # The easy-problem guarantee of eval/clustering.py. faiss's random init + 256
    # points/centroid gave ARI 0.78-1.0 here (e.g. 0.868 on seeds 3, 4, 5 and 7 with
    # nredo=10); k-means++ seeding must give 1.0.
    x, y = make_blobs(n_samples=500, centers=10, n_features=32, random_state=seed)
    result = cluster_eval(x, y, seed=seed)
    assert result["ari"] == pytest.approx(1.0)
    assert result["nmi"] == pytest.approx(1.0)
    assert result["acc"] == 1.0
    assert result["k"] == 10


def test_structureless_data_gives_low_scores():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16))
    y = rng.integers(0, 10, size=400)
    result = cluster_eval(x, y, restarts=3)
    assert result["acc"] < 0.25
    assert abs(result["ari"]) < 0.05


def test_more_restarts_never_increase_the_objective():
    x, y = make_blobs(n_samples=300, centers=8, n_features=8, cluster_std=3.0, random_state=0)
    one = cluster_eval(x, y, restarts=1, seed=0)
    many = cluster_eval(x, y, restarts=6, seed=0)
    # Restart 0 is shared, and the best of several is kept (to float32 rounding: the restarts run
    # batched, and a batch of 6 sums in another order than a batch of 1)
    assert many["inertia"] <= one["inertia"] * (1 + 1e-6)


def test_seeds_report_the_mean_and_std_of_the_per_seed_runs():
    # Every seed's restarts run in one batch; each seed's result must be the run it would give alone.
    x, y = make_blobs(n_samples=600, centers=6, n_features=10, cluster_std=4.0, random_state=3)
    together = cluster_eval(x, y, seeds=(0, 1, 2, 5), restarts=3)
    alone = [cluster_eval(x, y, seed=s, restarts=3) for s in (0, 1, 2, 5)]
    assert together["seeds"] == [0, 1, 2, 5]
    for name in ("acc", "nmi", "ari"):
        per_seed = [run[name] for run in alone]
        assert together[f"{name}s"] == pytest.approx(per_seed, abs=1e-6)
        assert together[name] == pytest.approx(np.mean(per_seed), abs=1e-6)
        assert together[f"{name}_std"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-6)
    assert together["inertias"] == pytest.approx([run["inertia"] for run in alone], rel=1e-5)
    assert together["acc_std"] > 0  # overlapping blobs: the seeds land in different optima


def test_one_seed_has_no_spread():
    x, y = make_blobs(n_samples=200, centers=4, n_features=8, random_state=0)
    result = cluster_eval(x, y, seeds=[7], restarts=2)
    assert result["accs"] == [result["acc"]] and result["acc_std"] == 0.0
    assert result == cluster_eval(x, y, seed=7, restarts=2)


@pytest.mark.parametrize("seeds", [(), [-1], [0.5], "0", [True]])
def test_bad_seeds_are_rejected(seeds):
    x, y = make_blobs(n_samples=50, centers=2, n_features=3, random_state=0)
    with pytest.raises(EvalInputError, match="seeds"):
        cluster_eval(x, y, seeds=seeds)


def test_explicit_number_of_clusters_is_used():
    x, y = make_blobs(n_samples=200, centers=4, n_features=8, random_state=0)
    result = cluster_eval(x, y, n_clusters=8, restarts=2)
    assert result["k"] == 8
    # 8 clusters for 4 blobs split blobs; only 4 clusters can be matched to classes,
    # so accuracy drops well below 1 while NMI stays high (the split is clean).
    assert result["acc"] < 0.9
    assert result["nmi"] > 0.7


def test_too_many_clusters_is_rejected():
    x, y = make_blobs(n_samples=5, centers=2, n_features=3, random_state=0)
    with pytest.raises(EvalInputError, match="k=6 for 5 points"):
        cluster_eval(x, y, n_clusters=6)


def test_a_single_class_is_rejected():
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(EvalInputError, match="k=1"):
        cluster_eval(x, np.zeros(20, dtype=int))


# --- the k-means algorithm ---------------------------------------------------------------


def _overlapping_blobs():
    x, y = make_blobs(n_samples=1500, centers=8, n_features=16, cluster_std=4.0, random_state=2)
    return x.astype(np.float32), y


def test_early_stop_reaches_the_inertia_of_a_long_run():
    x, _ = _overlapping_blobs()
    early = kmeans(x, 8, range(4))
    # tol=0: stop only when no point moves (or the inertia stops falling).
    full = kmeans(x, 8, range(4), tol=0.0, max_iter=1000)
    assert early["inertia"] == pytest.approx(full["inertia"], rel=1e-3)
    assert early["n_iter"] <= full["n_iter"]
    assert full["n_iter"] > 2  # overlapping blobs need several iterations: the test means something


def test_inertia_is_no_worse_than_scikit_learn_with_the_same_restarts():
    x, y = _overlapping_blobs()
    ours = cluster_eval(x, y, restarts=4, seed=0)
    reference = KMeans(n_clusters=8, n_init=4, init="k-means++", random_state=0).fit(x)
    assert ours["inertia"] <= reference.inertia_ * 1.001
    # The reported inertia is that of the returned clustering.
    assign = kmeans(x, 8, range(4))["assign"]
    centroids = np.stack([x[assign == c].mean(axis=0) for c in range(8)])
    assert ((x - centroids[assign]) ** 2).sum() <= ours["inertia"] * (1 + 1e-4)


def test_kmeans_is_deterministic_and_restarts_are_independent():
    x, _ = _overlapping_blobs()
    a, b = kmeans(x, 8, [5, 6, 7]), kmeans(x, 8, [5, 6, 7])
    np.testing.assert_array_equal(a["assign"], b["assign"])
    assert a["inertias"] == b["inertias"]
    # A restart's result depends on its own seed only, not on the others run beside it.
    assert kmeans(x, 8, [6])["inertias"][0] == pytest.approx(a["inertias"][1], rel=1e-6)


def test_groups_run_together_equal_separate_runs():
    x, _ = _overlapping_blobs()
    groups = [[0, 1, 2], [3, 4], [9]]
    together = kmeans_runs(x, 8, groups)
    for group, run in zip(groups, together, strict=True):
        alone = kmeans(x, 8, group)
        assert run["inertias"] == pytest.approx(alone["inertias"], rel=1e-5)
        assert run["inertia"] == pytest.approx(alone["inertia"], rel=1e-5)
        assert np.mean(run["assign"] == alone["assign"]) > 0.999


def test_more_clusters_than_distinct_points_leaves_no_nan():
    x = np.repeat(np.eye(3, 4, dtype=np.float32), 10, axis=0)  # 30 points, 3 distinct
    result = kmeans(x, 5, range(3))
    assert np.isfinite(result["inertia"]) and result["inertia"] == pytest.approx(0.0, abs=1e-5)
    assert len(np.unique(result["assign"])) == 3


@pytest.mark.parametrize("kw", [{"max_iter": 0}, {"tol": -1.0}, {"tol": float("nan")}])
def test_bad_iteration_limits_are_rejected(kw):
    x, y = make_blobs(n_samples=50, centers=2, n_features=3, random_state=0)
    with pytest.raises(EvalInputError, match="max_iter >= 1 and tol >= 0"):
        cluster_eval(x, y, **kw)
