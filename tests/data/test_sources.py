"""data.py and image_npz.py: every source gives uint8 (N, C, H, W) images, labels and ids."""

import gzip
import io
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bigan_repr.config import DataConfig
from bigan_repr.data.sources import DEBIAN_FASHION_MNIST, SOURCES, load_images
from bigan_repr.errors import DataError, UserError


def _load(source: str, split: str = "train", **kwargs):
    return load_images(DataConfig(source=source, **kwargs), split)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test instead of reaching out."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---- registry -----------------------------------------------------------------------------


def test_digits_split_is_fixed_stratified_and_full_range():
    train, test = _load("digits", "train"), _load("digits", "test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    for s in (train, test):
        assert s.images.dtype == np.uint8 and s.labels.dtype == np.int64
        assert s.images.min() == 0 and s.images.max() == 255  # 0..16 scaled to 0..255
        assert len(s.ids) == len(s.labels) == len(s)
    assert not set(train.ids) & set(test.ids)  # disjoint
    train_counts = np.bincount(train.labels, minlength=10)
    test_counts = np.bincount(test.labels, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all() and len(train_counts) == 10
    # stratified: each class is split 80/20 to within one image
    assert np.all(np.abs(test_counts - 0.2 * (train_counts + test_counts)) <= 1)
    again = _load("digits", "test")
    np.testing.assert_array_equal(again.ids, test.ids)  # the same split on every call


def test_digits_pixel_values_are_scaled_from_0_16():
    from sklearn.datasets import load_digits

    d = load_digits()
    train = _load("digits")
    i = int(train.ids[0])
    expected = np.rint(d.images[i] * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(train.images[0, 0], expected)
    assert train.labels[0] == d.target[i]


def test_load_images_conforms_a_registry_source():
    s = _load("digits", "test", image_size=16, channels=3)
    assert s.images.shape == (360, 3, 16, 16) and s.images.dtype == np.uint8


_FMNIST_FILES = [
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
]


def _have_debian_fashion_mnist() -> bool:
    return all(
        (DEBIAN_FASHION_MNIST / f"{f}.gz").is_file() or (DEBIAN_FASHION_MNIST / f).is_file()
        for f in _FMNIST_FILES
    )


def test_fashion_mnist_from_the_debian_package():
    if not _have_debian_fashion_mnist():
        pytest.skip(f"{DEBIAN_FASHION_MNIST} lacks the IDX files (apt-get install "
                    "dataset-fashion-mnist)")
    train, test = _load("fashion-mnist", "train"), _load("fashion-mnist", "test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    for s in (train, test):
        assert s.images.dtype == np.uint8 and s.labels.dtype == np.int64
        assert s.images.max() == 255 and s.images.min() == 0
        assert np.array_equal(np.unique(s.labels), np.arange(10))
    assert (np.bincount(test.labels) == 1000).all()  # Fashion-MNIST's test set is balanced


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_from_data_dir(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5), ("t10k", 3)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n))
    test = _load("fashion-mnist", "test", data_dir=str(tmp_path))
    assert test.images.shape == (3, 1, 28, 28) and test.labels.tolist() == [0, 1, 2]


def test_truncated_idx_file_is_named(tmp_path):
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(3))
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    header = bytes([0, 0, 0x08, 3]) + np.array([3, 28, 28], ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(100))  # far fewer than 3 * 28 * 28 pixels
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        _load("fashion-mnist", "test", data_dir=str(tmp_path))


def test_fashion_mnist_absent_says_how_to_get_it(tmp_path, no_network):
    with pytest.raises(DataError) as err:
        _load("fashion-mnist", "train", data_dir=str(tmp_path))
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "--data-dir" in msg and "--download" in msg


@pytest.mark.parametrize("source", ["mnist", "cifar10", "svhn", "stl10"])
def test_download_only_sources_fail_offline_with_advice(tmp_path, no_network, source):
    with pytest.raises(DataError, match="--download") as err:
        _load(source, "test", data_dir=str(tmp_path))
    assert str(tmp_path) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing fetched or created


def test_unknown_source_lists_the_valid_ones():
    with pytest.raises(DataError) as err:
        _load("imagenet")
    assert isinstance(err.value, UserError)
    for name in [*SOURCES, "folder:PATH", "npz:PATH"]:
        assert name in str(err.value)


def test_unknown_split_is_refused():
    with pytest.raises(DataError, match="valid"):
        _load("digits", "val")


# ---- folder:PATH --------------------------------------------------------------------------


def _png(path: Path, value: int, size=(6, 6), mode="L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(np.full(shape, value, np.uint8), mode).save(path)


def test_folder_class_subfolders_give_sorted_labels(tmp_path):
    for cls, value in (("dog", 20), ("cat", 10), ("zebra", 30)):
        _png(tmp_path / cls / "a.png", value)
        _png(tmp_path / cls / "b.png", value)
    (tmp_path / ".ipynb_checkpoints").mkdir()  # hidden: not a class
    _png(tmp_path / "cat" / ".hidden" / "x.png", 99)  # hidden: not data
    s = _load(f"folder:{tmp_path}")
    assert s.images.shape == (6, 1, 6, 6) and s.images.dtype == np.uint8
    assert s.labels.dtype == np.int64 and s.labels.tolist() == [0, 0, 1, 1, 2, 2]  # cat dog zebra
    assert s.images[:, 0, 0, 0].tolist() == [10, 10, 20, 20, 30, 30]
    assert Path(s.ids[0]).parent.name == "cat" and s.skipped == []


def test_flat_folder_is_unlabeled(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png", i)
    (tmp_path / "readme.txt").write_text("not an image suffix: ignored")
    s = _load(f"folder:{tmp_path}")
    assert s.labels is None and len(s) == 3 and s.images.shape == (3, 1, 6, 6)
    with pytest.raises(DataError, match="test/"):
        _load(f"folder:{tmp_path}", "test")


def test_folder_train_test_subfolders_define_splits_with_shared_labels(tmp_path):
    for cls in ("a", "b", "c"):
        _png(tmp_path / "train" / cls / "x.png", 1)
    _png(tmp_path / "test" / "a" / "x.png", 1)
    _png(tmp_path / "test" / "c" / "x.png", 1)  # the test split has no class b
    train, test = _load(f"folder:{tmp_path}"), _load(f"folder:{tmp_path}", "test")
    assert train.labels.tolist() == [0, 1, 2]
    assert test.labels.tolist() == [0, 2]  # c keeps label 2


def test_folder_differing_sizes_need_image_size(tmp_path):
    _png(tmp_path / "small.png", 5, size=(6, 6))
    _png(tmp_path / "wide.png", 5, size=(12, 8))
    with pytest.raises(DataError, match="--image-size"):
        _load(f"folder:{tmp_path}")
    s = _load(f"folder:{tmp_path}", image_size=4)
    assert s.images.shape == (2, 1, 4, 4) and (s.images == 5).all()


def test_folder_channels_convert_gray_and_rgb(tmp_path):
    _png(tmp_path / "gray.png", 100)
    _png(tmp_path / "rgb.png", 100, mode="RGB")
    with pytest.raises(DataError, match="differ"):
        _load(f"folder:{tmp_path}")  # one gray, one RGB: ambiguous without --channels
    rgb = _load(f"folder:{tmp_path}", channels=3)
    gray = _load(f"folder:{tmp_path}", channels=1)
    assert rgb.images.shape == (2, 3, 6, 6) and gray.images.shape == (2, 1, 6, 6)
    assert (rgb.images == 100).all() and (gray.images == 100).all()


def test_empty_or_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="holds no images"):
        _load(f"folder:{tmp_path}")
    with pytest.raises(DataError, match="does not exist"):
        _load(f"folder:{tmp_path / 'nope'}")


def _folder_with_bad_files(folder: Path) -> list[str]:
    _png(folder / "good.png", 50)
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    big = folder / "big.png"
    _png(big, 0, size=(64, 64))
    (folder / "truncated.png").write_bytes(big.read_bytes()[:60])
    big.unlink()
    return sorted(str(folder / n) for n in ("empty.png", "notes.png", "truncated.png"))


def test_bad_files_in_a_folder_fail_by_name_or_are_skipped(tmp_path, capsys):
    bad = _folder_with_bad_files(tmp_path)
    with pytest.raises(DataError, match=r"empty\.png.*--skip-bad"):
        _load(f"folder:{tmp_path}")
    s = _load(f"folder:{tmp_path}", skip_bad=True)
    assert len(s) == 1 and (s.images == 50).all()
    assert sorted(s.skipped) == bad
    assert f"skipped 3 unreadable files: {', '.join(bad)}" in capsys.readouterr().err


def test_training_with_skip_bad_prints_and_records_what_it_skipped(tmp_path):
    from click.testing import CliRunner

    from bigan_repr.cli import main

    folder = tmp_path / "images"
    bad = _folder_with_bad_files(folder)
    for i in range(7):
        _png(folder / f"more{i}.png", 10 * i)
    result = CliRunner().invoke(main, ["train", "--data", f"folder:{folder}", "--skip-bad", "--steps", "1",
                                       "--batch-size", "4", "--hidden", "16", "--z-dim", "4", "--threads", "1",
                                       "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"skipped 3 unreadable files: {', '.join(bad)}" in result.output
    assert (tmp_path / "run" / "skipped_files.txt").read_text().splitlines() == bad


def test_folder_of_only_bad_files_fails_even_with_skip_bad(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="unreadable"):
        _load(f"folder:{tmp_path}", skip_bad=True)


# ---- npz:PATH -----------------------------------------------------------------------------


def _npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_npz_uint8_and_float_give_the_same_images(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 7, 7), dtype=np.uint8)
    y = np.array([0, 1, 2, 1, 0], np.int32)
    a = _load(_npz(tmp_path / "a.npz", x=x, y=y))
    b = _load(_npz(tmp_path / "b.npz", x=(x / 255).astype(np.float32), y=y))
    assert a.images.shape == (5, 1, 7, 7) and a.images.dtype == b.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.images[:, 0], x)
    assert a.labels.dtype == np.int64 and a.labels.tolist() == y.tolist()


def test_npz_channels_last_layout_and_alpha(tmp_path):
    x = np.zeros((2, 4, 5, 3), np.uint8)
    x[..., 0] = 255  # red
    s = _load(_npz(tmp_path / "c.npz", x=x))
    assert s.images.shape == (2, 3, 4, 5) and s.labels is None
    assert (s.images[:, 0] == 255).all() and (s.images[:, 1:] == 0).all()
    rgba = np.concatenate([x, np.zeros((2, 4, 5, 1), np.uint8)], axis=-1)  # fully transparent
    t = _load(_npz(tmp_path / "rgba.npz", x=rgba))
    assert t.images.shape == (2, 3, 4, 5) and (t.images == 255).all()  # white, as image files


@pytest.mark.parametrize("channels", [None, 1])
def test_the_same_rgba_pixels_give_the_same_images_from_a_file_and_from_an_npz(tmp_path, channels):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (64, 256, 4), dtype=np.uint8)
    rgba[..., 3] = np.arange(256, dtype=np.uint8)  # every alpha value, over random colours
    (tmp_path / "files").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "files" / "a.png")
    from_file = _load(f"folder:{tmp_path / 'files'}", channels=channels).images
    from_npz = _load(_npz(tmp_path / "a.npz", x=rgba[None]), channels=channels).images
    assert from_file.shape == from_npz.shape == (1, channels or 3, 64, 256)
    np.testing.assert_array_equal(from_file, from_npz)
    assert (from_file[..., 0] == 255).all()  # alpha 0: the white background
    if channels is None:  # opaque: the colours themselves
        np.testing.assert_array_equal(from_file[0, :, :, 255], rgba[:, 255, :3].T)


