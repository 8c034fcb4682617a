"""A ``report.json`` read back, as ``bigan compare`` reads the reports of run folders that anyone may
have edited or copied: the one validator of that file.

It is read by ``runs.untrusted`` (at most 16 MiB, UTF-8, nested at most 32 deep, an object at the
top), then checked before use: ``results`` must be a non-empty object of {method: metrics object};
in each metrics object the values shown as table columns are numbers or null, and ``budgets`` (when
present) is an object of {budget name: object with numbers ``mean`` and ``std``, and ``accs`` a list
when given}; ``meta`` is an object whose ``config`` (when present) is an object of sections and whose
``data``, ``objective``, ``arch`` and ``step`` are plain values; ``coupling`` and ``generation`` (when
present) are objects whose numbers, the ones ``bigan info`` and the page show, are numbers. A report
with no results is refused,
never left out of a comparison without a word. Each problem is one :class:`ReportFileError` line
naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bigan_repr.eval.report import JUDGEMENT_NUMBERS, columns_for

from ..errors import UserError
from ..runs.untrusted import UntrustedFileError, kind_of, read_mapping, shown

_SHOWN_META = ("data", "objective", "arch", "step")  # label columns of the comparison


class ReportFileError(UserError):
    """A report.json that cannot be compared; the message names it."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_budgets(budgets: Any, where: str, path: Path) -> None:
    if not isinstance(budgets, dict):
        raise ReportFileError(f"{path}: {where}.budgets must be an object, not {kind_of(budgets)} ({shown(budgets)})")
    for name, budget in budgets.items():
        if not (isinstance(budget, dict) and all(_number(budget.get(k)) for k in ("mean", "std"))
                and isinstance(budget.get("accs", []), list)):
            raise ReportFileError(f"{path}: {where}.budgets[{shown(name)}] must be an object with numbers 'mean' "
                                  f"and 'std' (and a list 'accs'), not {shown(budget)}")


def _check_metrics(method: str, metrics: Any, path: Path) -> None:
    where = f"results[{shown(method)}]"
    if not isinstance(metrics, dict):
        raise ReportFileError(f"{path}: {where} must be an object of metrics, not {kind_of(metrics)} "
                              f"({shown(metrics)})")
    if "budgets" in metrics:
        _check_budgets(metrics["budgets"], where, path)
    for column in columns_for([metrics]):
        value = metrics.get(column.key)
        if column.budget is None and value is not None and not _number(value):
            raise ReportFileError(f"{path}: {where}.{column.key} must be a number or null, not {shown(value)}")


def _check_meta(meta: Any, path: Path) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ReportFileError(f"{path}: meta must be an object, not {kind_of(meta)} ({shown(meta)})")
    config = meta.get("config")
    if config is not None and not (isinstance(config, dict) and all(isinstance(v, dict) for v in config.values())):
        raise ReportFileError(f"{path}: meta.config must be an object of config sections, not {shown(config)}")
    for key in _SHOWN_META:
        if isinstance(meta.get(key), (dict, list)):
            raise ReportFileError(f"{path}: meta.{key} must be a plain value, not {shown(meta[key])}")
    return meta


def _check_judgement(payload: dict, path: Path) -> dict[str, Any]:
    """report.json's "coupling" and "generation" objects, those present, checked."""
    found = {}
    for name, keys in JUDGEMENT_NUMBERS.items():
        if (value := payload.get(name)) is None:
            continue
        if not isinstance(value, dict):
            raise ReportFileError(f"{path}: {name} must be an object, not {kind_of(value)} ({shown(value)})")
        if bad := [k for k in keys if not _number(value.get(k))]:
            raise ReportFileError(f"{path}: {name}.{bad[0]} must be a number, not {shown(value.get(bad[0]))}")
        found[name] = value
    return found


def read_report(path: str | Path) -> dict[str, Any]:
    """{"title", "meta", "notes", "results"} of a report.json, with "coupling" and "generation" where it
    has them, every part checked (see the module)."""
    path = Path(path)
    try:
        payload = read_mapping(path, yaml=False, what="a bigan-repr report (an object)")
    except UntrustedFileError as e:
        raise ReportFileError(f"{path} is not a readable report: {e.reason}") from None
    results = payload.get("results")
    if not isinstance(results, dict):
        raise ReportFileError(f"{path} is not a bigan-repr report (no 'results' object; found {shown(results)})")
    if not results:
        raise ReportFileError(f"{path} holds no results to compare (its 'results' is empty); make it again with "
                              f"`bigan report {path.parent}`, or leave that run out")
    for method, metrics in results.items():
        _check_metrics(method, metrics, path)
    return {"title": payload.get("title", path.parent.name), "meta": _check_meta(payload.get("meta", {}), path),
            "notes": payload.get("notes", []), "results": results} | _check_judgement(payload, path)
