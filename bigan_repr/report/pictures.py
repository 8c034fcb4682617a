"""The pictures of a run's report.html, each with a caption that says what it shows.

From the run directory: samples.png, reconstructions.png and curves.png (drawn from
metrics.jsonl when missing). From the features: the embedding plot of the test split and a
nearest-neighbour grid of a few test images among the training images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bigan_repr.eval.embedding import EMBEDDINGS, MAX_POINTS, embedding_png
from bigan_repr.eval.html import Picture
from bigan_repr.eval.neighbors import nearest_neighbors, neighbor_png, pick_queries

from ..data.image_set import ImageSet
from ..runs.curves import plot_curves
from ..runs.metrics_log import METRICS_FILE, metrics_rows
from ..runs.progress import phase

N_QUERIES, N_NEIGHBORS = 8, 8
_GRIDS = {  # section -> (file in the run directory, caption)
    "samples": ("samples.png", "G(z) for fixed codes z drawn from the prior, at the end of training (64 codes; "
                               "with a categorical prior mixed:K, row k holds 8 codes of cluster k)."),
    "reconstructions": ("reconstructions.png",
                        "Top row: training images x; bottom row: their reconstructions G(E(x)), at the end of "
                        "training. Close pairs mean G uses the code E gives it."),
}


def _curves_caption(run_dir: Path) -> str:
    probed = any(row.get("kind") == "eval" for row in metrics_rows(Path(run_dir) / METRICS_FILE))  # streamed
    probe = ("validation accuracies (1-NN, k-NN, linear probe on a split of the training set, never the test set)"
             if probed else "no validation probe in this run (train with --eval-every N to add one)")
    return (f"By epoch: the losses and D's bound; reconstruction error ||x − G(E(x))|| beside its shuffled-pair "
            f"baseline; {probe}.")


def run_pictures(run_dir: str | Path) -> dict[str, Picture]:
    """The grids and learning curves the run directory holds; a missing file is named in its caption."""
    run_dir = Path(run_dir)
    pictures = {}
    for section, (name, caption) in _GRIDS.items():
        path = run_dir / name
        pictures[section] = Picture(path.read_bytes(), caption) if path.is_file() else Picture(
            None, f"{path} is missing: grids are written during training.")
    curves = run_dir / "curves.png"
    if not curves.is_file():
        plot_curves(run_dir)  # runs trained before curves.png existed; None when nothing was logged
    pictures["curves"] = (Picture(curves.read_bytes(), _curves_caption(run_dir)) if curves.is_file()
                          else Picture(None, f"{run_dir} has no metrics.jsonl rows to draw."))
    return pictures


_EMBEDDING_NOTE = {
    "tsne": "t-SNE keeps neighbourhoods, not distances: tight, separate clusters mean classes are easy to "
            "tell apart; cluster sizes and gaps carry little meaning.",
    "pca": "PCA shows the two directions of largest variance; classes may overlap here and still be separable.",
}


def embedding_picture(features: np.ndarray, test_set: ImageSet, method_label: str, method: str,
                      seed: int) -> Picture:
    n = min(len(test_set), MAX_POINTS)
    with phase(f"embedding ({EMBEDDINGS[method]} of {n} test images)"):
        png = embedding_png(features, test_set.labels, title=f"{method_label}, test split", method=method,
                            class_names=test_set.classes, seed=seed)
    names = "class names" if test_set.classes else "class labels"
    return Picture(png, f"{EMBEDDINGS[method]} of the {method_label} features of {n} test images, coloured by "
                        f"class ({names} in the legend). {_EMBEDDING_NOTE[method]}")


def neighbors_picture(train_features: np.ndarray, test_features: np.ndarray, train_set: ImageSet,
                      test_set: ImageSet, method_label: str, seed: int) -> Picture:
    with phase("nearest-neighbour grid"):
        queries = pick_queries(test_set.labels, N_QUERIES, seed)
        neighbors = nearest_neighbors(train_features, test_features[queries], N_NEIGHBORS)
        png = neighbor_png(test_set.images[queries], test_set.labels[queries], train_set.images,
                           train_set.labels, neighbors, class_names=test_set.classes,
                           title=f"nearest neighbours by {method_label} features")
    same = int((train_set.labels[neighbors] == test_set.labels[queries][:, None]).sum())
    return Picture(png, f"Each row: a test image (blue frame), then its {N_NEIGHBORS} nearest training images by "
                        f"Euclidean distance between {method_label} features, nearest first; green frame: same "
                        f"class, red: another class. {same} of the {neighbors.size} neighbours share their test "
                        "image's class.")
