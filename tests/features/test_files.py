"""Feature files: shard directories written as they go, read back memory-mapped; npz image sources
read in blocks; encode/embed/eval on both kinds agree; refused or failed encodes change nothing."""

import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from bigan_repr.cli import main
from bigan_repr.data.image_files import conform
from bigan_repr.data.npz_source import NpzRows, read_image_npz
from bigan_repr.errors import DataError
from bigan_repr.features.files import (
    MANIFEST,
    FeatureFileError,
    publish_shard_dir,
    read_features,
    write_features,
    write_shard,
)
from bigan_repr.features.publish import new_staging_dir


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _write_dir(out, parts, meta):
    staging = new_staging_dir(out)
    for i, (x, y, ids) in enumerate(parts):
        # two blocks per shard: rows are appended to the file as they come
        half = len(x) // 2
        write_shard(staging, i, x.shape[1], [(x[:half], y[:half], ids[:half]), (x[half:], y[half:], ids[half:])])
    return publish_shard_dir(staging, out, meta)


def test_shard_directory_round_trip_is_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 6)).astype(np.float32)
    y, ids = np.arange(25) % 3, np.array([f"img{i}" for i in range(25)])
    bounds = [(0, 10), (10, 20), (20, 25)]
    _write_dir(tmp_path / "f", [(x[a:b], y[a:b], ids[a:b]) for a, b in bounds], {"layer": "z", "step": 7})
    manifest = json.loads((tmp_path / "f" / MANIFEST).read_text())
    assert (manifest["count"], manifest["dim"], manifest["layer"], manifest["step"]) == (25, 6, "z", 7)
    assert [s["count"] for s in manifest["shards"]] == [10, 10, 5]
    loaded = read_features(tmp_path / "f")
    assert all(isinstance(s, np.memmap) for s in loaded.shards)
    np.testing.assert_array_equal(loaded.features(), x)
    np.testing.assert_array_equal(loaded.labels, y)
    np.testing.assert_array_equal(loaded.ids, ids)
    # each shard is a plain .npy any program reads
    np.testing.assert_array_equal(np.load(tmp_path / "f" / "part-00001.npy"), x[10:20])
    assert loaded.meta == {"layer": "z", "step": 7}


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_manifest_is_strict_json_never_holding_nan(tmp_path, bad):
    """What encode writes it reads back: a number that is not finite is never written as NaN (which the
    manifest's reader refuses), and the folder is not published."""
    x, y, ids = np.ones((4, 3), np.float32), np.arange(4), np.array(list("abcd"))
    with pytest.raises(ValueError, match="not JSON compliant"):
        _write_dir(tmp_path / "f", [(x, y, ids)], {"layer": "z", "scale": bad})
    assert not (tmp_path / "f").exists()
    assert read_features(_write_dir(tmp_path / "g", [(x, y, ids)], {"layer": "z", "scale": 0.5}).path).meta == {
        "layer": "z", "scale": 0.5}


def test_inconsistent_shard_directories_are_named(tmp_path):
    x = np.ones((4, 3), np.float32)
    _write_dir(tmp_path / "f", [(x, np.arange(4), np.arange(4))], {})
    manifest_path = tmp_path / "f" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"][0]["count"] = 5
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(FeatureFileError, match=r"part-00000\.npy.*manifest says \(5, 3\)"):
        read_features(tmp_path / "f")
    manifest_path.unlink()
    r = _invoke("eval", "--train", tmp_path / "f", "--test", tmp_path / "f")
    assert r.exit_code == 2 and "no manifest.json" in r.output and "Traceback" not in r.output


def test_encode_to_shards_equals_npz_and_eval_reads_both(tiny_run, tmp_path):
    for args in (("--out", tmp_path / "train.npz"), ("--out", f"{tmp_path / 'train'}/", "--shard-size", 500),
                 ("--split", "test", "--out", f"{tmp_path / 'test'}/", "--shard-size", 100)):
        r = _invoke("encode", tiny_run, *args)
        assert r.exit_code == 0, r.output
    whole, sharded = np.load(tmp_path / "train.npz"), read_features(tmp_path / "train")
    assert [len(s) for s in sharded.shards] == [500, 500, 437]
    # other batch boundaries, so the same values up to float rounding
    np.testing.assert_allclose(sharded.features(), whole["features"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sharded.labels, whole["labels"])
    np.testing.assert_array_equal(sharded.ids, whole["ids"])
    assert sharded.meta == {"run": str(tiny_run), "step": 22, "layer": "z", "source": "digits", "split": "train"}
    assert read_features(tmp_path / "train.npz").meta == sharded.meta  # both kinds carry the same metadata
    # eval gives the same numbers from the shard folders as from .npz files holding the same arrays
    for name in ("train", "test"):
        f = read_features(tmp_path / name)
        write_features(tmp_path / f"{name}-copy.npz", f.features(), labels=f.labels, ids=f.ids, meta={})
    results = []
    for train, test in (("train-copy.npz", "test-copy.npz"), ("train", "test")):
        r = _invoke("eval", "--train", tmp_path / train, "--test", tmp_path / test, "--budgets", "1.0",
                    "--seeds", "1", "--restarts", "1", "--json")
        assert r.exit_code == 0, r.output
        results.append(next(iter(json.loads(r.stdout).values())))
    assert results[0] == results[1] and results[0]["nn1_acc"] > 0.5


def test_reencoding_replaces_a_feature_directory_and_refuses_other_folders(tiny_run, tmp_path):
    out = tmp_path / "feats"
    assert _invoke("encode", tiny_run, "--out", f"{out}/", "--shard-size", 500).exit_code == 0
    r = _invoke("encode", tiny_run, "--split", "test", "--out", out)  # an existing folder: shards again
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("part-*.npy")) == ["part-00000.ids.npy", "part-00000.labels.npy",
                                                              "part-00000.npy"]
    assert read_features(out).count == 360
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    r = _invoke("encode", tiny_run, "--out", f"{other}/")
    assert r.exit_code == 2 and "holds other files" in r.output
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feats", "photos"]  # no staging folder left


