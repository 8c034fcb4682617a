"""The 2-D embedding plot of a feature set: t-SNE of a subsample (default) or PCA (fast).

Points are coloured by class, and the legend names the classes where the dataset has names.
Returns a matplotlib Figure (inspectable) or PNG bytes; writing files is the caller's job.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .figures import figure_png, new_figure
from .validation import EvalInputError, check_features

EMBEDDINGS = {"tsne": "t-SNE", "pca": "PCA"}  # method name -> how titles spell it
DEFAULT_EMBEDDING = "tsne"
# t-SNE's cost grows faster than N; 2,000 points take seconds and still show the class structure.
MAX_POINTS = 2000


def check_method(method: str) -> str:
    if method not in EMBEDDINGS:
        raise EvalInputError(f"embedding method {method!r} is not valid; choose one of: {', '.join(EMBEDDINGS)}")
    return method


def embed_2d(x: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """(N, d) features -> (N, 2) coordinates."""
    if check_method(method) == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (x.shape[0] - 1) / 3)  # t-SNE needs perplexity < N
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(x)


def _subsample(x: np.ndarray, y: np.ndarray, max_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if x.shape[0] <= max_points:
        return x, y
    keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], max_points, replace=False))
    return x[keep], y[keep]


def _class_name(label: int, class_names: list[str] | None) -> str:
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return str(label)


def embedding_figure(
    features,
    labels,
    *,
    title: str,
    class_names: list[str] | None = None,
    method: str = DEFAULT_EMBEDDING,
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> Figure:
    """A scatter of the features' 2-D embedding, one colour per class, titled once.

    ``class_names[label]`` names each class in the legend; labels without a name show as numbers.
    """
    check_method(method)
    x, y = check_features(features, labels, name="embedding features", require_labels=True)
    n_all = x.shape[0]
    x, y = _subsample(x, y, max_points, seed)
    xy = embed_2d(x, method, seed)
    fig = new_figure((5.6, 4.6))
    ax = fig.add_subplot()
    classes = np.unique(y)
    cmap = matplotlib.colormaps["tab10" if classes.size <= 10 else "tab20"]
    for i, cls in enumerate(classes):
        mask = y == cls
        ax.scatter(xy[mask, 0], xy[mask, 1], s=6, color=cmap(i % cmap.N), label=_class_name(int(cls), class_names))
    if classes.size <= 20:
        ax.legend(markerscale=2.5, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    shown = f"{x.shape[0]:,} of {n_all:,}" if x.shape[0] < n_all else f"{n_all:,}"
    ax.set_title(f"{title}: {EMBEDDINGS[method]} of {shown} points", fontsize="medium")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def embedding_png(features, labels, **kwargs) -> bytes:
    """`embedding_figure` as PNG bytes."""
    return figure_png(embedding_figure(features, labels, **kwargs))
