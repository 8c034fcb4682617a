"""The protocol's defaults and the evaluation functions' defaults are the same facts."""

import inspect

import pytest
from bigan_repr.eval import DEFAULT_PROTOCOL, cluster_eval, knn_eval, label_budget_probe, linear_probe
from bigan_repr.eval.knn import knn_classify, weighted_knn_predict


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


@pytest.mark.parametrize(("fn", "param", "field"), [
    (linear_probe, "c_grid", "c_grid"),
    (linear_probe, "max_iter", "max_iter"),
    (label_budget_probe, "budgets", "budgets"),
    (label_budget_probe, "seeds", "seeds"),
    (knn_eval, "k", "k"),
    (knn_classify, "k", "k"),
    (weighted_knn_predict, "k", "k"),
    (knn_eval, "index", "index"),
    (cluster_eval, "restarts", "restarts"),
])
def test_a_function_called_without_options_follows_the_protocol(fn, param, field):
    # a direct call (a benchmark, a user's script) and the report must not drift apart
    assert _default(fn, param) == getattr(DEFAULT_PROTOCOL, field)
