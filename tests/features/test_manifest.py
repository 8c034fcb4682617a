"""The shard directory's manifest: every malformed field, path leaving the folder, oversized or
non-UTF-8 file is one FeatureFileError naming the manifest; fuzzed manifests never raise anything else."""

import json
import os
import re
import string

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigan_repr.cli import main
from bigan_repr.features.files import MANIFEST, FeatureFileError, read_features
from bigan_repr.features.manifest import FORMAT, MAX_BYTES


def _folder(root):
    """A valid two-shard feature folder, and its manifest as a dict."""
    root.mkdir()
    manifest = {"format": FORMAT, "count": 5, "dim": 3, "run": "r", "step": 7, "layer": "z", "shards": []}
    for i, n in enumerate((3, 2)):
        np.save(root / f"part-0000{i}.npy", np.ones((n, 3), np.float32))
        np.save(root / f"part-0000{i}.labels.npy", np.arange(n))
        np.save(root / f"part-0000{i}.ids.npy", np.array([f"x{i}{j}" for j in range(n)]))
        manifest["shards"].append({"features": f"part-0000{i}.npy", "count": n, "labels": f"part-0000{i}.labels.npy",
                                   "ids": f"part-0000{i}.ids.npy"})
    (root / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def _with(manifest, change):
    """A deep copy of ``manifest`` with ``change`` applied: {key: value}, or a callable editing the copy."""
    copy = json.loads(json.dumps(manifest))
    if callable(change):
        change(copy)
    else:
        copy.update(change)
    return copy


def _drop(*keys):
    return lambda m: [m.pop(k) for k in keys]


def _shard0(**values):
    return lambda m: m["shards"][0].update(values)


@pytest.mark.parametrize("change, message", [
    (_drop("shards"), "has no 'shards'"),
    ({"shards": []}, "shards must be a non-empty list of shard objects, not \\[\\] \\(a list\\)"),
    ({"shards": "part-00000.npy"}, "shards must be a non-empty list.*'part-00000.npy' \\(a string\\)"),
    ({"shards": [5, 6]}, "shards\\[0\\] must be an object, not 5 \\(a number\\)"),
    (_drop("dim"), "has no 'dim'"),
    ({"dim": 0}, "dim must be an integer >= 1, not 0"),
    ({"count": "5"}, "count must be an integer >= 0, not '5' \\(a string\\)"),
    ({"count": -5}, "count must be an integer >= 0, not -5"),
    ({"count": 5.0}, "count must be an integer >= 0, not 5.0 \\(a number\\)"),
    (_shard0(count="3"), "shards\\[0\\].count must be an integer >= 0, not '3' \\(a string\\)"),
    (_shard0(count=True), "shards\\[0\\].count must be an integer >= 0, not True \\(a boolean\\)"),
    (lambda m: m["shards"][1].pop("features"), "shards\\[1\\] has no 'features'"),
    ({"step": "abc"}, "step must be an integer >= 0, not 'abc' \\(a string\\)"),
    ({"layer": ["z"]}, "layer must be a string, not \\['z'\\] \\(a list\\)"),
    ({"format": "something/2"}, "not a bigan-repr feature manifest \\(format 'something/2'"),
    (_shard0(features="../outside.npy"), "shards\\[0\\].features '../outside.npy' is not a shard file in"),
    (_shard0(labels="/etc/passwd"), "shards\\[0\\].labels '/etc/passwd' is not a shard file in"),
    (_shard0(ids="sub/part-00000.ids.npy"), "shards\\[0\\].ids 'sub/part-00000.ids.npy' is not a shard file"),
    (_shard0(features=7), "shards\\[0\\].features must be a file name, not 7 \\(a number\\)"),
])
def test_each_malformed_manifest_is_one_line_naming_it(tmp_path, change, message):
    manifest = _folder(tmp_path / "f")
    (tmp_path / "f" / MANIFEST).write_text(json.dumps(_with(manifest, change)))
    with pytest.raises(FeatureFileError, match=f"^{re.escape(str(tmp_path / 'f' / MANIFEST))}: {message}") as err:
        read_features(tmp_path / "f")
    assert "\n" not in str(err.value)


def test_a_shard_file_linking_outside_the_folder_is_refused(tmp_path):
    manifest = _folder(tmp_path / "f")
    np.save(tmp_path / "secret.npy", np.zeros((3, 3), np.float32))
    os.symlink(tmp_path / "secret.npy", tmp_path / "f" / "part-00009.npy")
    (tmp_path / "f" / MANIFEST).write_text(json.dumps(_with(manifest, _shard0(features="part-00009.npy"))))
    outside = re.escape(str(tmp_path / "secret.npy"))
    with pytest.raises(FeatureFileError, match=f"part-00009.npy is a link to {outside}, outside the feature folder"):
        read_features(tmp_path / "f")
    # a link that stays inside the folder is a shard like any other
    os.remove(tmp_path / "f" / "part-00009.npy")
    os.symlink("part-00000.npy", tmp_path / "f" / "part-00009.npy")
    assert read_features(tmp_path / "f").count == 5


def test_count_given_as_a_string_is_named_as_such_by_eval(tmp_path):
    manifest = _folder(tmp_path / "f")
    (tmp_path / "f" / MANIFEST).write_text(json.dumps(_with(manifest, _shard0(count="3"))))
    r = CliRunner().invoke(main, ["eval", "--train", str(tmp_path / "f"), "--test", str(tmp_path / "f")])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.output.strip().splitlines() == [f"error: {tmp_path / 'f' / MANIFEST}: shards[0].count must be an "
                                             "integer >= 0, not '3' (a string)"]


def test_oversized_and_non_utf8_manifests_are_refused_unread(tmp_path):
    _folder(tmp_path / "f")
    with open(tmp_path / "f" / MANIFEST, "wb") as f:
        f.truncate(64 * MAX_BYTES)  # 1 GiB, sparse: refused after reading at most 16 MiB of it
    with pytest.raises(FeatureFileError, match="manifest.json: larger than 16 MiB"):
        read_features(tmp_path / "f")
    (tmp_path / "f" / MANIFEST).write_bytes(b'{"format": "bigan-repr-features/1", "layer": "\xff"}')
    with pytest.raises(FeatureFileError, match=r"manifest.json: not UTF-8 text \(byte 0xff at offset 46\)"):
        read_features(tmp_path / "f")
    (tmp_path / "f" / MANIFEST).write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(FeatureFileError, match="manifest.json: nested more than 32 deep"):
        read_features(tmp_path / "f")


# ---- fuzzing: read_features succeeds or raises FeatureFileError, whatever the manifest says ---------

_NAMES = ["part-00000.npy", "part-00001.npy", "part-00000.labels.npy", "part-00000.ids.npy", "part-00001.ids.npy",
          "int_ids.npy", "ints.npy", "one_d.npy", "empty.npy", "text.npy", "archive.npz", "sub", "loop.npy",
          "outside.npy", "missing.npy", "../part-00000.npy", "/etc/passwd", "", ".", "..", MANIFEST, "a\0b"]
_ROWS = {"part-00000.npy": 3, "part-00001.npy": 2, "ints.npy": 3, "loop.npy": 3, "outside.npy": 3}
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=8)
_DELETE = object()
_counts = st.integers(-1, 4) | st.sampled_from(["3", 3.0, None, True, 2**70, float("nan")])
_values = st.sampled_from(_NAMES) | _counts | _json | st.just(_DELETE)
_places = st.sampled_from([("format",), ("count",), ("dim",), ("shards",), ("step",), ("run",), ("layer",),
                           ("shards", 0), ("shards", 2), *(("shards", i, key) for i in (0, 1)
                                                          for key in ("features", "count", "labels", "ids"))])


