"""Nearest neighbours in feature space, shown as an image grid.

Each row is a query image followed by its nearest training images (Euclidean search, the 1-NN
protocol's metric, exact unless another index of eval.knn_index is named); a neighbour framed green shares the query's
class, red does not (grey: the query has no label, as in retrieval of arbitrary image files).
Images are uint8 (N, C, H, W) arrays as the data sources give them.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .figures import figure_png, new_figure
from .knn_index import DEFAULT_INDEX, NeighbourIndex, resolve_index
from .validation import EvalInputError, check_features, check_pair

_FRAME = 3  # pixels of coloured frame around every tile
_GAP = 10  # pixels between the query column and its neighbours
_MIN_TILE = 48  # tiles are enlarged by an integer factor to at least this many pixels
_QUERY, _SAME, _OTHER, _BACKGROUND = (70, 110, 200), (40, 160, 60), (210, 50, 40), (255, 255, 255)
_UNKNOWN = (150, 150, 150)  # a neighbour of a query without a label


def neighbor_search(train_x, query_x, k: int, index: str = DEFAULT_INDEX) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices (Q, k) of each query's k nearest training features, nearest first.

    `index` names the search index (eval.knn_index); "auto" is exact search up to its size limit.
    """
    train_x, _ = check_features(train_x, name="train features")
    query_x, _ = check_features(query_x, name="query features")
    check_pair(train_x, query_x)
    if not 1 <= k <= train_x.shape[0]:
        raise EvalInputError(f"k={k} must be between 1 and the number of training points ({train_x.shape[0]})")
    squared, indices = NeighbourIndex(train_x, "l2", resolve_index(index, train_x.shape[0], k)).search(query_x, k)
    return np.sqrt(np.maximum(squared, 0)), indices  # faiss gives squared distances, rounding may dip below 0


def nearest_neighbors(train_x, query_x, k: int) -> np.ndarray:
    """Indices (Q, k) of each query's k nearest training features, nearest first."""
    return neighbor_search(train_x, query_x, k)[1]


def pick_queries(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` query images, one per class in turn (seeded), so the grid shows the classes."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in np.unique(labels)]
    picked = []
    while len(picked) < min(n, len(labels)):
        for members in per_class:
            if members and len(picked) < n:
                picked.append(members.pop())
    return np.array(picked, dtype=np.int64)


def _tile(image: np.ndarray, scale: int, colour: tuple[int, int, int]) -> np.ndarray:
    """uint8 (C, H, W) -> RGB (H*scale + 2*frame, W*scale + 2*frame, 3), enlarged and framed."""
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image[:3]
    big = rgb.transpose(1, 2, 0).repeat(scale, axis=0).repeat(scale, axis=1)
    tile = np.empty((big.shape[0] + 2 * _FRAME, big.shape[1] + 2 * _FRAME, 3), dtype=np.uint8)
    tile[:] = colour
    tile[_FRAME:-_FRAME, _FRAME:-_FRAME] = big
    return tile


def neighbor_mosaic(query_images, neighbor_images, same_class=None) -> np.ndarray:
    """uint8 RGB (H, W, 3): per row the query, a gap, then its neighbours framed by ``same_class``.

    ``query_images`` (Q, C, H, W), ``neighbor_images`` (Q, k, C, H, W), ``same_class`` bool (Q, k),
    or None when the queries have no labels (neighbours framed grey).
    """
    q = neighbor_images.shape[0]
    scale = max(1, -(-_MIN_TILE // max(query_images.shape[2:])))
    rows = []
    for i in range(q):
        colours = [_UNKNOWN] * neighbor_images.shape[1] if same_class is None else [
            _SAME if same else _OTHER for same in same_class[i]]
        tiles = [_tile(img, scale, colour) for img, colour in zip(neighbor_images[i], colours, strict=True)]
        query = _tile(query_images[i], scale, _QUERY)
        gap = np.full((query.shape[0], _GAP, 3), _BACKGROUND, dtype=np.uint8)
        rows.append(np.concatenate([query, gap, *tiles], axis=1))
    spacer = np.full((_FRAME * 2, rows[0].shape[1], 3), _BACKGROUND, dtype=np.uint8)
    return np.concatenate([part for row in rows for part in (row, spacer)][:-1], axis=0)


def neighbor_figure(query_images, query_labels, train_images, train_labels, neighbors,
                    class_names: list[str] | None = None, title: str = "",
                    row_names: list[str] | None = None) -> Figure:
    """The grid with each row named by its query's class (or ``row_names``); one mosaic pixel is one
    screen pixel at 100 dpi. Without query labels the neighbours are framed grey."""
    neighbors = np.asarray(neighbors)
    labelled = query_labels is not None and train_labels is not None
    same = train_labels[neighbors] == np.asarray(query_labels)[:, None] if labelled else None
    mosaic = neighbor_mosaic(np.asarray(query_images), train_images[neighbors], same)
    h, w = mosaic.shape[:2]
    left, top, bottom = 1.3, 0.45 if title else 0.1, 0.35  # inches for row names, title, column names
    fig = new_figure((w / 100 + left + 0.1, h / 100 + top + bottom))
    ax = fig.add_axes((left / fig.get_figwidth(), bottom / fig.get_figheight(),
                       w / 100 / fig.get_figwidth(), h / 100 / fig.get_figheight()))
    ax.imshow(mosaic, interpolation="nearest")
    row_h = h / len(neighbors)
    names = row_names or [class_names[y] if class_names and 0 <= y < len(class_names) else str(y)
                          for y in map(int, query_labels)]
    ax.set_yticks([row_h * (i + 0.5) for i in range(len(names))], names)
    ax.set_xticks([])
    ax.tick_params(length=0)
    legend = ("blue: test image; green: same class; red: another class" if labelled
              else "blue: query image; then its nearest training images, nearest first")
    ax.text(0, h + 4, legend, va="top", fontsize="small")
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def neighbor_png(*args, **kwargs) -> bytes:
    """`neighbor_figure` as PNG bytes."""
    return figure_png(neighbor_figure(*args, **kwargs))
