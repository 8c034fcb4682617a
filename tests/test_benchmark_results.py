"""The benchmarks' results file (benchmarks/results_file.py): rows carry where they came from, a rerun skips the
rows already measured, a failed write leaves the old file, and files written before the provenance load."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # benchmarks/ is a folder of scripts, not a package

import results_file  # noqa: E402
from results_file import ResultsFile  # noqa: E402

from bigan_repr.config import Config  # noqa: E402


def test_a_written_row_carries_config_command_commit_and_seconds(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(REPO / "benchmarks" / "hybrids.py"), "--out", "a folder"])
    cfg = Config().updated({"train": {"seed": 3}})
    ResultsFile(tmp_path / "hybrids.json").add("default-3", {"knn": 0.9}, cfg, time.perf_counter() - 2.2)
    row = json.loads((tmp_path / "hybrids.json").read_text())["default-3"]
    assert row["knn"] == 0.9 and row["seconds"] == 2
    assert Config.from_dict(row["config"]) == cfg
    assert row["command"] == "python benchmarks/hybrids.py --out 'a folder'"
    assert row["commit"] == results_file.commit()


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=folder, check=True,
                   capture_output=True)


def test_the_commit_is_head_marked_dirty_by_tracked_changes_and_unknown_outside_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no checkout above tmp_path counts
    monkeypatch.setattr(results_file, "REPO", tmp_path)
    results_file.commit.cache_clear()
    try:
        assert results_file.commit() == "unknown"
        _git(tmp_path, "init", "-q")
        (tmp_path / "tracked.py").write_text("1\n")
        _git(tmp_path, "add", "tracked.py")
        _git(tmp_path, "commit", "-q", "-m", "one")
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout
        (tmp_path / "untracked.py").write_text("")
        results_file.commit.cache_clear()
        assert results_file.commit() == head.strip()
        (tmp_path / "tracked.py").write_text("2\n")
        results_file.commit.cache_clear()
        assert results_file.commit() == head.strip() + "+dirty"
    finally:
        results_file.commit.cache_clear()


def test_resume_skips_the_rows_present_and_keeps_them(tmp_path):
    path = tmp_path / "semisup.json"
    path.write_text(json.dumps({"results": {"a/5/0": {"test_accuracy": 80.0}, "b/5/0": {"test_accuracy": 70.0}},
                                "preset": "digits-semisup"}))
    results = ResultsFile(path, rows_key="results")
    measured = []
    for key in ("a/5/0", "c/5/0"):
        if key in results:
            continue
        measured.append(key)
        results.add(key, {"test_accuracy": 90.0}, Config(), time.perf_counter())
    assert measured == ["c/5/0"]
    again = json.loads(path.read_text())
    assert again["results"]["a/5/0"] == {"test_accuracy": 80.0} and again["results"]["b/5/0"] == {"test_accuracy": 70.0}
    assert again["results"]["c/5/0"]["test_accuracy"] == 90.0 and again["preset"] == "digits-semisup"


def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    results = ResultsFile(path, indent=2)
    results.add("tv", {"knn": 0.8}, Config(), time.perf_counter())
    before = path.read_bytes()

    def fails(document, indent):
        raise RuntimeError("serializer failed")

    monkeypatch.setattr(results_file, "serialized", fails)
    with pytest.raises(RuntimeError, match="serializer failed"):
        results.add("kl", {"knn": 0.7}, Config(), time.perf_counter())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left beside it


@pytest.mark.parametrize("name, rows_key", [
    ("coupling-digits/coupling.json", None), ("hybrids-digits/hybrids.json", None),
    ("preset-coupling/run_coupling.json", None), ("semisup-digits/semisup.json", "results"),
    ("ablation/ablation.json", "rows"), ("objectives/results.json", None)])
def test_committed_results_without_the_new_fields_load(name, rows_key):
    results = ResultsFile(REPO / "benchmarks" / "results" / name, rows_key=rows_key)
    assert results.rows and all(isinstance(row, dict) for row in results.rows.values())


def test_an_old_row_stays_as_it_was_beside_a_new_one(tmp_path):
    path = tmp_path / "coupling.json"
    path.write_text(json.dumps({"default-0": {"recon_ratio": 0.5, "seconds": 61}}, indent=1) + "\n")
    results = ResultsFile(path)
    results.add("default-1", {"recon_ratio": 0.4}, Config(), time.perf_counter())
    rows = json.loads(path.read_text())
    assert rows["default-0"] == {"recon_ratio": 0.5, "seconds": 61}
    assert {"config", "command", "commit", "seconds"} <= set(rows["default-1"])


@pytest.mark.parametrize("name", ["fmnist-semisup", "digits-semisup"])
def test_every_semisup_row_derives_a_valid_config_from_todays_preset(name):
    import semisup

    from bigan_repr.presets import preset

    base = Config().updated(preset(name))
    for row, (_, spec) in semisup.ROWS.items():
        if spec is None:  # rows (d) and (f): the unsupervised twin (probed, fine-tuned), built by its own function
            continue
        cfg = semisup.row_config(base, row, 10, 0, None, 1)
        assert (cfg.data.labels_per_class, cfg.data.label_seed) == (10, 0)
        if row in "abg":  # the controls train no G or D, and nothing that needs them
            assert not cfg.train.adversarial and not cfg.train.feature_matching and not cfg.train.recon_weight
        assert bool(cfg.train.consistency) == (row in "gh")
        assert cfg.model.classifier_on == ("d" if row == "i" else "e")


def test_the_unsupervised_row_has_a_valid_config():
    import argparse

    import semisup

    args = argparse.Namespace(unsupervised=None, preset="fmnist-semisup", threads=1, steps=None)
    cfg = semisup.unsupervised_config(args)
    assert cfg.data.labels_per_class is None and cfg.data.source == "fashion-mnist"


def test_paired_differences_are_per_split_and_say_when_a_pair_spans_two_commits():
    import semisup

    row = lambda acc, commit: {"test_accuracy": acc, "commit": commit}  # noqa: E731
    results = {"c/10/0": row(80.0, "abc"), "c/10/1": row(82.0, "abc"), "c/10/2": row(81.0, "abc"),
               "b/10/0": row(78.0, "abc"), "b/10/1": row(79.0, "abc"),  # split 2 missing: not paired
               "g/10/0": row(81.0, "abc"), "g/10/1": row(81.0, "old"), "a/10/0": row(70.0, None),
               "c/5/0": row(60.0, "abc+dirty"), "b/5/0": row(59.0, "abc+dirty"),  # uncommitted code: not one commit
               "c/20/0": row(90.0, "unknown"), "b/20/0": row(89.0, "unknown")}  # outside a checkout: not known
    lines = {" | ".join(line.split(" | ")[:2]): line for line in semisup.paired(results).splitlines()[2:]}
    assert lines["| (b) | 10"] == "| (b) | 10 | split 0: +2.0, split 1: +3.0 | +2.5 ± 0.7 | yes |"
    assert lines["| (g) | 10"] == "| (g) | 10 | split 0: -1.0, split 1: +1.0 | +0.0 ± 1.4 | no |"
    assert lines["| (a) | 10"] == "| (a) | 10 | split 0: +10.0 | +10.0 (one split) | no |"
    assert lines["| (b) | 5"] == "| (b) | 5 | split 0: +1.0 | +1.0 (one split) | no |"
    assert lines["| (b) | 20"] == "| (b) | 20 | split 0: +1.0 | +1.0 (one split) | no |"
    assert len(lines) == 5  # (c) is not paired with itself


CLUSTERING_TABLES = sorted(p.parent.name for p in (REPO / "benchmarks" / "results").glob("*/clustering.md"))


@pytest.mark.parametrize("folder", CLUSTERING_TABLES)
def test_a_clustering_table_is_what_its_recorded_command_makes_of_its_reports(folder):
    import shlex

    import cluster_seeds

    made = json.loads((REPO / "benchmarks" / "results" / folder / "provenance.json").read_text())["table"]["command"]
    words = shlex.split(made)
    assert words[:2] == ["python", "benchmarks/cluster_seeds.py"]
    args = cluster_seeds.parser().parse_args(words[2:])  # the script's own reading of the command
    reports = [json.loads((REPO / path).read_text()) for path in args.reports]
    assert (REPO / args.out).read_text() == cluster_seeds.table(args.title, reports)


def test_a_clustering_table_gives_mean_and_std_over_seeds_and_the_head_where_every_run_has_one():
    import cluster_seeds

    def report(acc, head):
        return {"results": {"raw pixels": {"kmeans_acc": acc, "n2d_acc": acc + 0.1}}, "clusters": head}

    head = lambda acc: {"k": 10, "acc": acc, "nmi": 50.0, "ari": 30.0}  # noqa: E731
    made = cluster_seeds.table("t", [report(0.5, head(50.0)), report(0.6, head(54.0))])
    assert "| raw pixels | 55.0 ± 7.1 | 65.0 ± 7.1 |" in made and "| features | k-means | N2D (ACC) |" in made
    assert "ACC 52.0 ± 2.8, NMI 50.0 ± 0.0" in made
    assert "| raw pixels | 50.0 | 60.0 |" in cluster_seeds.table("t", [report(0.5, None)])
    with pytest.raises(SystemExit, match="only some reports"):
        cluster_seeds.table("t", [report(0.5, head(50.0)), report(0.6, None)])