def _mutated(manifest, mutations):
    """``manifest`` with each (place, value) of ``mutations`` set, or deleted, where the place exists."""
    manifest = json.loads(json.dumps(manifest))
    for place, value in mutations:
        parent = manifest
        for key in place[:-1]:
            inside = (isinstance(parent, dict) and key in parent
                      or isinstance(parent, list) and isinstance(key, int) and key < len(parent))
            parent = parent[key] if inside else None
        key = place[-1]
        if isinstance(parent, dict) and (value is not _DELETE or key in parent):
            parent.pop(key) if value is _DELETE else parent.__setitem__(key, value)
        elif isinstance(parent, list) and isinstance(key, int) and key <= len(parent):
            parent[key:key + 1] = [] if value is _DELETE else [value]
    return manifest


def _fitted(manifest):
    """``manifest`` with its counts made to agree with the shard files, where it names known ones."""
    manifest = json.loads(json.dumps(manifest))
    shards = manifest.get("shards") if isinstance(manifest, dict) else None
    if isinstance(shards, list):
        for shard in shards:
            if isinstance(shard, dict) and str(shard.get("features")) in _ROWS:
                shard["count"] = _ROWS[str(shard["features"])]
        manifest["count"] = sum(s["count"] for s in shards if isinstance(s, dict) and type(s.get("count")) is int)
    return manifest


def _fuzz_folder(root):
    """A feature folder with good and bad shard files for fuzzed manifests to name."""
    _folder(root)
    np.save(root / "ints.npy", np.ones((3, 3), np.int64))
    np.save(root / "one_d.npy", np.ones(3, np.float32))
    np.save(root / "int_ids.npy", np.arange(2))  # ids that are numbers: they do not join with strings
    (root / "empty.npy").write_bytes(b"")
    (root / "text.npy").write_text("not an array")
    np.savez(root / "archive.npz", a=np.ones(3))
    (root / "sub").mkdir()
    os.symlink("loop.npy", root / "loop.npy")
    os.symlink(root.parent / "secret.npy", root / "outside.npy")
    np.save(root.parent / "secret.npy", np.ones((3, 3), np.float32))


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "f"
    _fuzz_folder(root)
    (root / "good.json").write_text((root / MANIFEST).read_text())  # the valid manifest fuzzing starts from
    return root


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(st.tuples(_places, _values), max_size=3), fit=st.booleans(),
       raw=st.one_of(st.none(), st.none(), st.none(), _json.map(lambda value: json.dumps(value).encode()),
                     st.binary(max_size=60), st.text(string.printable, max_size=60).map(str.encode)))
def test_fuzzed_manifests_read_or_raise_feature_file_error(fuzz_folder, mutations, fit, raw):
    """A valid manifest with up to three fields changed, deleted or added, or any bytes at all."""
    if raw is None:
        manifest = _mutated(json.loads((fuzz_folder / "good.json").read_text()), mutations)
        raw = json.dumps(_fitted(manifest) if fit else manifest).encode()
    (fuzz_folder / MANIFEST).write_bytes(raw)
    try:
        stored = read_features(fuzz_folder)
    except FeatureFileError as e:
        assert "\n" not in str(e)
    else:
        assert stored.count == sum(len(s) for s in stored.shards) and stored.features().dtype == np.float32
