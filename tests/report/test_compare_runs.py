"""`bigan compare`: one table of several runs, the best value per column marked, baselines once,
a missing report made first, a bad argument refused before any work."""

import json
import os
import re
import shutil
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import Config
from bigan_repr.errors import UserError
from bigan_repr.report.compare_runs import compare_runs

LOW = {"nn1_acc": 0.1, "knn_acc": 0.1, "linear_acc": 0.1, "kmeans_acc": 0.1, "kmeans_nmi": 0.1, "kmeans_ari": 0.01,
       "budgets": {"10/class": {"mean": 0.1, "std": 0.01, "accs": [0.1, 0.1], "n_labels": 100},
                   "100%": {"mean": 0.1, "std": 0.0, "accs": [0.1], "n_labels": 1437}}}
BASELINES = {"random encoder (z)": LOW, "random encoder (penultimate)": LOW, "raw pixels": LOW}


def _metrics(budget_10=None, **values):
    metrics = json.loads(json.dumps(LOW)) | values
    if budget_10 is not None:
        metrics["budgets"]["10/class"]["mean"] = budget_10
    return metrics


def _write_report(run, objective, results, train=None):
    run.mkdir(parents=True)
    config = Config().updated({"train": train or {}}).to_dict()
    meta = {"data": "digits", "objective": objective, "arch": "mlp", "step": 100, "config": config}
    (run / "report.json").write_text(json.dumps({"title": run.name, "meta": meta, "notes": [], "results": results}))


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """alpha and beta have reports written here (identical baselines); tiny is trained, without a report."""
    root = tmp_path_factory.mktemp("compare")
    _write_report(root / "alpha", "gan", {"bigan (z)": _metrics(knn_acc=0.999, budget_10=0.999),
                                          "bigan (penultimate)": _metrics(linear_acc=0.999, nn1_acc=0.999)}
                  | BASELINES)
    _write_report(root / "beta", "wgan-gp", {"bigan (z)": _metrics(kmeans_nmi=0.999),
                                             "bigan (penultimate)": _metrics(nn1_acc=0.999)} | BASELINES,
                  train={"recon_weight": 0.01, "steps": 50})
    rows = [{"step": 10, "epoch": 0.5, "d_loss": 1.0}, {"step": 10, "kind": "eval", "val_knn": 0.5, "val_linear": 0.4}]
    (root / "alpha" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.copytree(tiny_run, root / "tiny")
    return root


@pytest.fixture(scope="module")
def compared(runs):
    args = ["compare", *(str(runs / name) for name in ("alpha", "beta", "tiny")), "--seeds", "2", "--restarts", "2",
            "--threads", "1", "--html", str(runs / "compare.html")]
    as_json = CliRunner().invoke(main, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    text = CliRunner().invoke(main, args)
    assert text.exit_code == 0, text.output
    return json.loads(as_json.stdout), text.stdout


def _row(comparison, run, layer):
    return next(i for i, r in enumerate(comparison["rows"]) if r["run"] == run and r["layer"] == layer)


def test_a_run_without_a_report_gets_one(runs, compared):
    comparison, _ = compared
    assert (runs / "tiny" / "report.json").is_file() and (runs / "tiny" / "report.html").is_file()
    made = json.loads((runs / "tiny" / "report.json").read_text())["results"]
    tiny_layers = [method.split(" (")[1][:-1] for method in made if method.startswith("bigan (")]
    assert tiny_layers[:2] == ["z", "penultimate"]
    models = [(r["run"], r["layer"]) for r in comparison["rows"] if not r["baseline"]]
    assert models == [(run, layer) for run in ("alpha", "beta") for layer in ("z", "penultimate")] + [
        ("tiny", layer) for layer in tiny_layers]


def test_best_value_per_column_is_marked(runs, compared):
    comparison, _ = compared
    best = comparison["best"]
    assert best["knn_acc"] == [_row(comparison, "alpha", "z")]
    assert best["linear_acc"] == [_row(comparison, "alpha", "penultimate")]
    tie = [_row(comparison, "alpha", "penultimate"), _row(comparison, "beta", "penultimate")]
    assert best["nn1_acc"] == sorted(tie)
    assert best["kmeans_nmi"] == [_row(comparison, "beta", "z")]
    assert best["linear@10/class"] == [_row(comparison, "alpha", "z")]
    # the written reports are low on ARI: the best is the made report's highest, wherever it sits
    tiny = json.loads((runs / "tiny" / "report.json").read_text())["results"]
    top = max(metrics["kmeans_ari"] for metrics in tiny.values())
    assert [comparison["rows"][i]["values"]["kmeans_ari"] for i in best["kmeans_ari"]] == [top]


def test_baselines_appear_once_per_distinct_result(compared):
    comparison, _ = compared
    baselines = [(r["run"], r["layer"]) for r in comparison["rows"] if r["baseline"]]
    # alpha's and beta's baselines are identical, so they show once; tiny's differ and are named
    assert baselines[:3] == [("random encoder (as in alpha)", "z"), ("random encoder (as in alpha)", "penultimate"),
                             ("raw pixels (as in alpha)", "")]
    assert ("random encoder (as in tiny)", "z") in baselines and ("raw pixels (as in tiny)", "") in baselines
    assert not any("beta" in run for run, _ in baselines)


def test_recipe_names_what_differs_from_the_defaults(compared):
    comparison, _ = compared
    recipes = {r["run"]: r["recipe"] for r in comparison["rows"] if not r["baseline"]}
    assert recipes["beta"] == "recon_weight=0.01"  # steps is bookkeeping, the objective has a column
    assert recipes["alpha"] == ""
    assert "hidden=128" in recipes["tiny"] and "z_dim=8" in recipes["tiny"]


def test_text_marks_the_best_cells(compared):
    comparison, text = compared
    lines = text.splitlines()
    assert lines[0] == "every run: data digits, arch mlp"  # said once, not in a column
    assert lines[-1] == "* the best value in its column"
    table = lines[4:-1]
    assert len(table) == len(comparison["rows"])
    n_best = sum(len(rows) for rows in comparison["best"].values())
    assert sum(line.count("*") for line in table) == n_best
    assert "99.9*" in table[_row(comparison, "alpha", "z")]


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.best, self.sections, self.links, self.images = [], [], [], 0
        self._row = -1

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._row += tag == "tr"
        self.sections += [attrs["id"]] if tag == "section" else []
        self.links += [attrs["href"]] if tag == "a" else []
        self.images += tag == "img" and attrs["src"].startswith("data:image/png;base64,")
        if tag == "td" and attrs.get("class") == "best":
            self.best.append((self._row - 1, attrs["data-key"]))  # row 0 is the header


def test_html_page_marks_the_same_cells(runs, compared):
    comparison, _ = compared
    page = _Cells()
    page.feed((runs / "compare.html").read_text())
    assert page.sections == ["results", "curves", "reports"]
    assert sorted(page.best) == sorted((i, key) for key, rows in comparison["best"].items() for i in rows)
    assert page.images == 1  # alpha's validation curve
    assert page.links == ["tiny/report.html"]  # the only run with a report.html, relative to the page


def test_a_folder_that_is_no_run_is_refused_before_any_work(runs, tmp_path):
    shutil.copytree(runs / "tiny", tmp_path / "untouched", ignore=shutil.ignore_patterns("report.*"))
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(main, ["compare", str(runs / "alpha"), str(tmp_path / "untouched"), str(tmp_path / "empty")])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == f"error: {tmp_path / 'empty'} is not a run directory (no config.json)"
    assert not (tmp_path / "untouched" / "report.json").exists()


def _one_error_line(args) -> str:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    return lines[0]


@pytest.mark.parametrize("results, message", [
    ({"bigan (z)": 5}, "results['bigan (z)'] must be an object of metrics, not a number (5)"),
    ({"bigan (z)": ["knn_acc", 0.9]}, "results['bigan (z)'] must be an object of metrics, not a list"),
    ({"bigan (z)": _metrics(knn_acc="high")}, "results['bigan (z)'].knn_acc must be a number or null, not 'high'"),
    ({"bigan (z)": {"budgets": {"10/class": 0.5}}}, "results['bigan (z)'].budgets['10/class'] must be an object "
                                                    "with numbers 'mean' and 'std'"),
    ({"bigan (z)": {"budgets": [0.5]}}, "results['bigan (z)'].budgets must be an object, not a list"),
    ({}, "holds no results to compare (its 'results' is empty); make it again with `bigan report"),
])
def test_a_report_that_cannot_be_compared_is_one_line_naming_it(runs, tmp_path, results, message):
    """A report whose results are not metrics objects is refused, and one with no results is said to be
    empty: never a traceback, never a run silently left out of the table."""
    _write_report(tmp_path / "bad", "gan", results)
    line = _one_error_line(["compare", runs / "alpha", tmp_path / "bad"])
    assert line.startswith(f"error: {tmp_path / 'bad' / 'report.json'}") and message in line, line


@pytest.mark.parametrize("content, message", [
    (b"[1, 2]", "is not a readable report: expected a bigan-repr report (an object) at the top level, not a list"),
    (b'{"results": {"bigan (z)": {"knn_acc": 0.5}}, "title": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 58)"),
    (b'{"results": [1]}', "is not a bigan-repr report (no 'results' object; found [1])"),
    (b'{"results": {"bigan (z)": {}}, "meta": {"config": {"train": 5}}}', "meta.config must be an object of"),
])
def test_a_report_file_that_is_not_a_report_is_one_line(runs, tmp_path, content, message):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_bytes(content)
    line = _one_error_line(["compare", runs / "alpha", tmp_path / "bad"])
    assert str(tmp_path / "bad" / "report.json") in line and message in line, line


def test_the_same_run_under_two_paths_is_given_once(runs, tmp_path):
    (tmp_path / "link").symlink_to(runs / "alpha")
    other = runs.parent / runs.name / ".." / runs.name / "alpha"
    for second, said in ((runs / "alpha", "is given twice"), (other, f"and {other} are the same run"),
                         (tmp_path / "link", f"and {tmp_path / 'link'} are the same run")):
        line = _one_error_line(["compare", runs / "alpha", runs / "beta", second])
        assert line == f"error: {runs / 'alpha'} {said}; give each run once"


def test_html_naming_a_folder_is_refused_before_any_work(runs, tmp_path):
    html = f"{tmp_path}/pages/"  # would have been written as a file named pages
    line = _one_error_line(["compare", runs / "alpha", runs / "beta", "--html", html])
    assert line == f"error: --html {html} names a folder; give a file name such as compare.html"
    assert not (tmp_path / "pages").exists()
    r = CliRunner().invoke(main, ["compare", str(runs / "alpha"), "--html", str(tmp_path)])  # an existing folder
    assert r.exit_code == 2 and "is a directory" in r.output and list(tmp_path.iterdir()) == []


def test_html_naming_a_file_compare_reads_is_refused_before_any_work(runs, tmp_path):
    """`--html a/report.json` would replace the report it has just read with the page (seen before the
    targets rule was applied here); so would a hard link to it, or the metrics the overlay reads."""
    for name in ("alpha", "beta"):
        shutil.copytree(runs / name, tmp_path / name)
    alpha, beta = tmp_path / "alpha", tmp_path / "beta"
    os.link(beta / "report.json", tmp_path / "linked.html")
    before = {p: p.read_bytes() for p in (alpha / "report.json", alpha / "metrics.jsonl", beta / "report.json")}
    for html, read in ((alpha / "report.json", f"the report.json of {alpha}"),
                       (tmp_path / "linked.html", f"the report.json of {beta}"),
                       (alpha / "metrics.jsonl", f"the metrics.jsonl of {alpha}")):
        line = _one_error_line(["compare", alpha, beta, "--html", html])
        assert line == f"error: --html {html} is {read}, a file this command reads: name another file to write"
    assert {p: p.read_bytes() for p in before} == before
    line = _one_error_line(["compare", alpha, runs / "tiny", "--html", runs / "tiny" / "report.json"])
    assert line.startswith(f"error: --html {runs / 'tiny' / 'report.json'} is inside run directory ")
    made = CliRunner().invoke(main, ["compare", str(alpha), str(beta), "--html", str(tmp_path / "page.html")])
    assert made.exit_code == 0 and (tmp_path / "page.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("html, message", [
    ("pages/", "--html pages/ names a folder; give a file name such as compare.html"),
    ("", "--html '' is empty: name the file to write"),
    ("a-fifo", "--html a-fifo is a FIFO, not a regular file"),
])
def test_compare_runs_applies_the_targets_rule_to_html_itself(runs, tmp_path, monkeypatch, html, message):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("a-fifo")
    with pytest.raises(UserError, match=re.escape(message)):
        compare_runs([runs / "alpha", runs / "beta"], html=html)
    assert sorted(os.listdir()) == ["a-fifo"]
