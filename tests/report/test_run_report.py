"""report.html (self-contained, every section, the numbers of report.json), the embedding plot's
legend, the nearest-neighbour grid, class names from the data sources, and progress lines."""

import base64
import io
import json
import shutil
from html import escape
from html.parser import HTMLParser

import numpy as np
import pytest
from bigan_repr.eval import embedding_figure, nearest_neighbors, pick_queries
from bigan_repr.eval.neighbors import _FRAME, _GAP, _OTHER, _QUERY, _SAME, neighbor_mosaic
from click.testing import CliRunner
from PIL import Image
from sklearn.datasets import make_blobs

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.sources import DEBIAN_FASHION_MNIST, load_images

SECTIONS = {"results", "coupling", "samples", "reconstructions", "curves", "embedding", "neighbors", "config"}
VOID = {"meta", "img", "br", "hr", "link", "input", "wbr"}  # elements with no end tag


class Page(HTMLParser):
    """Collects section ids, images, table rows and any tag that is left open or closed twice."""

    def __init__(self):
        super().__init__()
        self.open, self.unbalanced, self.sections, self.images, self.rows = [], [], [], [], []
        self.external = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag == "section":
            self.sections.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])
        if tag in ("script", "link", "iframe") or any(v and v.startswith("http") for k, v in attrs.items()
                                                      if k in ("src", "href")):
            self.external.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = {"attrs": attrs, "text": ""}

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.unbalanced.append(tag)
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


@pytest.fixture(scope="module")
def reported(tiny_run, tmp_path_factory):
    """A copy of the tiny run with its report, and the report command's result."""
    run = tmp_path_factory.mktemp("reported") / "run"
    shutil.copytree(tiny_run, run)
    result = CliRunner().invoke(main, ["report", str(run), "--seeds", "2", "--restarts", "2", "--threads", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output
    return run, result


def test_report_html_is_self_contained_with_every_section(reported):
    run, _ = reported
    text = (run / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    page = Page()
    page.feed(text)
    page.close()
    assert page.unbalanced == [] and page.open == []
    assert set(page.sections) == SECTIONS
    assert page.external == []
    assert '<span>hidden</span><code>128</code>' in text  # the run's config
    assert len(page.images) == 5  # samples, reconstructions, curves, embedding, neighbours
    for src in page.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))) as image:
            image.verify()


def test_report_html_numbers_are_report_json_numbers(reported):
    run, _ = reported
    results = json.loads((run / "report.json").read_text())["results"]
    page = Page()
    page.feed((run / "report.html").read_text())
    table = {row[0]["text"]: row[1:] for row in page.rows if row and row[0]["attrs"].get("scope") == "row"}
    assert set(table) == set(results)
    checked = 0
    for method, cells in table.items():
        for cell in cells:
            key = cell["attrs"]["data-key"]
            if key.startswith("linear@"):
                value = results[method]["budgets"][key.removeprefix("linear@")]["mean"]
            else:
                value = results[method][key]
            assert float(cell["attrs"]["data-value"]) == value
            assert cell["text"].split(" ±")[0] == f"{100 * value:.1f}"
            checked += 1
    assert checked == len(results) * 10  # 6 metrics, k-means in 2 more spaces and 2 label budgets per method
    # the k-NN column marks exactly the rows holding its highest value
    knn = {m: r["knn_acc"] for m, r in results.items()}
    marked = {m for m, cells in table.items() for c in cells
              if c["attrs"]["data-key"] == "knn_acc" and c["attrs"].get("class") == "best"}
    assert marked == {m for m, v in knn.items() if v == max(knn.values())}


def test_report_progress_goes_to_stderr_and_json_to_stdout(reported):
    run, result = reported
    assert json.loads(result.stdout) == json.loads((run / "report.json").read_text())["results"]
    assert {"bigan (z)", "bigan (penultimate)", "random encoder (z)", "raw pixels"} <= set(json.loads(result.stdout))
    lines = result.stderr.splitlines()
    for start in ("encode bigan (z)", "eval bigan (z)", "eval raw pixels", "embedding (t-SNE of 360 test images)",
                  "nearest-neighbour grid", "write report"):
        line = next(line for line in lines if line.startswith(start))
        assert line.split(" ... ")[1].split()[1] == "s"  # "... 0.4 s": the phase's elapsed time


def test_report_json_page_and_info_carry_coupling_and_generation(reported):
    run, _ = reported
    payload = json.loads((run / "report.json").read_text())
    c, g = payload["coupling"], payload["generation"]
    assert {"recon_ratio", "latent_ratio", "d_accuracy", "code_scale", "class_kept", "class_kept_ceiling",
            "class_kept_floor", "coupled", "verdict"} <= set(c)
    assert 0 <= g["precision"] <= 1 and 0 <= g["recall"] <= 1 and 0 <= g["classes_covered"] <= 10
    assert c["images"] == g["samples"] == 360  # every digits test image, as many draws of z
    assert c["verdict"] in payload["notes"]
    page = Page()
    page.feed(text := (run / "report.html").read_text())
    assert "coupling" in page.sections and escape(c["verdict"]) in text
    assert f"{c['recon_ratio']:.3f}" in text and f"{g['precision']:.3f} / {g['recall']:.3f}" in text
    assert c["verdict"] in (run / "report.md").read_text()
    info = CliRunner().invoke(main, ["info", str(run)])
    assert info.exit_code == 0 and c["verdict"] in info.output
    assert f"{g['classes_covered']} of 10, {g['classes_covered_realistic']}" in info.output


