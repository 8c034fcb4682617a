"""Evaluation of frozen representations from numpy arrays.

Takes features already extracted by the model (or dumped to an .npz) and returns dicts of
named metrics: 1-NN and weighted k-NN (`knn`, on the search indexes of `knn_index`), linear
probe and label budgets (`linear_probe`, solved by `logreg`), k-means clustering
(`clustering`, run by `kmeans`), the whole suite (`suite`), and reports (`report`). No model
code lives here; torch serves only as the linear-algebra engine of `logreg` and `kmeans`.
"""

from eval.clustering import cluster_eval, hungarian_accuracy
from eval.knn import knn_classify, knn_eval, nn1_predict, weighted_vote
from eval.knn_index import INDEX_NAMES, parse_index
from eval.linear_probe import budget_name, label_budget_probe, linear_probe, subsample_labels
from eval.report import (
    ReportPaths,
    plot_embedding,
    render_markdown,
    render_table_text,
    write_report,
)
from eval.suite import check_eval_options, evaluate, evaluate_many
from eval.validation import EvalInputError, check_features, check_pair, load_feature_file

__all__ = [
    "INDEX_NAMES",
    "EvalInputError",
    "ReportPaths",
    "budget_name",
    "check_eval_options",
    "check_features",
    "check_pair",
    "cluster_eval",
    "evaluate",
    "evaluate_many",
    "hungarian_accuracy",
    "knn_classify",
    "knn_eval",
    "label_budget_probe",
    "linear_probe",
    "load_feature_file",
    "nn1_predict",
    "parse_index",
    "plot_embedding",
    "render_markdown",
    "render_table_text",
    "subsample_labels",
    "weighted_vote",
    "write_report",
]
