"""The bounds every decoded image is held to, whatever its source: how many pixels an image file may
declare, checked from its header before a pixel is decoded (:func:`open_image`), and float pixels, which
must be finite (:func:`finite_pixels`): an all-NaN float TIFF and an ``npz:`` array of NaN are one refusal.

A PNG of a few hundred kilobytes can declare 9000 x 9000 pixels and cost gigabytes and seconds to
decode, for a model that takes at most ``MAX_IMAGE_SIZE`` pixels a side. Pillow's own limit
(``Image.MAX_IMAGE_PIXELS``) is set here deliberately to :data:`MAX_PIXELS`, and the declared size is
checked after the header is read and before ``load``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError

# 2^25 = 33.5 megapixels: a 24-megapixel (6000 x 4000) photo decodes, a 9000 x 9000 declaration does not.
# The decoded image and its float copy for resizing cost at most about 0.5 GB at this bound.
MAX_PIXELS = 2**25
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own check in Image.open: a warning beyond it, an error at twice


def _too_large(path: str | Path, declared: str) -> DataError:
    return DataError(f"cannot read image {path}: it declares {declared}, more than the {MAX_PIXELS:,} pixels this "
                     f"program decodes; shrink it first")


def open_image(path: str | Path) -> Image.Image:
    """``path`` opened, its header read and no pixel decoded yet; refused (a :class:`DataError` naming the
    file) when it declares more than :data:`MAX_PIXELS` pixels. Other failures are Pillow's own."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, with its size
            img = Image.open(path)
    except Image.DecompressionBombError as e:  # Pillow's refusal at twice the bound: its message holds the count
        count = re.search(r"\((\d+) pixels\)", str(e))
        raise _too_large(path, f"{int(count[1]):,} pixels" if count else f"more than {2 * MAX_PIXELS:,} pixels") \
            from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        img.close()
        raise _too_large(path, f"{width} x {height} = {width * height:,} pixels")
    return img


def finite_pixels(pixels: np.ndarray, what: str) -> np.ndarray:
    """Float ``pixels`` returned as they are, refused (naming ``what``) when any is NaN or infinite."""
    if np.issubdtype(pixels.dtype, np.floating) and not np.isfinite(pixels).all():
        raise DataError(f"{what} contains NaN or inf; float pixels must be finite")
    return pixels
