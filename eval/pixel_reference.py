"""A dataset's fixed yardsticks for generated images: a feature space and a classifier that depend on
the dataset's training pixels alone, never on a run, so numbers measured with them compare across runs.

- **Feature space: PCA of the training pixels to 64 dimensions** (fewer when the images have fewer
  pixels: digits' 64 pixels are only rotated). Improved precision and recall (Kynkäänniemi et al. 2019)
  were defined on VGG-16 features; no pretrained network is available offline here, and one trained
  by this project would be one more thing that changes between versions. Raw pixels are fixed too, but
  their distances also sum the hundreds of low-variance directions that mostly hold pixel noise; the top
  64 principal directions keep the shapes (88% of Fashion-MNIST's training-pixel variance, measured) and
  cost a 64-d search instead of a 784-d one. The eigenvectors of the training pixels'
  covariance are deterministic: no seed is needed, and each one's sign is fixed (largest entry positive).
- **Classifier: weighted k-NN on the raw training pixels** (the evaluation's k-NN: cosine, k = 20,
  T = 0.07), fit on the labelled training split. Applied to x it gives the ceiling of ``class_kept``;
  applied to G(E(x)) and to G(z) it says what class a generated image looks like.

Pixels are floats in [0, 1], one row per image (as ``raw_pixels`` makes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .knn import weighted_knn_predict
from .validation import EvalInputError, check_features

PCA_DIMS = 64
_BLOCK = 8192  # rows per block of the covariance sum: memory stays at a block of float64 pixels


def pca_basis(pixels: np.ndarray, dims: int = PCA_DIMS) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), basis (d, min(dims, d))): the top principal directions of ``pixels``, largest first."""
    x, _ = check_features(pixels, name="training pixels")
    mean = x.mean(axis=0, dtype=np.float64)
    cov = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), _BLOCK):
        block = x[start : start + _BLOCK].astype(np.float64) - mean
        cov += block.T @ block
    values, vectors = np.linalg.eigh(cov)  # ascending
    basis = vectors[:, ::-1][:, : min(dims, x.shape[1])]
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return mean, basis * signs


@dataclass(frozen=True)
class PixelReference:
    """The PCA space and the k-NN classifier of one dataset's training pixels."""

    train_pixels: np.ndarray  # (N, d) float32 in [0, 1]
    train_labels: np.ndarray  # (N,)
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, dims)

    @classmethod
    def fit(cls, train_pixels, train_labels, dims: int = PCA_DIMS) -> PixelReference:
        x, y = check_features(train_pixels, train_labels, name="training pixels", require_labels=True)
        if np.unique(y).size < 2:
            raise EvalInputError("the reference classifier needs at least 2 classes in the training labels")
        return cls(x, y, *pca_basis(x, dims))

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.train_labels)

    def project(self, pixels) -> np.ndarray:
        """(N, dims) float32: pixels in the dataset's PCA space."""
        x, _ = check_features(pixels, name="pixels")
        return ((x - self.mean) @ self.basis).astype(np.float32)

    def classify(self, pixels) -> np.ndarray:
        """The label the raw-pixel k-NN classifier gives each row."""
        return weighted_knn_predict(self.train_pixels, self.train_labels, pixels)
