"""Reading .npz archives without trusting their headers.

Every member's .npy header is checked against the bytes the archive stores for it, and against
this machine's memory, before anything is allocated: a forged header never makes a reader
allocate more than the file holds. A compressed member must hold at least 1/:data:`MAX_RATIO` of the
bytes its header declares (above :data:`RATIO_FLOOR`): one that would inflate further is a
decompression bomb, refused before a byte of its data is inflated. Pickled (object) arrays are never
loaded. numpy only.
"""

from __future__ import annotations

import math
import os
import zipfile
from tokenize import TokenError

import numpy as np

from ..errors import DataError

# Deflate inflates at most about 1032x (a run of zeros); image data compresses 1-10x and even sparse
# masks stay far below 200x. Small members (labels of one class compress 1000x) are exempt below the floor.
MAX_RATIO = 200
RATIO_FLOOR = 64 * 2**20


class NpzError(DataError):
    """An .npz file is missing, malformed, or declares more than it holds; the message names it."""


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an .npz archive, each refused by its header before it is read when the
    size it declares differs from the bytes stored for it or exceeds this machine's memory: a
    forged header never makes the reader allocate more than the file holds."""
    path = os.fspath(path)
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as f:
                npy = f.read(6) == b"\x93NUMPY"
            raise NpzError(f"{path}: a bare .npy array, not an .npz archive" if npy else
                                 f"{path}: not a valid .npz file (not a zip archive)")
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                check_declared_size(archive, info, path)
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except NpzError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        # allow_pickle=False makes pickled/object data raise ValueError: reported here too.
        raise NpzError(f"{path}: not a valid .npz file ({err})") from err


def check_declared_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                        path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """The member's (shape, dtype), refused when its header declares other than the bytes stored, more
    than MAX_RATIO times its compressed bytes, or more than memory; nothing of its data is read."""
    name = info.filename.removesuffix(".npy")
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        except (ValueError, SyntaxError, TokenError, TypeError, EOFError, OverflowError) as e:
            # numpy parses the header's text with ast and tokenize: damaged text raises any of these
            raise NpzError(f"{path}: array {name!r} has no readable .npy header ({str(e).splitlines()[0][:120]})") \
                from None
        stored = info.file_size - f.tell()
    if dtype.hasobject:
        raise NpzError(f"{path}: array {name!r} holds Python objects, which are never unpickled")
    declared = math.prod(shape) * dtype.itemsize
    if declared != stored or info.compress_size > os.path.getsize(path):
        held = stored if declared != stored else info.compress_size
        raise NpzError(f"{path}: array {name!r} declares shape {shape} of {dtype} ({declared} bytes), "
                       f"but the file holds {held} bytes for it")
    if info.compress_type != zipfile.ZIP_STORED and declared > max(RATIO_FLOOR, MAX_RATIO * info.compress_size):
        raise NpzError(f"{path}: array {name!r} would inflate {info.compress_size} compressed bytes into {declared} "
                       f"({declared / 2**30:.1f} GiB), more than {MAX_RATIO} times, as only a decompression bomb "
                       "does; refused before inflating it")
    if declared > _memory_bytes():
        raise NpzError(f"{path}: array {name!r} declares {declared / 2**30:.1f} GiB, more than this "
                       f"machine's memory")
    return shape, dtype


def _memory_bytes() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit beyond the stored size
        return math.inf