def _npz_images(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (300, 10, 10, 3), dtype=np.uint8)
    return x, rng.integers(0, 4, 300), rng.random((40, 12, 12)).astype(np.float32)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_source_read_in_blocks_equals_loading_it_whole(tmp_path, save, monkeypatch):
    x, y, x_test = _npz_images(tmp_path)
    path = tmp_path / "data.npz"
    save(path, x=x, y=y, x_test=x_test)
    for split in ("train", "test"):
        rows, whole = NpzRows(path, split, 1, 8), read_image_npz(path, split)
        blocks = [rows.read(s, min(s + 64, len(rows))) for s in range(0, len(rows), 64)]
        np.testing.assert_array_equal(np.concatenate([b.images for b in blocks]), conform(whole.images, 1, 8))
        assert (rows.labels is None) == (whole.labels is None)
    rows = NpzRows(path, "train", 3, None)
    if save is np.savez:
        # stored members are mapped where they sit in the archive: no zip stream is read for a block
        monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda *a: pytest.fail("read through the zip stream"))
    np.testing.assert_array_equal(rows.read(290, 300).images, x[290:].transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(rows.images_for(np.array([7, 3]), None), x[[7, 3]].transpose(0, 3, 1, 2))


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((3, 4, 4), np.int32)}, "'x' has dtype int32"),
    ({"y": np.zeros(3, np.int64)}, "missing key 'x'"),
    ({"x": np.zeros((0, 4, 4), np.uint8)}, "'x' holds no images"),
    ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.array([1.5, 2])}, "labels must be integers"),
    ({"x": np.zeros((2, 4, 4, 2), np.uint8)}, r"must have shape \(N, H, W\)"),
])
def test_bad_npz_sources_are_refused_as_when_loaded_whole(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    for read in (lambda: NpzRows(path, "train", 1, 4), lambda: read_image_npz(path)):
        with pytest.raises(DataError, match=message):
            read()


def test_encode_npz_source_in_shards_equals_the_in_memory_encoding(tmp_path):
    from bigan_repr.features.encoder import load_encoder

    x, y, _ = _npz_images(tmp_path)
    np.savez(tmp_path / "data.npz", x=x[..., 0], y=y)
    run = tmp_path / "run"
    r = _invoke("train", "--data", f"npz:{tmp_path / 'data.npz'}", "--steps", "2", "--hidden", "32", "--z-dim", "4",
                "--batch-size", "32", "--threads", "1", "--quiet", "--out", run)
    assert r.exit_code == 0, r.output
    r = _invoke("encode", run, "--out", f"{tmp_path / 'f'}/", "--shard-size", "128", "--layer", "penultimate")
    assert r.exit_code == 0, r.output
    feats = read_features(tmp_path / "f")
    expected = load_encoder(run).encode(x[:, None, :, :, 0], layer="penultimate")
    np.testing.assert_allclose(feats.features(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(feats.labels, y)


def test_a_bad_image_mid_encode_leaves_no_output(tiny_run, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8), "L").save(folder / f"{i}.png")
    (folder / "3.png").write_bytes(b"not a png")
    r = _invoke("encode", tiny_run, "--data", f"folder:{folder}", "--out", f"{tmp_path / 'out'}/", "--shard-size", 2)
    assert r.exit_code == 2 and "3.png" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs"]  # neither the output nor a staging folder


def test_embed_to_shards_equals_embed_to_npz(tiny_run, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(7):
        Image.fromarray(np.full((16, 16), 30 * i, np.uint8), "L").save(folder / f"{i}.png")
    assert _invoke("embed", tiny_run, folder, "--out", tmp_path / "e.npz").exit_code == 0
    r = _invoke("embed", tiny_run, folder, "--out", f"{tmp_path / 'e'}/", "--shard-size", 3)
    assert r.exit_code == 0, r.output
    whole, sharded = np.load(tmp_path / "e.npz"), read_features(tmp_path / "e")
    assert [len(s) for s in sharded.shards] == [3, 3, 1] and sharded.labels is None
    np.testing.assert_allclose(sharded.features(), whole["features"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sharded.ids, whole["ids"])
