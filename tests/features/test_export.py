"""Encoder export: TorchScript, ONNX (run by onnxruntime) and safetensors give load_encoder's features
on real images, at every layer and any batch size; a missing optional package is one clear line."""

import sys
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.sources import load_images
from bigan_repr.features.encoder import load_encoder

ort = pytest.importorskip("onnxruntime")


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _run_exported(fmt, path, images):
    if fmt == "torchscript":
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; torch.jit.load still reads it
            warnings.simplefilter("ignore", FutureWarning)
            net = torch.jit.load(str(path))
        return net(torch.from_numpy(images)).numpy()
    if fmt == "onnx":
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": images})[0]
    from bigan_repr.features.export import load_safetensors

    with torch.no_grad():
        return load_safetensors(path)(torch.from_numpy(images)).numpy()


@pytest.mark.parametrize("fmt, layer", [("torchscript", "z"), ("torchscript", "penultimate"), ("torchscript", "d"),
                                        ("onnx", "z"), ("onnx", "d"), ("onnx", "concat"),
                                        ("safetensors", "penultimate")])
def test_exported_encoder_gives_the_same_features(tiny_run, tmp_path, fmt, layer):
    out = tmp_path / f"encoder.{fmt}"
    r = _invoke("export", tiny_run, "--format", fmt, "--layer", layer, "--out", out)
    assert r.exit_code == 0, r.output
    images = load_images(DataConfig(), "test").images  # 360 real digits, uint8 (N, 1, 8, 8)
    expected = load_encoder(tiny_run).encode(images, layer=layer)
    for batch in (images, images[:1]):  # the batch size is not fixed by the export
        got = _run_exported(fmt, out, batch)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected[: len(batch)], atol=1e-4, rtol=0)


def test_export_folds_spectral_norm_of_a_conv_run(tmp_path):
    run = tmp_path / "conv"
    r = _invoke("train", "--arch", "conv", "--d-norm", "spectral", "--width", "8", "--hidden", "32", "--z-dim", "4",
                "--steps", "2", "--batch-size", "32", "--threads", "1", "--quiet", "--out", run)
    assert r.exit_code == 0, r.output
    images = load_images(DataConfig(), "test").images[:50]
    expected = load_encoder(run).encode(images, layer="d")
    for fmt in ("onnx", "safetensors"):
        r = _invoke("export", run, "--format", fmt, "--layer", "d", "--out", tmp_path / f"d.{fmt}")
        assert r.exit_code == 0, r.output
        np.testing.assert_allclose(_run_exported(fmt, tmp_path / f"d.{fmt}", images), expected, atol=1e-4, rtol=0)


def test_safetensors_metadata_rebuild_the_run(tiny_run, tmp_path):
    from safetensors import safe_open

    _invoke("export", tiny_run, "--format", "safetensors", "--out", tmp_path / "w.safetensors")
    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        meta, keys = f.metadata(), set(f.keys())
    assert meta["layer"] == "z" and meta["step"] == "22" and meta["image_shape"] == "[1, 8, 8]"
    assert '"hidden": 128' in meta["config"]
    assert keys and all(k.startswith("encoder.") for k in keys)  # only the network the layer reads


def test_a_missing_export_package_is_one_line_and_writes_nothing(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if it were not installed
    r = _invoke("export", tiny_run, "--format", "onnx", "--out", tmp_path / "e.onnx")
    assert r.exit_code == 2
    assert r.output.strip() == "error: --format onnx needs onnxscript: pip install 'bigan-repr[export]'"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """A safetensors export of the tiny run: its tensors and its metadata, to damage one part at a time."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    out = tmp_path_factory.mktemp("export") / "e.safetensors"
    assert _invoke("export", tiny_run, "--format", "safetensors", "--out", out).exit_code == 0
    with safe_open(str(out), framework="pt") as f:
        meta = f.metadata()
    return load_file(str(out)), meta


@pytest.mark.parametrize("change, message", [
    ({"config": "{"}, "(metadata 'config'): not readable JSON"),
    ({"config": "[" * 100 + "]" * 100}, "(metadata 'config'): nested more than 32 deep"),
    ({"config": "[1]"}, "metadata 'config' must be an object, not a list"),
    ({"image_shape": "[1, 8]"}, "metadata 'image_shape' must be [channels 1 or 3, height, width]"),
    ({"image_shape": "[1, 100000, 8]"}, "metadata 'image_shape' must be"),
    ({"classes": '{"a": 1}'}, "metadata 'classes' must be a list of label values"),
    ({"layer": "nowhere"}, "metadata 'layer': layer 'nowhere' is not valid for this run"),
    ({"image_shape": "[1, 16, 16]"}, "its tensors do not match the network its metadata describes"),
])
def test_a_damaged_export_is_one_clear_error_naming_the_file(exported, tmp_path, change, message):
    from safetensors.torch import save_file

    from bigan_repr.errors import UserError
    from bigan_repr.features.export import load_safetensors

    tensors, meta = exported
    path = tmp_path / "damaged.safetensors"
    save_file(tensors, str(path), metadata=meta | change)
    with pytest.raises(UserError) as e:
        load_safetensors(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value) and "\n" not in str(e.value), e.value
