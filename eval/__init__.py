"""eval/: evaluation of frozen representations from numpy arrays (installed as ``bigan_repr.eval``).

Takes features already extracted by the model (or dumped to a feature file) and returns dicts of
named metrics: 1-NN and weighted k-NN (`knn`, on the search indexes of `knn_index`), linear
probe and label budgets (`linear_probe`, solved by `logreg`), k-means clustering (`clustering`,
run by `kmeans`), the whole suite (`suite`). Presentation returns strings and PNG bytes: tables
and report.json (`report`), the embedding plot (`embedding`), nearest-neighbour grids
(`neighbors`), HTML pages (`html`) and run comparison (`compare`). No model code and no file
writing lives here; torch serves only as the linear-algebra engine of `logreg` and `kmeans`.

May import: nothing of the package; everything above may import it.
"""

from .clustering import cluster_eval, hungarian_accuracy
from .embedding import EMBEDDINGS, embedding_figure, embedding_png
from .knn import knn_classify, knn_eval, nn1_predict, weighted_vote
from .knn_index import INDEX_NAMES, parse_index
from .linear_probe import budget_name, label_budget_probe, linear_probe, subsample_labels
from .neighbors import nearest_neighbors, neighbor_figure, neighbor_png, neighbor_search, pick_queries
from .protocol import DEFAULT_PROTOCOL, EvalProtocol
from .report import render_markdown, render_table_text, report_json, report_payload
from .suite import evaluate, evaluate_many
from .validation import EvalInputError, check_features, check_pair, integer_labels

__all__ = [
    "EMBEDDINGS",
    "INDEX_NAMES",
    "EvalInputError",
    "DEFAULT_PROTOCOL",
    "EvalProtocol",
    "budget_name",
    "check_features",
    "check_pair",
    "cluster_eval",
    "embedding_figure",
    "embedding_png",
    "evaluate",
    "evaluate_many",
    "hungarian_accuracy",
    "integer_labels",
    "knn_classify",
    "knn_eval",
    "label_budget_probe",
    "linear_probe",
    "nearest_neighbors",
    "neighbor_figure",
    "neighbor_png",
    "neighbor_search",
    "nn1_predict",
    "parse_index",
    "pick_queries",
    "render_markdown",
    "render_table_text",
    "report_json",
    "report_payload",
    "subsample_labels",
    "weighted_vote",
]
