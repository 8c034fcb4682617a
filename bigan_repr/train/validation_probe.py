"""Evaluation during training: a cheap k-NN and linear probe on a fixed validation split.

The split is carved from the TRAINING set (a seeded permutation: a labelled "probe train"
part and a held-out "validation" part), so checkpoints are chosen without looking at the
test set. The labels are never used for training the BiGAN itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from bigan_repr.eval.protocol import DEFAULT_PROTOCOL

from ..config import ConfigError
from ..data.folder import FolderDataset
from ..data.image_set import ImageSet
from ..nets.bigan import Encoder, JointDiscriminator, layer_features
from ..nets.encoding import encode_in_batches
from ..nets.eval_mode import eval_mode

PROBE_TRAIN, PROBE_VAL = 5000, 2000  # at most; small datasets split 70/30


@dataclass
class ValidationProbe:
    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    layer: str

    @classmethod
    def from_training_set(cls, data: ImageSet | FolderDataset, layer: str, seed: int) -> ValidationProbe | None:
        if data.labels is None:
            return None
        order = np.random.default_rng(seed).permutation(len(data))
        n_val = min(PROBE_VAL, int(0.3 * len(data)))
        n_train = min(PROBE_TRAIN, len(data) - n_val)
        val, train = order[:n_val], order[n_val : n_val + n_train]
        classes = np.unique(data.labels[train]).size
        if n_val < 1 or classes < 2:  # refused now, not at the first evaluation mid-run
            raise ConfigError(f"--eval-every needs a validation split of the training set: its {len(data)} images "
                              f"give {n_val} to validate on and {classes} class(es) to probe with")
        return cls(data.images_at(train), data.labels[train], data.images_at(val), data.labels[val], layer)

    def evaluate(self, encoder: Encoder, discriminator: JointDiscriminator, device) -> dict[str, float]:
        """Validation accuracies: 1-NN, weighted k-NN and a linear probe, by the protocol's quick variant."""
        from bigan_repr.eval import knn_eval, linear_probe

        with eval_mode(encoder, discriminator):
            features = partial(layer_features, encoder, discriminator, layer=self.layer)
            train_f = encode_in_batches(features, self.train_images, device)
            val_f = encode_in_batches(features, self.val_images, device)
        protocol = DEFAULT_PROTOCOL.quick()
        knn = knn_eval(train_f, self.train_labels, val_f, self.val_labels, k=min(protocol.k, len(train_f)))
        linear = linear_probe(train_f, self.train_labels, val_f, self.val_labels, c_grid=protocol.c_grid,
                              max_iter=protocol.max_iter)
        return {"val_nn1": knn["nn1_acc"], "val_knn": knn["knn_acc"], "val_linear": linear["acc"]}
