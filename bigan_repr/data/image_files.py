"""Image files: which files in a folder are images, decoding one into uint8 (C, H, W) (or skipping
it when unreadable), and the pixel rules every source shares.

All are shared by every source and by ``embed``: the same files are images everywhere, and
palette, RGBA, 16-bit and EXIF-rotated images are converted the same way wherever they come
from, so a file gives the same model input in training, ``encode`` and ``embed``, and the same
pixels give the same input from a file and from an array (:func:`composite_on_white`,
:func:`conform`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError
from .pixel_bounds import finite_pixels, open_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
GRAY_MODES = ("1", "L", "LA", "La")
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, the weights of PIL's "L" conversion


def is_image_file(path: Path, root: Path) -> bool:
    """The one rule for which files below ``root`` are images: a file (or a link to one) with an
    image suffix, neither hidden nor inside a hidden folder (.DS_Store, ._x.png forks,
    .ipynb_checkpoints). Directories named like images and dangling links are not images."""
    return (path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(root).parts))


def image_files_in(folder: Path) -> list[Path]:
    """Every image file below ``folder``, however deep, in sorted order.

    Walked with a stack, not recursion (``Path.rglob`` and ``os.walk`` recurse once per level and
    fail past about a thousand); as ``rglob``, links to folders are not followed, so there is no loop.
    A folder that cannot be listed (unreadable, or a path past the system's length limit) is one
    :class:`DataError` line.
    """
    found, folders = [], [(folder, 0)]
    while folders:
        current, depth = folders.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    path = current / entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith("."):  # hidden folders hold no images (is_image_file)
                            folders.append((path, depth + 1))
                    elif is_image_file(path, folder):
                        found.append(path)
        except OSError as e:
            below = str(current.relative_to(folder))
            where = "" if depth == 0 else f"{below} in " if len(below) <= 200 else f"a folder {depth} levels down in "
            raise DataError(f"cannot list {where}image folder {folder}: {e.strerror}") from None
    return sorted(found)


def _to_uint8_mode(img: Image.Image, path: Path) -> Image.Image:
    """Bring 16-bit and 32-bit integer images to 8 bits by scaling, not clipping; float images from [0, 1],
    refused (naming ``path``) where a pixel is not finite."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # mode "I" does not record its bit depth: take the smallest of 8/16/32 bits that fits
        top = 65535.0 if img.mode.startswith("I;16") else _full_scale(arr.max())
        return Image.fromarray(np.clip(np.rint(arr * 255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        arr = finite_pixels(np.asarray(img, dtype=np.float64), f"image {path}")
        return Image.fromarray(np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8), "L")
    return img


def _full_scale(top: float) -> float:
    return 255.0 if top <= 255 else 65535.0 if top <= 65535 else 2.0**31 - 1


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA (N, 4, H, W) -> RGB (N, 3, H, W) composited on white, as viewers show them.

    The one alpha rule, for decoded files and for arrays: rgb·a + 255·(1 − a) with a = alpha/255,
    rounded to nearest in exact integers (the fraction is k/255, never exactly one half).
    """
    rgb, alpha = rgba[:, :3].astype(np.uint32), rgba[:, 3:].astype(np.uint32)
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Transparent images composited on white by :func:`composite_on_white`; others unchanged."""
    transparent = img.mode in ("RGBA", "RGBa", "LA", "La", "PA")
    if transparent or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA")).transpose(2, 0, 1)[None]  # (1, 4, H, W)
        return Image.fromarray(np.ascontiguousarray(composite_on_white(rgba)[0].transpose(1, 2, 0)), "RGB")
    return img


def conform(images: np.ndarray, channels: int | None, size: int | None) -> np.ndarray:
    """Convert uint8 (N, C, H, W) images to the requested channels and square size.

    Grayscale uses ITU-R 601 luma (as PIL's "L"); resizing center-crops to a square, then
    shrinks by area averaging (exact block means for integer factors) or enlarges bilinearly.
    Used by every source and by ``embed``, so the same pixels always give the same model input.
    """
    x = images
    if channels is not None and x.shape[1] != channels:
        if channels == 1:
            weights = np.array(LUMA, dtype=np.float32).reshape(1, 3, 1, 1)
            luma = (x[:, :3].astype(np.float32) * weights).sum(1, keepdims=True)
            x = np.clip(np.rint(luma), 0, 255)
        else:
            x = np.repeat(x, 3, axis=1)
        x = x.astype(np.uint8)
    if size is not None and x.shape[2:] != (size, size):
        h, w = x.shape[2:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        x = x[:, :, top : top + s, left : left + s]
        # a float copy: decoded PIL arrays are read-only, which torch.from_numpy warns about
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if s > size:
            t = F.interpolate(t, size=(size, size), mode="area")
        else:
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        x = t.round_().clamp_(0, 255).to(torch.uint8).numpy()
    return np.ascontiguousarray(x)


def read_image(path: Path, channels: int | None, size: int | None) -> np.ndarray:
    """Decode ``path`` to uint8 (C, H, W) with the requested channels and square size.

    ``channels=None`` keeps grayscale images grayscale and makes everything else RGB.
    """
    try:
        with open_image(path) as opened:  # refused from its header beyond MAX_PIXELS, before decoding
            opened.load()
            img = ImageOps.exif_transpose(opened)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    img = _to_uint8_mode(img, path)
    # decided before compositing on white, which makes every transparent image RGB
    gray = img.mode in GRAY_MODES or (img.mode in ("P", "PA") and _palette_is_gray(img))
    img = _flatten_alpha(img)
    want = channels or (1 if gray else 3)
    # colour to gray by conform's luma, not PIL's fixed-point one: the rule arrays follow too
    arr = np.array(img.convert("L" if gray else "RGB"), dtype=np.uint8)  # a writable copy for torch
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return conform(arr[None], want, size)[0]


def _palette_is_gray(img: Image.Image) -> bool:
    rgb = np.asarray(img.convert("RGB"))  # the colours used, not the whole 256-entry palette
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())



def read_or_skip(path: Path, channels: int | None, size: int | None, skip_bad: bool | None,
                 skipped: list[str]) -> np.ndarray | None:
    """One image file decoded; unreadable, it raises naming --skip-bad, or with ``skip_bad`` is
    listed in ``skipped`` and None is returned. The one rule for training, encode and report.
    ``skip_bad`` None: the command has no --skip-bad (embed, neighbors, predict), and the error says
    to leave the file out instead."""
    try:
        return read_image(path, channels, size)
    except DataError as e:
        if skip_bad is None:
            raise DataError(f"{e} (leave it out of the inputs)") from None
        if not skip_bad:
            raise DataError(f"{e} (add --skip-bad to skip unreadable files)") from None
        skipped.append(str(path))
        return None


def describe_skipped(files: list[str], shown: int = 5) -> str:
    """'3 unreadable files: a.png, b.png, c.png' (the first ``shown`` names, then how many more)."""
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return f"{len(files)} unreadable file{'s' * (len(files) != 1)}: {', '.join(files[:shown])}{more}"
