"""Behaviour of eval.knn: accuracy on easy/hard data, agreement with sklearn, input errors."""

import numpy as np
import pytest
from bigan_repr.eval import EvalInputError, knn_classify, knn_eval, parse_index
from bigan_repr.eval.knn_index import AUTO_FLAT_MAX, IndexSpec, NeighbourIndex, resolve_index
from sklearn.neighbors import KNeighborsClassifier

from tests.conftest import blobs


def test_separated_blobs_are_classified_perfectly():
    train_x, train_y, test_x, test_y = blobs()
    result = knn_eval(train_x, train_y, test_x, test_y, k=20)
    assert result["nn1_acc"] == pytest.approx(1.0)
    assert result["knn_acc"] == pytest.approx(1.0)
    assert result["k"] == 20


def test_shuffled_labels_give_chance_accuracy():
    # Both splits shuffled: a label is then independent of its point, for every point.
    train_x, train_y, test_x, test_y = blobs()
    rng = np.random.default_rng(0)
    result = knn_eval(train_x, rng.permutation(train_y), test_x, rng.permutation(test_y))
    assert result["nn1_acc"] < 0.25
    assert result["knn_acc"] < 0.25


def test_weighted_knn_with_k1_equals_nn1_on_unit_norm_data():
    # On unit vectors |a-b|^2 = 2 - 2 cos(a, b): the Euclidean nearest neighbour is the
    # cosine nearest neighbour, so weighted k-NN with k=1 predicts exactly the 1-NN label.
    rng = np.random.default_rng(1)
    train_x = rng.normal(size=(200, 16))
    train_x /= np.linalg.norm(train_x, axis=1, keepdims=True)
    test_x = rng.normal(size=(100, 16))
    test_x /= np.linalg.norm(test_x, axis=1, keepdims=True)
    train_y = rng.integers(0, 5, size=200)
    preds = knn_classify(train_x, train_y, test_x, k=1)
    np.testing.assert_array_equal(preds["knn_pred"], preds["nn1_pred"])


def test_nn1_matches_sklearn_brute_force():
    rng = np.random.default_rng(2)
    train_x, test_x = rng.normal(size=(300, 20)), rng.normal(size=(150, 20))
    train_y = rng.integers(0, 4, size=300)
    reference = KNeighborsClassifier(n_neighbors=1, algorithm="brute").fit(train_x, train_y)
    preds = knn_classify(train_x, train_y, test_x, k=5, batch_size=64)
    np.testing.assert_array_equal(preds["nn1_pred"], reference.predict(test_x))


@pytest.mark.parametrize("threads", [1, 2])
def test_exact_search_shares_one_gemm_and_matches_faiss_flat(threads):
    # Both protocols come from one matrix of dot products; each must equal faiss's own flat index.
    import torch
    from bigan_repr.eval.knn import _exact_search

    rng = np.random.default_rng(4)
    train_x = (rng.normal(size=(3000, 40)) * rng.uniform(0.5, 3, size=(3000, 1))).astype(np.float32)
    test_x = rng.normal(size=(700, 40)).astype(np.float32)
    train_x[7] = 0.0  # an all-zero vector: similarity 0 to everything, no NaN
    caller = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        nearest, sims, ids = _exact_search(train_x, test_x, 10, batch_size=128)
    finally:
        torch.set_num_threads(caller)
    _, l2_ids = NeighbourIndex(train_x, "l2", IndexSpec("flat")).search(test_x, 1)
    cos_sims, cos_ids = NeighbourIndex(train_x, "cosine", IndexSpec("flat")).search(test_x, 10)
    np.testing.assert_array_equal(nearest, l2_ids[:, 0])
    np.testing.assert_allclose(sims, cos_sims, atol=1e-5)
    assert np.mean(ids == cos_ids) > 0.999  # near-ties may swap places, nothing else
    assert np.isfinite(sims).all()


