"""images.py: one decoding of palette, alpha, 16-bit and EXIF-rotated files; ``conform``; folders of
any depth listed without recursion."""

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bigan_repr.data.image_files import conform, image_files_in, read_image
from bigan_repr.data.image_set import to_model_range
from bigan_repr.data.pixel_bounds import MAX_PIXELS
from bigan_repr.errors import DataError, UserError


def _save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


# ---- modes: palette, alpha, 16-bit --------------------------------------------------------


def test_palette_png_decodes_to_its_colours(tmp_path):
    img = Image.fromarray(np.array([[0, 1], [2, 0]], np.uint8), "P")
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    x = read_image(_save(img, tmp_path / "p.png"), None, None)
    assert x.dtype == np.uint8 and x.shape == (3, 2, 2)
    assert x[:, 0, 0].tolist() == [255, 0, 0]
    assert x[:, 0, 1].tolist() == [0, 255, 0]
    assert x[:, 1, 0].tolist() == [0, 0, 255]


def test_gray_palette_png_stays_one_channel(tmp_path):
    img = Image.fromarray(np.array([[0, 1, 2]], np.uint8), "P")
    img.putpalette([0, 0, 0, 100, 100, 100, 200, 200, 200] + [0] * 759)
    x = read_image(_save(img, tmp_path / "gp.png"), None, None)
    assert x.shape == (1, 1, 3) and x.ravel().tolist() == [0, 100, 200]


def test_transparent_palette_png_is_composited_on_white_and_stays_gray(tmp_path):
    img = Image.fromarray(np.array([[0, 1, 2]], np.uint8), "P")
    img.putpalette([0, 0, 0, 100, 100, 100, 200, 200, 200] + [0] * 759)
    x = read_image(_save(img, tmp_path / "tp.png", transparency=0), None, None)
    # index 0 is fully transparent, so it shows the white background
    assert x.shape == (1, 1, 3) and x.ravel().tolist() == [255, 100, 200]


def test_rgba_png_is_composited_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 0, 128]]], np.uint8)
    x = read_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), None, None)
    assert x.shape == (3, 1, 3)
    assert x[:, 0, 0].tolist() == [255, 0, 0]  # opaque: unchanged
    assert x[:, 0, 1].tolist() == [255, 255, 255]  # transparent: white, not the hidden red
    half = x[:, 0, 2].astype(int)  # black at alpha 128/255 over white: 255 * 127/255
    assert np.all(np.abs(half - 127) <= 1), half


def test_gray_with_alpha_stays_one_channel_on_white(tmp_path):
    la = np.array([[[10, 255], [10, 0]]], np.uint8)
    x = read_image(_save(Image.fromarray(la, "LA"), tmp_path / "la.png"), None, None)
    assert x.shape == (1, 1, 2) and x.ravel().tolist() == [10, 255]


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    a = np.array([[65535, 32768, 0, 257]], np.uint16)
    path = _save(Image.fromarray(a), tmp_path / "g16.png")
    assert Image.open(path).mode.startswith("I;16")  # the file really is 16-bit
    x = read_image(path, None, None)
    assert x.dtype == np.uint8 and x.shape == (1, 1, 4)
    assert x.ravel().tolist() == [255, 128, 0, 1]


def test_dark_16bit_png_is_not_stretched(tmp_path):
    # values <= 255 in a 16-bit file are near-black, not full-range 8-bit values
    path = _save(Image.fromarray(np.array([[200, 255]], np.uint16)), tmp_path / "d16.png")
    assert read_image(path, None, None).ravel().tolist() == [1, 1]


# ---- EXIF orientation ---------------------------------------------------------------------


def test_exif_rotated_jpeg_is_decoded_upright(tmp_path):
    a = np.zeros((16, 24, 3), np.uint8)
    a[:8, :8] = 255  # a white block in the top-left corner of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the viewer rotates the stored image 90° clockwise
    path = _save(Image.fromarray(a), tmp_path / "r.jpg", exif=exif, quality=95)
    with Image.open(path) as raw:
        stored = np.asarray(raw.convert("RGB")).transpose(2, 0, 1)  # (3, 16, 24), unrotated
    x = read_image(path, None, None)
    assert x.shape == (3, 24, 16)
    np.testing.assert_array_equal(x, np.rot90(stored, k=-1, axes=(1, 2)))
    assert x[:, :8, -8:].mean() > 200 and x[:, :8, :8].mean() < 50  # the block moved top-right


# ---- channel choice -----------------------------------------------------------------------


def test_auto_channels_keep_gray_gray_and_colour_rgb(tmp_path):
    gray = _save(Image.fromarray(np.full((4, 5), 70, np.uint8), "L"), tmp_path / "g.png")
    rgb_arr = np.zeros((4, 5, 3), np.uint8)
    rgb_arr[..., 0] = 200
    rgb = _save(Image.fromarray(rgb_arr, "RGB"), tmp_path / "c.png")
    assert read_image(gray, None, None).shape == (1, 4, 5)
    assert read_image(rgb, None, None).shape == (3, 4, 5)
    # forced channels: gray repeated into RGB, colour reduced by luma
    assert (read_image(gray, 3, None) == 70).all() and read_image(gray, 3, None).shape[0] == 3
    assert read_image(rgb, 1, None).ravel().tolist() == [round(0.299 * 200)] * 20


