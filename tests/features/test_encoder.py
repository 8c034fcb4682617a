"""Features: encode -> npz -> eval round trip, embed == encode on the same pixels, the pipeline."""

import json

import numpy as np
import pytest
import torch
from bigan_repr.eval import EvalProtocol, evaluate
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.sources import load_images
from bigan_repr.features.encoder import load_encoder


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_encode_npz_eval_round_trip(tiny_run, tmp_path):
    for split in ("train", "test"):
        r = _invoke("encode", tiny_run, "--split", split, "--out", tmp_path / f"{split}.npz")
        assert r.exit_code == 0, r.output
    f = np.load(tmp_path / "train.npz")
    assert f["features"].shape == (1437, 8) and f["features"].dtype == np.float32
    assert f["labels"].shape == (1437,) and f["ids"].shape == (1437,)
    assert str(f["meta_layer"]) == "z" and int(f["meta_step"]) == 22
    # the file holds what the Python API computes
    enc = load_encoder(tiny_run)
    images = load_images(DataConfig(), "train").images
    np.testing.assert_allclose(f["features"], enc.encode(images), rtol=1e-6, atol=1e-6)
    r = _invoke("eval", "--train", tmp_path / "train.npz", "--test", tmp_path / "test.npz", "--seeds", "2",
                "--restarts", "2", "--json")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)["train"]
    # the command's numbers are the suite's on the same features, by the protocol its flags describe
    test_images = load_images(DataConfig(), "test")
    expected = evaluate(f["features"], f["labels"], enc.encode(test_images.images), test_images.labels,
                        EvalProtocol(seeds=(0, 1), restarts=2))
    assert {k: metrics[k] for k in ("nn1_acc", "knn_acc", "dim", "n_train", "n_test")} == \
        {k: expected[k] for k in ("nn1_acc", "knn_acc", "dim", "n_train", "n_test")}
    one_image = 1 / len(test_images)  # thread counts may round a solver's last digits: at most one image apart
    for key in ("linear_acc", "kmeans_acc"):
        assert metrics[key] == pytest.approx(expected[key], abs=one_image + 1e-9)
    assert metrics["budgets"].keys() == expected["budgets"].keys() == {"10/class", "100%"}
    assert metrics["nn1_acc"] > 0.5


def test_penultimate_and_d_layers_are_available(tiny_run):
    enc = load_encoder(tiny_run)
    images = load_images(DataConfig(), "test").images[:5]
    assert enc.encode(images, layer="penultimate").shape == (5, 128)
    d = enc.encode(images, layer="d")
    # D's image pathway: its first hidden layer before z joins, after the nonlinearity
    x = torch.from_numpy(images).float() / 127.5 - 1
    with torch.no_grad():
        expected = torch.nn.functional.leaky_relu(enc.discriminator.x_in(x.flatten(1)), 0.2)
    assert d.shape == (5, 128)
    np.testing.assert_allclose(d, expected.numpy(), rtol=1e-5, atol=1e-5)
    r = _invoke("encode", tiny_run, "--split", "test", "--layer", "d", "--out", tiny_run.parent / "d.npz")
    assert r.exit_code == 0, r.output
    assert np.load(tiny_run.parent / "d.npz")["features"].shape == (360, 128)


def _write(path, array, mode):
    Image.fromarray(array, mode).save(path)
    return path


def test_embed_gives_encode_features_for_the_same_pixels(tiny_run, tmp_path):
    images = load_images(DataConfig(), "test").images[:4, 0]  # (4, 8, 8) uint8
    files = [
        _write(tmp_path / "gray.png", images[0], "L"),
        _write(tmp_path / "rgb.png", np.repeat(images[1][..., None], 3, axis=2), "RGB"),
        _write(tmp_path / "rgba.png",
               np.dstack([np.repeat(images[2][..., None], 3, 2), np.full((8, 8), 255, np.uint8)]), "RGBA"),
        # twice the size, nearest-neighbour: downsampling averages each 2x2 block back to the original
        _write(tmp_path / "big.png", images[3].repeat(2, 0).repeat(2, 1), "L"),
    ]
    out = tmp_path / "embed.npz"
    r = _invoke("embed", tiny_run, *files, "--out", out)
    assert r.exit_code == 0, r.output
    embedded = np.load(out)
    expected = load_encoder(tiny_run).encode(images[:, None])
    np.testing.assert_allclose(embedded["features"], expected, rtol=1e-5, atol=1e-5)
    assert list(embedded["ids"]) == [str(f) for f in files]


def test_embed_jpeg_is_close_to_encode(tiny_run, tmp_path):
    image = load_images(DataConfig(), "test").images[0, 0]
    path = tmp_path / "digit.jpg"
    Image.fromarray(image, "L").save(path, quality=100)
    enc = load_encoder(tiny_run)
    np.testing.assert_allclose(enc.encode_files([path]), enc.encode(image[None, None]), atol=0.05)


