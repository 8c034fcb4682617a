"""pixel_bounds.py: an image file declaring more pixels than the bound is refused from its header, before a
pixel is decoded; float pixels that are not finite are refused, one rule for every source."""

import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from bigan_repr.data.npz_source import read_image_npz
from bigan_repr.data.pixel_bounds import MAX_PIXELS, finite_pixels, open_image
from bigan_repr.errors import DataError


def _png_declaring(path, width: int, height: int) -> None:
    """A PNG of a few dozen bytes whose header declares ``width`` x ``height`` 8-bit gray pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height, said", [
    (6000, 6000, "6000 x 6000 = 36,000,000 pixels"),
    (MAX_PIXELS + 1, 1, f"{MAX_PIXELS + 1} x 1 = {MAX_PIXELS + 1:,} pixels"),
    (9000, 9000, "81,000,000 pixels"),  # past twice the bound: Pillow's own refusal, its count kept
    (20000, 20000, "400,000,000 pixels"),
])
def test_a_header_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, width, height, said):
    path = tmp_path / "bomb.png"
    _png_declaring(path, width, height)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError) as refused:
            open_image(path)
        peak, seconds = tracemalloc.get_traced_memory()[1], time.perf_counter() - start
    finally:
        tracemalloc.stop()
    assert str(refused.value) == (f"cannot read image {path}: it declares {said}, more than the {MAX_PIXELS:,} "
                                  "pixels this program decodes; shrink it first")
    assert peak < 2**20 and seconds < 1  # nothing decoded


def test_pillows_own_limit_is_the_bound_and_an_image_within_it_opens_undecoded(tmp_path):
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS
    path = tmp_path / "wide.png"
    _png_declaring(path, MAX_PIXELS // 4, 4)  # exactly the bound: opened, header only
    with open_image(path) as img:
        assert img.size == (MAX_PIXELS // 4, 4)
    Image.fromarray(np.full((3, 5), 7, np.uint8)).save(tmp_path / "small.png")
    with open_image(tmp_path / "small.png") as img:
        img.load()
        assert np.asarray(img).tolist() == [[7] * 5] * 3


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_pixels_that_are_not_finite_are_refused_by_every_source(tmp_path, bad, dtype):
    x = np.full((2, 4, 4), 0.5, dtype)
    x[1, 2, 3] = bad
    with pytest.raises(DataError, match=r"^picture contains NaN or inf; float pixels must be finite$"):
        finite_pixels(x, "picture")
    np.savez(tmp_path / "x.npz", x=x)
    with pytest.raises(DataError, match=r"'x' contains NaN or inf; float pixels must be finite"):
        read_image_npz(tmp_path / "x.npz")
    x[1, 2, 3] = 0.25
    np.savez(tmp_path / "x.npz", x=x)
    assert finite_pixels(x, "picture") is x and read_image_npz(tmp_path / "x.npz").images.dtype == np.uint8
    assert finite_pixels(np.zeros((2, 2), np.uint8), "picture").dtype == np.uint8