def test_weighted_votes_sum_over_neighbours():
    # Query sits near two class-1 points and slightly nearer one class-0 point: 1-NN says 0,
    # but two class-1 votes of nearly equal weight outvote one class-0 vote.
    train_x = np.array([[1.0, 0.0], [0.995, 0.1], [0.995, -0.1], [-1.0, 0.0]])
    train_y = np.array([0, 1, 1, 2])
    test_x = np.array([[1.0, 0.001]])
    preds = knn_classify(train_x, train_y, test_x, k=3)
    assert preds["nn1_pred"][0] == 0
    assert preds["knn_pred"][0] == 1


def test_non_contiguous_labels_are_returned_as_given():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    labels = np.array([7, 42, 1000])
    result = knn_classify(train_x, labels[train_y], test_x, k=5)
    np.testing.assert_array_equal(result["knn_pred"], labels[test_y])


def test_k_larger_than_training_set_is_rejected():
    train_x, train_y, test_x, test_y = blobs(n_train=15, n_test=5, n_classes=3)
    with pytest.raises(EvalInputError, match=r"k=20.*\(15\)"):
        knn_eval(train_x, train_y, test_x, test_y, k=20)


def test_single_training_class_is_rejected():
    train_x, _, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="at least 2"):
        knn_eval(train_x, np.zeros(len(train_x), dtype=int), test_x, test_y)


def test_mismatched_label_count_is_rejected():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match=f"labels count {len(train_y) - 1}"):
        knn_eval(train_x, train_y[:-1], test_x, test_y)


def test_nan_rows_are_reported_with_count_and_first_index():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    train_x = train_x.copy()
    train_x[[5, 9], 0] = np.nan
    with pytest.raises(EvalInputError, match=r"2 of 300 rows.*first bad row index: 5"):
        knn_eval(train_x, train_y, test_x, test_y)


def test_feature_dims_must_agree():
    train_x, train_y, test_x, test_y = blobs(n_classes=3)
    with pytest.raises(EvalInputError, match="train has dim 32, test has dim 31"):
        knn_eval(train_x, train_y, test_x[:, :31], test_y)


# --- approximate indexes --------------------------------------------------------------