def test_report_records_class_names(reported):
    run, _ = reported
    assert json.loads((run / "report.json").read_text())["meta"]["classes"] == [str(d) for d in range(10)]


def test_embedding_legend_names_classes_and_title_is_said_once():
    x, y = make_blobs(n_samples=150, centers=3, n_features=6, random_state=0)
    fig = embedding_figure(x, y, title="blobs", class_names=["cat", "dog", "emu"], method="pca")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["cat", "dog", "emu"]
    assert fig.axes[0].get_title() == "blobs: PCA of 150 points"
    fig = embedding_figure(x, y, title="blobs", max_points=60)  # t-SNE by default, on a subsample
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2"]
    assert fig.axes[0].get_title() == "blobs: t-SNE of 60 of 150 points"


def test_unknown_embedding_method_is_refused_before_training(tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["pipeline", "--steps", "2", "--embedding", "umap", "--out", str(out)])
    assert r.exit_code == 2 and "umap" in r.output and "tsne, pca" in r.output
    assert not out.exists()


def test_nearest_neighbors_and_grid():
    train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [1.0, 0.0]])
    idx = nearest_neighbors(train, np.array([[0.2, 0.0], [9.0, 1.0]]), k=2)
    np.testing.assert_array_equal(idx, [[0, 3], [1, 3]])
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    picked = pick_queries(labels, 4, seed=0)
    assert sorted(labels[picked[:3]]) == [0, 1, 2] and len(set(picked)) == 4
    images = np.zeros((2, 3, 1, 8, 8), dtype=np.uint8)
    mosaic = neighbor_mosaic(images[:, 0], images, np.array([[True, False, True], [False, False, False]]))
    assert mosaic.dtype == np.uint8 and mosaic.shape[2] == 3
    tile = (mosaic.shape[1] - _GAP) // 4  # a query, then 3 neighbours
    # frames: the query's, then same class, another class, same class
    corners = [tuple(mosaic[0, x]) for x in (0, tile + _GAP, 2 * tile + _GAP, 3 * tile + _GAP)]
    assert corners == [_QUERY, _SAME, _OTHER, _SAME]
    assert tuple(mosaic[tile + 2 * _FRAME + 1, tile + _GAP]) == _OTHER  # second row: all another class


def test_sources_name_their_classes(tmp_path):
    assert load_images(DataConfig(), "test").classes == [str(d) for d in range(10)]
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.full((4, 4), 100, np.uint8)).save(tmp_path / name / "a.png")
    assert load_images(DataConfig(source=f"folder:{tmp_path}"), "train").classes == ["cat", "dog"]


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="Fashion-MNIST is not installed")
def test_fashion_mnist_names_its_classes():
    classes = load_images(DataConfig(source="fashion-mnist"), "test").classes
    assert classes[0] == "T-shirt/top" and classes[9] == "Ankle boot" and len(classes) == 10


def test_report_of_a_run_in_use_is_refused_and_writes_nothing(tiny_run):
    # another writer (a training run, another report) holds the run: nothing is computed or written
    from bigan_repr.runs.run_dir import RunDir

    before = {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir()}
    holder = RunDir(tiny_run)
    holder.acquire_lock()
    try:
        r = CliRunner().invoke(main, ["report", str(tiny_run)])
    finally:
        holder.release_lock()
    assert r.exit_code == 2 and "in use by process" in r.output and "Traceback" not in r.output
    assert {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir() if p.name != "lock"} == {
        k: v for k, v in before.items() if k != "lock"}


def _image_folder(root, counts: dict[str, int]) -> None:
    """train/ and test/ class folders, ``counts[name]`` 8x8 images in each."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name, n in counts.items():
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / split / name / f"{i}.png")


def test_the_classifier_is_scored_by_class_name_when_the_datas_classes_change(tmp_path):
    """A class folder added after training renumbers the folder's labels: the run's classifier is scored
    against the classes by name; a class the run learned that the data lost is refused naming both lists."""
    import torch

    from bigan_repr.errors import UserError
    from bigan_repr.features.encoder import dataset_for, load_encoder
    from bigan_repr.report.run_report import classifier_result
    from tests.model.test_checkpoint import _semisup_run

    data = tmp_path / "images"
    _image_folder(data, {"bee": 5, "cat": 3, "dog": 4})

    def folder_classifier(ckpt):  # trained on bee, cat, dog; it answers "cat" for every image
        ckpt["config"]["data"]["source"] = f"folder:{data}"
        ckpt["class_names"] = ["bee", "cat", "dog"]
        ckpt["model"]["classifier.bias"] = torch.tensor([0.0, 100.0, 0.0])

    run = _semisup_run(tmp_path, folder_classifier)
    loaded = load_encoder(run, device="cpu")
    assert classifier_result(loaded, dataset_for(loaded, None, "test"))["test_accuracy"] == round(100 * 3 / 12, 2)
    _image_folder(data, {"ant": 2})  # sorts first: bee, cat, dog are labels 1, 2, 3 now
    test_set = dataset_for(loaded, None, "test")
    assert test_set.classes == ["ant", "bee", "cat", "dog"]
    # by label value, "cat" (label 1 when trained) would be scored as "bee": 5 of 14
    assert classifier_result(loaded, test_set)["test_accuracy"] == round(100 * 3 / 14, 2)
    (data / "test" / "dog").rename(data / "test" / "dot")
    (data / "train" / "dog").rename(data / "train" / "dot")
    with pytest.raises(UserError, match=r"the run's classes \[bee, cat, dog\] are not all classes of its data "
                                        r"\[ant, bee, cat, dot\] \(no 'dog'\)"):
        classifier_result(loaded, dataset_for(loaded, None, "test"))