def test_encode_files_decodes_a_block_at_a_time(tiny_run, tmp_path, monkeypatch):
    from bigan_repr.data.rows import FileRows

    images = load_images(DataConfig(), "test").images[:5, 0]
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    for image, path in zip(images, paths, strict=True):
        Image.fromarray(image, "L").save(path)
    enc = load_encoder(tiny_run)
    blocks, read = [], FileRows.read
    monkeypatch.setattr(FileRows, "read", lambda self, a, b: blocks.append(b - a) or read(self, a, b))
    np.testing.assert_allclose(enc.encode_files(paths, block=2), enc.encode(images[:, None]), rtol=1e-5, atol=1e-6)
    assert blocks == [2, 2, 1] and enc.encode_files([], layer="z").shape == (0, enc.dim("z"))


def test_pipeline_writes_report_with_model_and_both_baselines(tmp_path):
    out = tmp_path / "pipe"
    r = _invoke("pipeline", "--steps", "5", "--hidden", "64", "--z-dim", "8", "--threads", "1", "--seeds", "2",
                "--restarts", "2", "--out", out, "--quiet", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    methods = set(report["results"])
    assert methods == {f"{m} ({layer})" for m in ("bigan", "random encoder") for layer in ("z", "penultimate", "d")
                       } | {"raw pixels"}
    md = (out / "report.md").read_text()
    assert all(m in md for m in methods)
    assert Image.open(out / "embedding.png").size[0] > 100
    printed = json.loads(r.stdout)
    assert printed["raw pixels"]["linear_acc"] > 0.9  # digits are easy for a linear model on pixels


def _features_file(path, features, labels=None):
    arrays = {"features": np.asarray(features, dtype=np.float32)}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("no_labels", "labels"),
    ("mismatched", "labels count 1 != features count 40"),
    ("nan", "NaN"),
    ("k_too_large", "k=20"),
    ("single_class", "class"),
])
def test_eval_bad_input_gives_a_clear_error(tmp_path, case, message):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)), np.arange(40) % 4
    train_args = {"no_labels": (x, None), "mismatched": (x, y[:1]), "nan": (np.where(np.eye(40, 4) > 0, np.nan, x), y),
                  "k_too_large": (x[:8], y[:8]), "single_class": (x, np.zeros(40, int))}[case]
    train = _features_file(tmp_path / "train.npz", *train_args)
    test = _features_file(tmp_path / "test.npz", x, y)
    r = _invoke("eval", "--train", train, "--test", test, "--seeds", "1")
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_encode_suggests_only_flags_it_takes(tiny_run, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    images = load_images(DataConfig(), "test").images[:5, 0]
    for i, image in enumerate(images):
        _write(folder / f"{i}.png", image, "L")
    (folder / "broken.png").write_bytes(b"not an image")
    args = ["encode", tiny_run, "--data", f"folder:{folder}", "--out", tmp_path / "f.npz"]
    refused = _invoke(*args)
    assert refused.exit_code == 2 and "broken.png" in refused.output and "--skip-bad" in refused.output
    skipped = _invoke(*args, "--skip-bad")  # what the message suggests works
    assert skipped.exit_code == 0, skipped.output
    assert f"skipped 1 unreadable file: {folder / 'broken.png'}" in skipped.output
    assert np.load(tmp_path / "f.npz")["features"].shape == (5, 8)


@pytest.mark.parametrize("command", ["embed", "neighbors"])
def test_commands_without_skip_bad_do_not_suggest_it(tiny_run, tmp_path, command):
    """embed and neighbors (and predict) take no --skip-bad: an unreadable input says to leave it out instead."""
    folder = tmp_path / "images"
    folder.mkdir()
    _write(folder / "0.png", load_images(DataConfig(), "test").images[0, 0], "L")
    (folder / "broken.png").write_bytes(b"not an image")
    args = {"embed": ["embed", tiny_run, folder, "--out", tmp_path / "f.npz"],
            "neighbors": ["neighbors", tiny_run, folder]}[command]
    refused = _invoke(*args)
    assert refused.exit_code == 2 and "Traceback" not in refused.output, refused.output
    assert f"cannot read image {folder / 'broken.png'}" in refused.output
    assert refused.output.strip().endswith("(leave it out of the inputs)") and "--skip-bad" not in refused.output


def test_embed_takes_a_folder_with_hidden_files_links_and_image_named_folders(tiny_run, tmp_path):
    image = load_images(DataConfig(), "test").images[0, 0]
    _write(tmp_path / "a.png", image, "L")
    _write(tmp_path / ".hidden.png", image, "L")
    (tmp_path / "._a.png").write_bytes(b"macOS resource fork")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    r = _invoke("embed", tiny_run, tmp_path, "--out", tmp_path / "e.npz")
    assert r.exit_code == 0, r.output
    assert list(np.load(tmp_path / "e.npz")["ids"]) == [str(tmp_path / "a.png")]