def test_image_size_gives_square_images(tmp_path):
    path = _save(Image.fromarray(np.zeros((30, 50, 3), np.uint8)), tmp_path / "w.png")
    assert read_image(path, None, 16).shape == (3, 16, 16)
    assert read_image(path, 1, 8).shape == (1, 8, 8)


# ---- bad files ----------------------------------------------------------------------------


def _bad_files(folder: Path) -> list[Path]:
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    good = _save(Image.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)),
                 folder / "good.png")
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = folder / "notes.png"
    text.write_text("this is not an image\n")
    return [empty, truncated, text]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["zero-byte", "truncated", "text"])
def test_bad_file_raises_data_error_naming_it(tmp_path, which):
    path = _bad_files(tmp_path)[which]
    with pytest.raises(DataError, match=path.name) as err:
        read_image(path, None, None)
    assert isinstance(err.value, UserError)  # the CLI prints it without a traceback


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height gray pixels, followed by almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(10)))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side, said", [
    (6000, "6000 x 6000 = 36,000,000 pixels"),  # past the bound, within Pillow's own refusal at twice it
    (9000, "81,000,000 pixels"),
    (100_000, "10,000,000,000 pixels"),
])
def test_a_header_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, side, said):
    path = _png_header(tmp_path / "bomb.png", side, side)
    start = time.perf_counter()
    with pytest.raises(DataError) as refused:
        read_image(path, None, None)
    assert time.perf_counter() - start < 1  # nothing decoded: 81 million pixels take seconds
    assert str(refused.value) == (f"cannot read image {path}: it declares {said}, more than the {MAX_PIXELS:,} "
                                  "pixels this program decodes; shrink it first")


def _nan_tiff(path: Path) -> Path:
    Image.fromarray(np.full((8, 8), np.nan, np.float32), "F").save(path)
    return path


def test_a_float_image_with_pixels_that_are_not_finite_is_refused(tmp_path):
    path = _nan_tiff(tmp_path / "nan.tif")
    with pytest.raises(DataError, match=rf"^image {path} contains NaN or inf; float pixels must be finite$"):
        read_image(path, None, None)
    Image.fromarray(np.full((8, 8), 0.5, np.float32), "F").save(tmp_path / "half.tif")
    assert read_image(tmp_path / "half.tif", None, None).tolist() == [[[128] * 8] * 8]


