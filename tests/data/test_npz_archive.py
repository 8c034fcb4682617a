"""npz_archive.py: headers are never trusted. A label array declaring 10^13 rows and a compressed
member that would inflate to gigabytes are refused before anything is allocated or inflated, by the
reader of whole files (training) and by the one that streams rows (encode)."""

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigan_repr.cli import main
from bigan_repr.config import DataConfig
from bigan_repr.data.npz_archive import MAX_RATIO, RATIO_FLOOR, read_npz
from bigan_repr.data.sources import load_images, open_rows
from bigan_repr.errors import DataError, UserError

IMAGES = np.zeros((4, 8, 8), np.uint8)


def _header(shape, descr: str) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def _with_member(path: Path, key: str, shape, descr: str, body: bytes = bytes(10)) -> Path:
    """A valid x (4 images) and a member ``key`` whose header declares ``shape`` but holds ``body``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", _npy(IMAGES))
        archive.writestr(f"{key}.npy", _header(shape, descr) + body)
    return path


def _npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _bomb(path: Path, declared_mib: int) -> Path:
    """x.npy, deflated: a header declaring ``declared_mib`` MiB of uint8 images, and that many zeros."""
    rows = declared_mib * 2**20 // (256 * 256)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(_header((rows, 256, 256), "|u1"))
            for _ in range(declared_mib):
                member.write(bytes(2**20))
    return path


def _both_readers(path: Path):
    """What training reads (the whole file) and what encode reads (rows, a block at a time)."""
    cfg = DataConfig(source=f"npz:{path}")
    return [lambda: load_images(cfg, "train"), lambda: open_rows(cfg, "train").read(0, 1)]


@pytest.mark.parametrize("shape, match", [
    ((10**13,), r"array 'y' declares shape \(10000000000000,\) of int64 \(80000000000000 bytes\), but the file "
                r"holds 10 bytes for it"),
    ((4, 10**6), r"array 'y' declares shape \(4, 1000000\)"),
])
def test_a_label_header_declaring_more_than_the_file_holds_is_refused_unread(tmp_path, shape, match):
    path = _with_member(tmp_path / "d.npz", "y", shape, "<i8")
    for read in _both_readers(path):
        with pytest.raises(DataError, match=match):
            read()


def test_labels_of_another_length_are_refused_before_they_are_read(tmp_path):
    path = _with_member(tmp_path / "d.npz", "y", (5,), "<i8", bytes(40))
    for read in _both_readers(path):
        with pytest.raises(DataError, match=r"'y' must have shape \(4,\) to match the images; got \(5,\)"):
            read()


def test_encode_refuses_a_forged_label_header_in_one_line(tiny_run, tmp_path):
    path = _with_member(tmp_path / "d.npz", "y", (10**13,), "<i8")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["encode", str(tiny_run), "--data", f"npz:{path}", "--out", f"{out}/"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.output.strip().splitlines() == [f"error: {path}: array 'y' declares shape (10000000000000,) of int64 "
                                             "(80000000000000 bytes), but the file holds 10 bytes for it"]
    assert not out.exists()


def test_a_compressed_member_that_would_inflate_past_the_ratio_is_refused_before_inflating(tmp_path):
    declared = RATIO_FLOOR // 2**20 + 16  # MiB: above the floor, and zeros deflate about 1000x
    path = _bomb(tmp_path / "bomb.npz", declared)
    assert path.stat().st_size * MAX_RATIO < declared * 2**20
    for read in _both_readers(path):
        start = time.perf_counter()
        with pytest.raises(DataError, match=rf"array 'x' would inflate \d+ compressed bytes into {declared * 2**20} "
                                            rf"\(0\.1 GiB\), more than {MAX_RATIO} times"):
            read()
        assert time.perf_counter() - start < 1  # the header alone was read, nothing inflated


def test_compressed_members_below_the_floor_or_the_ratio_are_read(tmp_path):
    y = np.zeros(4, np.int64)  # compresses far beyond the ratio, but is small
    np.savez_compressed(tmp_path / "small.npz", x=IMAGES, y=y)
    assert read_npz(tmp_path / "small.npz")["y"].tolist() == [0, 0, 0, 0]
    noise = np.random.default_rng(0).integers(0, 256, (4, 8, 8), dtype=np.uint8)
    np.savez_compressed(tmp_path / "noise.npz", x=noise)
    assert np.array_equal(load_images(DataConfig(source=f"npz:{tmp_path / 'noise.npz'}"), "train").images[:, 0], noise)


# ---- fuzzing: whatever an .npz's headers declare, every reader raises a UserError or reads it ----

_DESCRS = st.sampled_from(["|u1", "<f4", "<f8", "<i8", "|b1", "|O", "<U3", "|V8", ">f2", "<c16", "bogus", "|S0"])
_DIMS = st.integers(-2, 12) | st.sampled_from([0, 2**31, 10**13, 2**63 - 1])
_SHAPES = st.lists(_DIMS, max_size=5).map(tuple)


@st.composite
def _members(draw) -> bytes:
    """A member: a .npy header (valid, or damaged at a drawn byte) and a body of drawn length."""
    header = {"descr": draw(_DESCRS), "fortran_order": draw(st.booleans()), "shape": draw(_SHAPES)}
    text = draw(st.sampled_from([repr(header), repr(header)[:-3], "{'descr': '|u1'}", "[1, 2]", "{" * 50]))
    version = draw(st.sampled_from([b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"]))
    length = len(text) + 1
    prefix = b"\x93NUMPY" + version + (length.to_bytes(2, "little") if version == b"\x01\x00" else
                                       length.to_bytes(4, "little"))
    member = prefix + text.encode("latin1") + b"\n" + draw(st.binary(max_size=300))
    cut = draw(st.none() | st.integers(0, len(member)))
    return member if cut is None else member[:cut]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.dictionaries(st.sampled_from(["x", "y", "x_test", "y_test", "features", "labels", "other"]),
                               _members(), max_size=4),
       compressed=st.booleans())
def test_fuzzed_npz_headers_raise_only_user_errors(tmp_path, members, compressed):
    from bigan_repr.features.files import load_feature_file

    path = tmp_path / "fuzz.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as z:
        for key, member in members.items():
            z.writestr(f"{key}.npy", member)
    readers = [*_both_readers(path), lambda: read_npz(path), lambda: load_feature_file(path),
               lambda: open_rows(DataConfig(source=f"npz:{path}"), "test").read(0, 2)]
    for read in readers:
        try:
            read()
        except UserError:
            pass  # every other exception fails the test
