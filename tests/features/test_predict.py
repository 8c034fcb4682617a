"""A semi-supervised run's classifier as a product: the pipeline's report, `bigan predict` (one text line per file,
its names escaped; files read a block at a time), export."""

import json
import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.sources import load_images
from bigan_repr.features.encoder import load_encoder


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def semisup_run(tmp_path_factory):
    """`bigan pipeline --data digits --labels-per-class 5 --steps 50`, a small net, a quick evaluation."""
    out = tmp_path_factory.mktemp("semisup") / "run"
    result = _invoke("pipeline", "--labels-per-class", 5, "--steps", 50, "--hidden", 64, "--z-dim", 8,
                     "--projector", 32, "--threads", 1, "--seeds", 1, "--restarts", 1, "--embedding", "pca",
                     "--lr-e", 3e-3, "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    data = load_images(DataConfig(), "test")
    for i in range(6):
        Image.fromarray(data.images[i, 0]).save(folder / f"{i:02d}-{data.labels[i]}.png")
    return folder, data


def test_the_pipeline_reports_the_classifier(semisup_run):
    report = json.loads((semisup_run / "report.json").read_text())
    classifier = report["classifier"]
    assert classifier["labels_per_class"] == 5 and classifier["label_seed"] == 0 and classifier["labeled"] == 50
    assert 30 < classifier["test_accuracy"] <= 100  # percent; ten classes give 10 by chance
    html = (semisup_run / "report.html").read_text()
    assert "Test accuracy of the run's classifier" in html and f"{classifier['test_accuracy']:.1f}%" in html
    # the number is the classifier's on the test split
    loaded = load_encoder(semisup_run)
    test = load_images(DataConfig(), "test")
    predicted = np.asarray(loaded.classes)[loaded.class_probabilities(test.images).argmax(1)]
    assert classifier["test_accuracy"] == pytest.approx(100 * np.mean(predicted == test.labels), abs=0.01)


def test_predict_prints_class_and_probability_per_file(semisup_run, digit_files):
    folder, data = digit_files
    text = _invoke("predict", semisup_run, folder)
    assert text.exit_code == 0, text.output
    lines = text.stdout.strip().splitlines()
    as_json = json.loads(_invoke("predict", semisup_run, folder, "--json").stdout)
    assert len(lines) == len(as_json) == 6
    probabilities = load_encoder(semisup_run).class_probabilities(data.images[:6])
    for line, row, p in zip(lines, as_json, probabilities, strict=True):
        assert set(row) == {"file", "class", "probability"}
        assert line.split("\t") == [row["file"], str(row["class"]), f"{row['probability']:.4f}"]
        assert row["class"] == str(int(p.argmax())) and row["probability"] == pytest.approx(float(p.max()), abs=1e-6)


def test_predict_follows_embeds_rules_and_needs_a_classifier(semisup_run, tiny_run, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    bad = _invoke("predict", semisup_run, tmp_path / "bad.png")
    assert bad.exit_code == 2 and "cannot read image" in bad.output and "Traceback" not in bad.output
    none = _invoke("predict", tiny_run, tmp_path / "bad.png")
    assert none.exit_code == 2 and "has no classifier: train one with --labels-per-class N" in none.output


@pytest.mark.parametrize("fmt", ["torchscript", "safetensors"])
def test_export_includes_the_classifier(semisup_run, digit_files, tmp_path, fmt):
    from bigan_repr.features.export import load_safetensors

    _, data = digit_files
    out = tmp_path / f"c.{fmt}"
    assert _invoke("export", semisup_run, "--format", fmt, "--classifier", "--out", out).exit_code == 0
    net = torch.jit.load(str(out)) if fmt == "torchscript" else load_safetensors(out)
    with torch.no_grad():
        exported = net(torch.from_numpy(data.images[:6])).numpy()
    expected = load_encoder(semisup_run).class_probabilities(data.images[:6])
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    assert exported.shape == (6, 10)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_every_classifier_export_carries_its_class_mapping(semisup_run, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    out = tmp_path / f"c.{fmt}"
    assert _invoke("export", semisup_run, "--format", fmt, "--classifier", "--out", out).exit_code == 0
    if fmt == "torchscript":
        extra = {"classes.json": ""}
        torch.jit.load(str(out), _extra_files=extra)
        stored = extra["classes.json"]
    else:
        import onnxruntime

        stored = onnxruntime.InferenceSession(str(out)).get_modelmeta().custom_metadata_map["classes.json"]
    loaded = load_encoder(semisup_run)
    assert json.loads(stored) == {"classes": loaded.classes, "class_names": loaded.class_names}
    assert json.loads(stored)["classes"] == list(range(10))


def _unescaped(text: str) -> str:
    """The inverse of predict.escaped: what the text line stands for."""
    named = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
    out, i = [], 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
        elif text[i + 1] in named:
            out.append(named[text[i + 1]])
            i += 2
        else:
            width = 2 if text[i + 1] == "x" else 4
            code = int(text[i + 2 : i + 2 + width], 16)
            out.append(chr(code + 0xDC00) if width == 2 and code >= 0x80 else chr(code))
            i += 2 + width
    return "".join(out)


def test_names_with_line_breaks_and_tabs_keep_one_line_of_three_fields_per_file(tmp_path):
    from tests.model.test_checkpoint import _semisup_run

    names = ["c\tat", "d\nog", "e\\mu"]
    run = _semisup_run(tmp_path, lambda c: c.update(class_names=names))
    image = (tmp_path / "x.png").read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    odd = ["a\nb.png", "tab\there.png", "back\\slash.png", "cr\rx.png", "vt\x0bff\x0c.png", "plain.png",
           os.fsdecode(b"not-utf8-\xff.png"), "sep\u2028.png"]
    for name in odd:
        (folder / name).write_bytes(image)
    text = _invoke("predict", run, folder)
    assert text.exit_code == 0, text.output
    rows = json.loads(_invoke("predict", run, folder, "--json").stdout)  # --json: the names exactly
    assert sorted(row["file"] for row in rows) == sorted(str(folder / name) for name in odd)
    lines = text.stdout.rstrip("\n").split("\n")
    assert len(lines) == len(rows) == len(odd) and len(text.stdout.splitlines()) == len(odd)
    for line, row in zip(lines, rows, strict=True):
        fields = line.split("\t")
        assert len(fields) == 3 and fields[2] == f"{row['probability']:.4f}"
        assert [_unescaped(fields[0]), _unescaped(fields[1])] == [row["file"], row["class"]]
        assert row["class"] in names


def test_predict_reads_and_classifies_a_block_at_a_time(tmp_path, monkeypatch):
    """Many files never sit in memory together: every read and every classification is one block."""
    from bigan_repr.data.rows import FileRows
    from bigan_repr.features import predict
    from bigan_repr.features.encoder import LoadedEncoder
    from tests.model.test_checkpoint import _semisup_run

    run = _semisup_run(tmp_path)
    rng = np.random.default_rng(0)
    for i in range(37):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / f"{i:02d}.png")
    whole = predict.predict_files(load_encoder(run, device="cpu"), [tmp_path])  # one block of 38 files
    seen = {"read": [], "classified": []}
    read, classify = FileRows.read, LoadedEncoder.class_probabilities
    monkeypatch.setattr(FileRows, "read", lambda self, a, b: seen["read"].append(b - a) or read(self, a, b))
    monkeypatch.setattr(LoadedEncoder, "class_probabilities",
                        lambda self, x: seen["classified"].append(len(x)) or classify(self, x))
    monkeypatch.setattr(predict, "BLOCK", 8)
    assert predict.predict_files(load_encoder(run, device="cpu"), [tmp_path]) == whole
    assert seen["read"] == seen["classified"] == [8, 8, 8, 8, 6]
