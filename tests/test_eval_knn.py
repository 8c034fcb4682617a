"""Behaviour of eval.knn: accuracy on easy/hard data, agreement with sklearn, input errors."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from eval import EvalInputError, knn_classify, knn_eval
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