def _clustered(n=6000, n_queries=300, dim=24, sites=60, seed=0):
    """Low-dimensional clusters with labels: easy for an approximate index to search."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(sites, dim))
    bases = rng.normal(size=(sites, 4, dim)) / np.sqrt(dim)
    site = rng.integers(0, sites, size=n + n_queries)
    x = centres[site] + np.einsum("ni,nid->nd", rng.normal(size=(site.size, 4)), bases[site])
    x += rng.normal(scale=0.05, size=x.shape)
    y = site % 6
    return x[:n].astype(np.float32), y[:n], x[n:].astype(np.float32), y[n:]


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_approximate_index_finds_the_exact_neighbours(index, metric):
    train_x, _, test_x, _ = _clustered()
    exact_scores, exact_ids = NeighbourIndex(train_x, metric, IndexSpec("flat")).search(test_x, 10)
    scores, ids = NeighbourIndex(train_x, metric, resolve_index(index, len(train_x), 10)).search(test_x, 10)
    recall = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(ids, exact_ids, strict=True)])
    assert recall >= 0.95
    # Scores mean the same thing for every index: distances ascending, similarities descending.
    order = np.diff(scores, axis=1)
    assert (order >= -1e-5).all() if metric == "l2" else (order <= 1e-5).all()
    found = ids[:, 0] == exact_ids[:, 0]
    np.testing.assert_allclose(scores[found, 0], exact_scores[found, 0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_knn_accuracy_with_an_approximate_index_is_close_to_exact(index):
    train_x, train_y, test_x, test_y = _clustered()
    exact = knn_eval(train_x, train_y, test_x, test_y, index="flat")
    approx = knn_eval(train_x, train_y, test_x, test_y, index=index)
    assert approx["index"].startswith(index + ":")
    assert abs(approx["nn1_acc"] - exact["nn1_acc"]) <= 0.02
    assert abs(approx["knn_acc"] - exact["knn_acc"]) <= 0.02


def test_ivf_searching_every_list_is_exact_for_both_protocols():
    # nprobe = nlist scans the whole database: predictions must equal exact search's.
    rng = np.random.default_rng(3)
    train_x, test_x = rng.normal(size=(800, 12)), rng.normal(size=(200, 12))
    train_y = rng.integers(0, 5, size=800)
    exact = knn_classify(train_x, train_y, test_x, k=10, index="flat")
    every_list = knn_classify(train_x, train_y, test_x, k=10, index="ivf:nlist=16,nprobe=16")
    assert every_list["index"] == "ivf:nlist=16,nprobe=16"
    np.testing.assert_array_equal(every_list["nn1_pred"], exact["nn1_pred"])
    np.testing.assert_array_equal(every_list["knn_pred"], exact["knn_pred"])


def test_auto_is_exact_up_to_its_threshold_and_ivf_above():
    assert resolve_index("auto", AUTO_FLAT_MAX, 20) == IndexSpec("flat")
    spec = resolve_index("auto", 1_000_000, 20)
    assert str(spec) == "ivf:nlist=1000,nprobe=31"
    assert str(resolve_index("hnsw:m=8", 1_000_000, 20)) == "hnsw:m=8,ef_construction=80,ef_search=159"
    # A given parameter wins; nprobe never exceeds nlist.
    assert str(resolve_index("ivf:nlist=50,nprobe=80", 1_000_000, 20)) == "ivf:nlist=50,nprobe=50"
    assert knn_eval(*blobs(), index="auto")["index"] == "flat"


@pytest.mark.parametrize("text, message", [
    ("annoy", r"unknown k-NN index 'annoy'; valid: auto, flat, ivf, hnsw"),
    ("ivf:m=4", r"'ivf' has no parameter 'm'; valid: nlist, nprobe"),
    ("flat:nprobe=4", r"'flat' has no parameter 'nprobe'; valid: none"),
    ("hnsw:ef_search=0", r"ef_search must be an integer from 1 to 1048576, got '0'"),
    ("ivf:nprobe=ten", r"nprobe must be an integer from 1 to 16777216, got 'ten'"),
    ("ivf:nlist=\u00b2", r"nlist must be an integer from 1 to 16777216, got '\u00b2'"),  # isdigit() says yes
    ("ivf:nlist=100000000000000000000", r"nlist must be an integer from 1 to 16777216, got '10000000000000000000'"),
    ("ivf:nlist=1e20", r"nlist must be an integer from 1 to 16777216, got '1e20'"),
    ("hnsw:m=100000", r"m must be an integer from 1 to 256, got '100000'"),
])
def test_bad_index_names_are_refused_with_the_valid_list(text, message):
    with pytest.raises(EvalInputError, match=message):
        parse_index(text)
    with pytest.raises(EvalInputError, match=message):
        knn_eval(*blobs(), index=text)


def test_more_ivf_lists_than_database_vectors_is_refused_in_one_line():
    train_x, train_y, test_x, test_y = blobs()
    with pytest.raises(EvalInputError, match=r"nlist=301 lists for 300 database vectors; .* at most 300$"):
        knn_eval(train_x, train_y, test_x, test_y, index="ivf:nlist=301")
    assert knn_eval(train_x, train_y, test_x, test_y, index="ivf:nlist=300")["index"].startswith("ivf:nlist=300")


def test_features_whose_squared_distances_overflow_float32_are_refused_naming_the_set():
    """Around 1e20, squared distances overflow float32 and 1-NN silently fell from 96% to 10%: refused,
    naming the feature set, its largest magnitude and the bound; at the bound the results are exact."""
    train_x, train_y, test_x, test_y = blobs()
    with pytest.raises(EvalInputError, match=r"^test features: largest magnitude 1\.\d+e\+21 is beyond 1e\+15"):
        knn_eval(train_x, train_y, test_x * 1e20, test_y)
    with pytest.raises(EvalInputError, match=r"^train features: largest magnitude 1\.\d+e\+300 is beyond"):
        knn_eval(train_x * 1e299, train_y, test_x, test_y)  # finite in float64: refused before the float32 cast
    scale = 1e15 / max(np.abs(train_x).max(), np.abs(test_x).max())
    assert knn_eval(train_x * scale, train_y, test_x * scale, test_y) == knn_eval(train_x, train_y, test_x, test_y)