def test_embed_refuses_a_nan_image_and_a_header_bomb_in_one_line(tiny_run, tmp_path):
    """Files are decoded a block at a time, inside the encoding phase: its progress line, then the refusal."""
    from click.testing import CliRunner

    from bigan_repr.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    nan, bomb = _nan_tiff(inputs / "nan.tif"), _png_header(inputs / "bomb.png", 9000, 9000)
    for path, said in ((nan, "contains NaN or inf; float pixels must be finite"), (bomb, "declares 81,000,000 pixels")):
        start = time.perf_counter()
        result = CliRunner().invoke(main, ["embed", str(tiny_run), str(path), "--out", str(tmp_path / "e.npz")])
        *progress, line = result.output.strip().splitlines()
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert all("failed after" in p for p in progress) and line.startswith("error: "), result.output
        assert str(path) in line and said in line and time.perf_counter() - start < 10, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_one_rule_for_which_files_are_images(tmp_path):
    """Training and embed take the same files from a folder: no hidden files or folders, no
    dangling links, no directories named like images, only image suffixes."""
    from bigan_repr.config import DataConfig
    from bigan_repr.data.sources import load_images
    from bigan_repr.features.encoder import image_files

    image = Image.fromarray(np.zeros((8, 8), np.uint8))
    for name in ("cat/a.png", "cat/sub/b.jpg", "dog/c.PNG", "cat/.d.png", "cat/._e.png", ".ipynb_checkpoints/f.png",
                 "cat/.hidden/g.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        _save(image, tmp_path / name)
    (tmp_path / "cat" / "folder.png").mkdir()  # a directory named like an image
    (tmp_path / "cat" / "folder.png" / "notes.txt").write_text("not an image")
    (tmp_path / "dog" / "gone.png").symlink_to(tmp_path / "missing.png")  # a dangling link
    (tmp_path / "dog" / "alias.png").symlink_to(tmp_path / "cat" / "a.png")  # a link to an image is one
    (tmp_path / "dog" / "readme.txt").write_text("not an image")
    expected = [tmp_path / n for n in ("cat/a.png", "cat/sub/b.jpg", "dog/alias.png", "dog/c.PNG")]
    assert [Path(i) for i in load_images(DataConfig(source=f"folder:{tmp_path}")).ids] == expected
    assert image_files([tmp_path]) == expected


# ---- folders of any depth -----------------------------------------------------------------


def _make_deep(root: Path, levels: int, png: bytes | None) -> None:
    """root/d/d/.../d, ``levels`` deep (with ``png`` as a.png at the bottom), made through folder
    descriptors, so that no path the system is given is long, and no recursion is needed."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        fd, above = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(above)
    if png is not None:
        f = os.open("a.png", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(f, png)
        os.close(f)
    os.close(fd)


def _remove_deep(root: Path, levels: int) -> None:
    """Undo :func:`_make_deep` from the bottom up (shutil.rmtree recurses once per level)."""
    fd = os.open(root, os.O_RDONLY)
    for _ in range(levels):
        fd, above = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(above)
    for name in os.listdir(fd):
        os.unlink(name, dir_fd=fd)
    for _ in range(levels):
        fd, below = os.open("..", os.O_RDONLY, dir_fd=fd), fd
        os.close(below)
        os.rmdir("d", dir_fd=fd)
    os.close(fd)


@pytest.fixture
def deep(tmp_path, request):
    """A folder ``request.param`` levels deep with one image at the bottom."""
    levels = request.param
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(buffer, format="png")
    root = tmp_path / "deep"
    root.mkdir()
    _make_deep(root, levels, buffer.getvalue())
    yield root, levels
    _remove_deep(root, levels)


@pytest.mark.parametrize("deep", [1200], indirect=True)
def test_a_folder_1200_levels_deep_is_listed_and_read_as_data_and_as_inputs(deep, tiny_run, tmp_path):
    from click.testing import CliRunner

    from bigan_repr.cli import main
    from bigan_repr.config import DataConfig
    from bigan_repr.data.sources import load_images

    root, levels = deep
    bottom = root.joinpath(*["d"] * levels, "a.png")
    assert image_files_in(root) == [bottom]
    data = load_images(DataConfig(source=f"folder:{root}", channels=1, image_size=8))
    assert [Path(i) for i in data.ids] == [bottom] and int(data.images.max()) == 200
    for args in (["embed", tiny_run, root, "--out", tmp_path / "e.npz"],
                 ["encode", tiny_run, "--data", f"folder:{root}", "--out", tmp_path / "f.npz"]):
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exit_code == 0 and "wrote 1 x" in result.output, result.output


@pytest.mark.parametrize("deep", [2100], indirect=True)
def test_a_folder_past_the_systems_path_length_is_one_line(deep, tiny_run, tmp_path):
    from tests.conftest import one_error_line

    root, _ = deep
    with pytest.raises(DataError, match=rf"^cannot list a folder \d+ levels down in image folder {root}: "
                                        "File name too long$"):
        image_files_in(root)
    for args in (["embed", tiny_run, root, "--out", tmp_path / "e.npz"],
                 ["encode", tiny_run, "--data", f"folder:{root}", "--out", tmp_path / "f.npz"]):
        assert "File name too long" in one_error_line(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]


# ---- conform ------------------------------------------------------------------------------


def test_conform_rgb_to_gray_uses_601_luma():
    x = np.zeros((1, 3, 2, 2), np.uint8)
    x[0, :, 1, 0] = [200, 100, 50]
    y = conform(x, 1, None)
    assert y.shape == (1, 1, 2, 2) and y.dtype == np.uint8
    assert y[0, 0, 1, 0] == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)  # 124
    assert y[0, 0, 0, 0] == 0


def test_conform_gray_to_rgb_repeats_the_channel():
    x = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4)
    y = conform(x, 3, None)
    assert y.shape == (1, 3, 4, 4) and all((y[:, c] == x[:, 0]).all() for c in range(3))


@pytest.mark.parametrize(
    "shape,size", [((2, 1, 8, 8), 32), ((2, 3, 40, 40), 16), ((1, 1, 9, 20), 7)]
)
def test_conform_resize_gives_requested_shape(shape, size):
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    y = conform(x, None, size)
    assert y.shape == (*shape[:2], size, size) and y.dtype == np.uint8


def test_conform_resize_keeps_a_constant_image_constant():
    x = np.full((1, 3, 8, 12), 77, np.uint8)
    assert (conform(x, None, 20) == 77).all() and (conform(x, None, 5) == 77).all()


def test_conform_crops_the_center_of_a_wide_image():
    x = np.zeros((1, 1, 4, 8), np.uint8)
    x[..., 2:6] = np.arange(16, dtype=np.uint8).reshape(4, 4)  # the central square
    np.testing.assert_array_equal(conform(x, None, 4), x[..., 2:6])


def test_conform_is_identity_when_nothing_changes():
    x = np.random.default_rng(1).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    for channels, size in [(None, None), (3, None), (None, 8), (3, 8)]:
        np.testing.assert_array_equal(conform(x, channels, size), x)


def test_to_model_range_maps_uint8_onto_tanh_range():
    y = to_model_range(torch.tensor([0, 127, 255], dtype=torch.uint8))
    assert y.dtype == torch.float32
    assert torch.allclose(y, torch.tensor([-1.0, 127 / 127.5 - 1, 1.0]))
