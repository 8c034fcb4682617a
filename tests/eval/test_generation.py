"""Precision and recall of generated feature vectors, classes covered, and the fixed PCA space."""

import numpy as np
import pytest
from bigan_repr.eval.generation import MIN_CLASS_SHARE, classes_covered, precision_recall, realistic
from bigan_repr.eval.pixel_reference import PixelReference, pca_basis
from bigan_repr.eval.validation import EvalInputError


def test_identical_sets_have_precision_and_recall_one():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0, "k": 3}


def test_far_apart_sets_have_precision_and_recall_zero():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) + 100.0
    pr = precision_recall(real, fake)
    assert pr["precision"] == 0.0 and pr["recall"] == 0.0


def test_a_collapsed_generator_is_precise_but_covers_half_the_data():
    rng = np.random.default_rng(0)
    modes = np.array([[0.0] * 4, [50.0] * 4])
    real = np.concatenate([m + rng.normal(size=(400, 4)) for m in modes])
    fake = modes[0] + rng.normal(size=(800, 4))  # every sample from the first mode
    pr = precision_recall(real, fake)
    assert pr["precision"] > 0.9  # k = 3 balls miss some of the tails
    assert pr["recall"] == pytest.approx(0.5, abs=0.03)


def test_precision_recall_refuses_mismatched_or_tiny_sets():
    with pytest.raises(EvalInputError):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(EvalInputError):
        precision_recall(np.zeros((3, 3)), np.zeros((10, 3)))


def test_classes_covered_counts_classes_holding_at_least_the_minimum_share():
    predicted = np.array([0] * 500 + [1] * 495 + [2] * 5)  # class 2: 0.5% of samples, class 3: none
    covered = classes_covered(predicted, [0, 1, 2, 3])
    assert MIN_CLASS_SHARE == 0.01
    assert covered["classes_covered"] == 2 and covered["n_classes"] == 4
    assert covered["class_shares"] == {"0": 0.5, "1": 0.495, "2": 0.005, "3": 0.0}
    assert classes_covered(predicted, [0, 1, 2, 3], min_share=0.005)["classes_covered"] == 3
    assert classes_covered(np.arange(10).repeat(3), range(10))["classes_covered"] == 10
    # realistic samples alone: the noise among them may be classified anywhere, it covers nothing
    realistic = np.array([True] * 500 + [False] * 495 + [True] * 5)
    covered = classes_covered(predicted, [0, 1, 2, 3], realistic_mask=realistic)
    assert covered["classes_covered"] == 2 and covered["classes_covered_realistic"] == 1


def test_realistic_samples_are_those_inside_the_real_support():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 4))
    fake = np.concatenate([real[:100] + 1e-3, real[:50] + 100.0])
    mask = realistic(real, fake)
    assert mask[:100].all() and not mask[100:].any()


def test_the_pca_space_is_fixed_by_the_data_and_finds_its_axes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5)) * np.array([10.0, 5.0, 1.0, 0.1, 0.01])
    mean, basis = pca_basis(x, dims=2)
    assert basis.shape == (5, 2)
    assert np.allclose(np.abs(basis), np.eye(5)[:, :2], atol=0.02)  # the two widest axes, widest first
    again = pca_basis(x[::-1].copy(), dims=2)  # the same rows in another order: the same space
    assert np.allclose(again[1], basis, atol=1e-6) and np.allclose(again[0], mean)
    # as many dimensions as pixels: a rotation, so distances (and precision/recall) are the pixels' own
    reference = PixelReference.fit(x, (x[:, 0] > 0).astype(int), dims=64)
    p = reference.project(x[:50])
    assert p.shape == (50, 5)
    assert np.allclose(np.linalg.norm(p[0] - p[1]), np.linalg.norm(x[0] - x[1]), rtol=1e-4)