def test_npz_test_split(tmp_path):
    src = _npz(tmp_path / "s.npz", x=np.zeros((4, 3, 3), np.uint8), y=np.zeros(4, np.int64),
               x_test=np.full((2, 3, 3), 9, np.uint8), y_test=np.array([1, 0]))
    test = _load(src, "test")
    assert test.images.shape == (2, 1, 3, 3) and (test.images == 9).all()
    assert test.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"'x_test'.*keys present:.*\bx\b"):
        _load(_npz(tmp_path / "t.npz", x=np.zeros((4, 3, 3), np.uint8)), "test")


def test_npz_conformed_to_channels_and_size(tmp_path):
    s = _load(_npz(tmp_path / "u.npz", x=np.full((3, 10, 10), 40, np.uint8)),
              channels=3, image_size=5)
    assert s.images.shape == (3, 3, 5, 5) and (s.images == 40).all()


@pytest.mark.parametrize("arrays,match", [
    ({"images": np.zeros((2, 3, 3), np.uint8)}, r"missing key 'x'.*keys present:.*images"),
    ({"x": np.zeros((2, 3, 3), np.int64)}, r"'x' has dtype int64"),
    ({"x": np.zeros((2, 3, 3), bool)}, r"'x' has dtype bool"),
    ({"x": np.zeros((6, 6), np.uint8)}, r"'x' must have shape"),
    ({"x": np.zeros((2, 3, 3, 5), np.uint8)}, r"'x' must have shape"),
    ({"x": np.zeros((0, 3, 3), np.uint8)}, r"'x' holds no images"),
    ({"x": np.array([[[0.5, np.nan]]])}, r"'x' contains NaN"),
    ({"x": np.array([[[0.5, 2.0]]])}, r"must lie in \[0, 1\]"),
    ({"x": np.zeros((2, 3, 3), np.uint8), "y": np.zeros(3, np.int64)}, r"'y' must have shape"),
    ({"x": np.zeros((2, 3, 3), np.uint8), "y": np.array([1e20, 2e20])}, r"'y': label 1e\+20 is not an integer"),
    ({"x": np.zeros((2, 3, 3), np.uint8), "y": np.array(["a", "b"])}, r"'y': labels must be integers"),
    ({"x": np.zeros((2, 3, 3), np.uint8), "y": np.array([0, -1])}, r"'y'.*negative"),
])
def test_malformed_npz_names_file_and_field(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    with pytest.raises(DataError, match=match) as err:
        _load(_npz(path, **arrays))
    assert str(path) in str(err.value)


def test_unreadable_npz_files(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.zeros((2, 3, 3), np.uint8))  # a bare .npy under an .npz name
    for path in (text, npy, tmp_path / "missing.npz"):
        with pytest.raises(DataError, match=path.name):
            _load(f"npz:{path}")


def _npz_with_forged_header(path: Path, key: str, shape: tuple[int, ...]) -> Path:
    """An .npz whose array ``key`` declares ``shape`` (uint8) but holds ten bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{key}.npy", header.getvalue() + bytes(10))
    return path


def test_npz_header_declaring_a_huge_array_is_refused_before_reading(tmp_path):
    from bigan_repr.features.files import FeatureFileError, load_feature_file

    huge = (10**6, 10**6, 28)  # 28 TB declared
    source = _npz_with_forged_header(tmp_path / "x.npz", "x", huge)
    with pytest.raises(DataError, match=r"x\.npz: array 'x' declares shape \(1000000, 1000000, 28\)"):
        _load(f"npz:{source}")
    features = _npz_with_forged_header(tmp_path / "f.npz", "features", huge[:2])
    with pytest.raises(FeatureFileError, match=r"f\.npz: array 'features' declares shape"):
        load_feature_file(features)


def test_npz_array_larger_than_memory_is_refused(tmp_path, monkeypatch):
    import bigan_repr.data.npz_archive

    monkeypatch.setattr(bigan_repr.data.npz_archive, "_memory_bytes", lambda: 100)  # a machine with 100 bytes
    source = _npz(tmp_path / "a.npz", x=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"'x' declares 0.0 GiB, more than this machine's memory"):
        _load(source)


@pytest.mark.parametrize("labels, accepted", [
    (np.array([3, 1], np.int32), True),
    (np.array([3.0, 1.0]), True),  # whole numbers saved as floats
    (np.array([2.0**53, 0.0]), True),
    (np.array([2.0**53 + 2, 0.0]), False),  # beyond 2**53 a float cannot tell neighbouring integers apart
    (np.array([1e20, 2e20]), False),  # would both become the same int64
    (np.array([0.5, 1.0]), False),
    (np.array([np.nan, 1.0]), False),
    (np.array([2**63, 0], np.uint64), False),
    (np.array(["cat", "dog"]), False),
    (np.array([True, False]), False),
])
def test_one_label_rule_for_npz_data_and_feature_files(tmp_path, labels, accepted):
    from bigan_repr.features.files import FeatureFileError, load_feature_file

    source = _npz(tmp_path / "d.npz", x=np.zeros((2, 3, 3), np.uint8), y=labels)
    np.savez(tmp_path / "f.npz", features=np.ones((2, 3)), labels=labels)
    if accepted:
        assert _load(source).labels.tolist() == labels.astype(np.int64).tolist()
        assert load_feature_file(tmp_path / "f.npz")["labels"].tolist() == labels.astype(np.int64).tolist()
    else:
        with pytest.raises(DataError, match="labels must be integers"):
            _load(source)
        with pytest.raises(FeatureFileError, match="labels must be integers"):
            load_feature_file(tmp_path / "f.npz")
