"""A shard directory's ``manifest.json``: read within bounds and checked, field by field, before use.

The one validator of the manifest. It is read by ``runs.untrusted`` as UTF-8 JSON of at most
:data:`MAX_BYTES`; it must
be an object with ``format`` :data:`FORMAT`, ``count`` (rows, an integer >= 0), ``dim`` (an integer
>= 1), and ``shards``: a non-empty list of objects, each with ``features`` (a file name), ``count``
(an integer >= 0) and optionally ``labels`` and ``ids`` (file names). That the counts agree with
the files and add up to ``count`` is checked when the files are read. Every other key is
metadata; the ones encode writes have their types checked (``step`` an integer >= 0; ``run``,
``layer``, ``source``, ``split``, ``data_dir`` strings). A shard file is named by a plain file name
in the folder, as encode writes it: a path (``../x.npy``, ``/abs/x.npy``, ``sub/x.npy``) or a link
that resolves outside the folder is refused. Each problem is one :class:`ManifestError` line
naming the manifest file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..runs.untrusted import UntrustedFileError, kind_of, read_data, shown

FORMAT = "bigan-repr-features/1"
MANIFEST = "manifest.json"
MAX_BYTES = 16 * 2**20  # a manifest of a billion rows in 16384-row shards is about 7 MB
META_TYPES: dict[str, type] = {"step": int, "run": str, "layer": str, "source": str, "split": str, "data_dir": str}


class FeatureFileError(UserError):
    """A feature file or shard directory is missing, malformed or inconsistent; the message names it."""


class ManifestError(FeatureFileError):
    """A manifest that cannot be used; ``reason`` is the message without the file's name."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Shard:
    features: str
    count: int
    labels: str | None = None
    ids: str | None = None


@dataclass(frozen=True)
class Manifest:
    path: Path
    count: int
    dim: int
    shards: tuple[Shard, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def files(self) -> set[str]:
        """Every name in the folder the manifest accounts for, itself included."""
        named = {name for s in self.shards for name in (s.features, s.labels, s.ids) if name is not None}
        return named | {MANIFEST}


def _shown(value: Any) -> str:
    return f"{shown(value, 40)} ({kind_of(value)})"


def _count(value: Any, what: str, path: Path, least: int = 0) -> int:
    if type(value) is not int or value < least:
        raise ManifestError(path, f"{what} must be an integer >= {least}, not {_shown(value)}")
    return value


def _file_name(value: Any, what: str, path: Path) -> str:
    if not isinstance(value, str):
        raise ManifestError(path, f"{what} must be a file name, not {_shown(value)}")
    if value in ("", ".", "..", MANIFEST) or "/" in value or os.sep in value or "\0" in value:
        raise ManifestError(path, f"{what} {value!r} is not a shard file in the manifest's folder "
                                  "(shards are named by file name, e.g. part-00000.npy)")
    return value


def _shard(entry: Any, i: int, path: Path) -> Shard:
    if not isinstance(entry, dict):
        raise ManifestError(path, f"shards[{i}] must be an object, not {_shown(entry)}")
    for key in ("features", "count"):
        if key not in entry:
            raise ManifestError(path, f"shards[{i}] has no {key!r}")
    sides = {k: _file_name(entry[k], f"shards[{i}].{k}", path) if entry.get(k) is not None else None
             for k in ("labels", "ids")}
    return Shard(_file_name(entry["features"], f"shards[{i}].features", path),
                 _count(entry["count"], f"shards[{i}].count", path), **sides)


def check_manifest(data: Any, path: Path) -> Manifest:
    """The manifest ``data`` (parsed JSON) checked; ``path`` is what messages name."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = f"format {_shown(data.get('format'))}" if isinstance(data, dict) else _shown(data)
        raise ManifestError(path, f"not a bigan-repr feature manifest ({found}; expected an object with format "
                                  f"{FORMAT!r})")
    for key in ("count", "dim", "shards"):
        if key not in data:
            raise ManifestError(path, f"has no {key!r}")
    count, dim = _count(data["count"], "count", path), _count(data["dim"], "dim", path, least=1)
    if not isinstance(data["shards"], list) or not data["shards"]:
        raise ManifestError(path, f"shards must be a non-empty list of shard objects, not {_shown(data['shards'])}")
    shards = tuple(_shard(entry, i, path) for i, entry in enumerate(data["shards"]))
    meta = {k: v for k, v in data.items() if k not in ("format", "count", "dim", "shards")}
    for key, kind in META_TYPES.items():
        if key in meta and (type(meta[key]) is not kind or (kind is int and meta[key] < 0)):
            raise ManifestError(path, f"{key} must be {'an integer >= 0' if kind is int else 'a string'}, "
                                      f"not {_shown(meta[key])}")
    return Manifest(path, count, dim, shards, meta)


def _check_links(folder: Path, manifest: Manifest) -> None:
    """Refuse a shard file that is a link resolving outside the folder."""
    root = folder.resolve()
    for name in sorted(manifest.files() - {MANIFEST}):
        if not (folder / name).is_symlink():
            continue
        try:
            target = (folder / name).resolve()
        except (OSError, RuntimeError):  # a loop of links
            raise ManifestError(manifest.path, f"{name} is a link that cannot be followed") from None
        if not target.is_relative_to(root):
            raise ManifestError(manifest.path, f"{name} is a link to {target}, outside the feature folder")


def read_manifest(folder: str | Path) -> Manifest:
    """The checked manifest of the shard directory ``folder``; every problem a :class:`ManifestError`."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(folder, f"no {MANIFEST}; not a feature directory (or its encode did not finish)")
    try:  # the one bounded reader of files from elsewhere: size, UTF-8, nesting
        data = read_data(path, yaml=False, max_bytes=MAX_BYTES)
    except UntrustedFileError as e:
        raise ManifestError(path, e.reason) from None
    manifest = check_manifest(data, path)
    _check_links(folder, manifest)
    return manifest
