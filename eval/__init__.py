"""Evaluation of frozen representations from numpy arrays.

Takes features already extracted by the model (or dumped to an .npz) and returns dicts of
named metrics: 1-NN and weighted k-NN (`knn`), linear probe and label budgets
(`linear_probe`), k-means clustering (`clustering`), the whole suite (`suite`), and
reports (`report`). No torch and no model code lives here.
"""

from eval.clustering import cluster_eval, hungarian_accuracy
from eval.knn import knn_classify, knn_eval, nn1_predict
from eval.linear_probe import budget_name, label_budget_probe, linear_probe, subsample_labels
from eval.report import (
    ReportPaths,
    plot_embedding,
    render_markdown,
    render_table_text,
    write_report,
)
from eval.suite import evaluate, evaluate_many
from eval.validation import EvalInputError, check_features, check_pair, integer_labels, load_feature_file, read_npz

__all__ = [
    "EvalInputError",
    "ReportPaths",
    "budget_name",
    "check_features",
    "check_pair",
    "cluster_eval",
    "evaluate",
    "evaluate_many",
    "hungarian_accuracy",
    "integer_labels",
    "knn_classify",
    "knn_eval",
    "label_budget_probe",
    "linear_probe",
    "load_feature_file",
    "nn1_predict",
    "plot_embedding",
    "read_npz",
    "render_markdown",
    "render_table_text",
    "subsample_labels",
    "write_report",
]
