"""Reading JSON and YAML that anyone may have written: ``--config`` files, a run's ``config.json``,
``metrics.jsonl`` and ``labelled.json``, the ``report.json`` files ``bigan compare`` reads. The one reader.

Everything is bounded before a Python object is built from it: only a regular file is opened (a
FIFO, a device or a folder is refused without blocking on it); at most :data:`MAX_BYTES` are read, or
the bound a caller sizes by what the largest valid run writes of its file; a JSON-lines file is
streamed a line at a time (:func:`iter_json_lines`), so a caller keeps only the rows it needs; the
bytes must be UTF-8 (a bad byte is named with its offset); nesting is at most :data:`MAX_DEPTH` deep;
every number is finite (JSON's ``NaN``/``Infinity`` tokens are refused, and a YAML ``.nan``/``.inf``
or a number too large for a float is named where it sits); a YAML document is composed into its node
graph first, and one whose aliases would expand it beyond :data:`MAX_NODES` nodes, or that refers to
itself, is refused before any object is constructed (an alias bomb of a few hundred bytes stands for
billions of values). The top-level type is checked by :func:`read_mapping`. Every problem is one
:class:`UntrustedFileError` line naming the file, and messages show values through :func:`shown`,
which never formats more than a few dozen characters of any value, however large.

It lives in ``runs/``, beside the atomic writes, because it is file handling with no knowledge of
what the files mean: ``config``, ``runs/`` and ``report/`` all read through it, and it imports only
``errors`` (and PyYAML when a YAML file is read).
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import UserError

MAX_BYTES = 16 * 2**20  # a run's config.json is about 2 KB, a report.json with every method about 20 KB
MAX_LINE_BYTES = 2**20  # one metrics.jsonl row is about 600 bytes
MAX_DEPTH = 32  # a config nests 3 deep (section, key, list); a report 5
MAX_NODES = 100_000  # values a YAML document may expand to, aliases followed; a config holds about 70
YAML_SUFFIXES = (".yaml", ".yml")

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 40, 40, 2, 4, 4
_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "a list",
          dict: "an object", type(None): "null"}


class UntrustedFileError(UserError):
    """A file that cannot be used as it is; ``reason`` is the message without the file's name."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, computed without formatting the whole value."""
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int too long to print (sys.int_info.default_max_str_digits)
        return f"<an integer of {value.bit_length()} bits>"
    return cut(text, limit)


def cut(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters, the cut marked."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind_of(value: Any) -> str:
    """'a list', 'an object', ...: a value's JSON type, for messages."""
    return _TYPES.get(type(value), type(value).__name__)


_NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def open_regular(path: str | Path) -> IO[bytes]:
    """``path`` opened for reading in binary, refused unless it is a regular file. Opened without blocking
    and checked on the open descriptor: a FIFO would block a plain ``open`` until someone writes to it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise UntrustedFileError(path, f"cannot be read ({e.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
            raise UntrustedFileError(path, f"is {kind}, not a regular file; not a file this program reads")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, refused beyond ``max_bytes`` without reading more than one byte past them."""
    with open_regular(path) as f:
        try:
            raw = f.read(max_bytes + 1)
        except OSError as e:
            raise UntrustedFileError(path, f"cannot be read ({e.strerror})") from None
    if len(raw) > max_bytes:
        raise UntrustedFileError(path, f"larger than {_size(max_bytes)}; not a file this program reads")
    return raw


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n:,} bytes"


def decode(raw: bytes, path: str | Path, start: int = 0) -> str:
    """UTF-8 text; a bad byte is named with its offset in the file (``start``: the offset of ``raw``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UntrustedFileError(path, f"not UTF-8 text (byte {raw[e.start]:#04x} at offset {start + e.start})") \
            from None


class _Written(float):
    """A ``NaN``/``Infinity`` token (not JSON, though Python's parser takes it), shown as written when
    :func:`_check_values` refuses it."""

    def __str__(self) -> str:
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[float.__repr__(self)]


def parse_json(text: str, path: str | Path) -> Any:
    """JSON text parsed strictly, nesting at most :data:`MAX_DEPTH` deep and every number finite."""
    try:
        data = json.loads(text, parse_constant=_Written)
    except RecursionError:
        raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep") from None
    except ValueError as e:  # JSONDecodeError, and integers too long to convert
        raise UntrustedFileError(path, f"not readable JSON ({cut(str(e))})") from None
    _check_values(data, path)
    return data


def _check_values(data: Any, path: str | Path) -> None:
    """Refuse nesting beyond MAX_DEPTH and any number that is not finite (a YAML ``.nan``, a JSON 1e999),
    naming where it sits. One walk of the parsed data, level by level."""
    level: list[tuple[str, Any]] = [("", data)]
    for _ in range(MAX_DEPTH + 1):
        for where, value in level:
            if isinstance(value, float) and not math.isfinite(value):
                at = f" at {where}" if where else ""
                raise UntrustedFileError(path, f"holds {value}{at}: every number must be finite")
        level = [(f"{where}.{cut(str(k), 40)}" if where else cut(str(k), 40), v)
                 for where, item in level if isinstance(item, dict) for k, v in item.items()] + \
                [(f"{where}[{i}]", v) for where, item in level if isinstance(item, list) for i, v in enumerate(item)]
        if not level:
            return
    raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep")


_NESTING_REFUSAL = re.compile(r"nesting depth|too deep|nested too", re.IGNORECASE)


def parse_yaml(text: str, path: str | Path) -> Any:
    """YAML text parsed by the safe loader: its events counted and its node graph measured before any
    object is built."""
    import yaml

    try:
        _check_events(text, path)  # first: libyaml's composer recurses, and deep nesting would crash it
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_node_graph(node, path)
            data = loader.construct_document(node)
            _check_values(data, path)
            return data
        finally:
            loader.dispose()
    except UntrustedFileError:
        raise
    except (yaml.YAMLError, ValueError, TypeError) as e:  # ValueError/TypeError: a scalar its tag refuses
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if _NESTING_REFUSAL.search(problem):  # the parser's own depth limit (libyaml >= 0.2.6's scanner)
            raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep") from None
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise UntrustedFileError(path, f"not readable YAML ({cut(problem)}{where})") from None


def _check_events(text: str, path: str | Path) -> None:
    """Refuse a document nested more than MAX_DEPTH deep or of more than MAX_NODES values, from its
    parse events alone (no node is built)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    depth = nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
                nodes += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth > MAX_DEPTH:
                raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep")
            if nodes > MAX_NODES:
                raise UntrustedFileError(path, f"holds more than {MAX_NODES} values; not a file this program reads")
    finally:
        loader.dispose()


def _children(node: Any) -> list:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_node_graph(root: Any, path: str | Path) -> None:
    """Refuse a node graph that expands (aliases followed) beyond MAX_NODES or MAX_DEPTH, or into itself.
    Each node is visited once: an alias bomb is measured in time linear in its text."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes it expands to, its depth)
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            kids = [measured[id(k)] for k in _children(node)]
            size, depth = 1 + sum(k[0] for k in kids), 1 + max((k[1] for k in kids), default=0)
            if size > MAX_NODES:
                raise UntrustedFileError(path, f"its aliases expand to more than {MAX_NODES} values "
                                               "(an alias bomb?); not a file this program reads")
            if depth > MAX_DEPTH:
                raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep")
            measured[key] = (size, depth)
            open_nodes.discard(key)
        elif key in open_nodes:
            raise UntrustedFileError(path, "an alias refers to the value that holds it (a recursive structure)")
        elif key not in measured:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))


def read_data(path: str | Path, *, yaml: bool | None = None, max_bytes: int = MAX_BYTES) -> Any:
    """A JSON file's (or, ``yaml`` True or a .yaml/.yml name, a YAML file's) data, every bound checked."""
    text = decode(read_bytes(path, max_bytes), path)
    if yaml is None:
        yaml = Path(path).suffix.lower() in YAML_SUFFIXES
    return parse_yaml(text, path) if yaml else parse_json(text, path)


def read_mapping(path: str | Path, *, yaml: bool | None = None, what: str = "an object",
                 max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """As :func:`read_data`, refused unless the top level is a mapping (``what`` names it in the message)."""
    data = read_data(path, yaml=yaml, max_bytes=max_bytes)
    if not isinstance(data, dict):
        raise UntrustedFileError(path, f"expected {what} at the top level, not {kind_of(data)} ({shown(data)})")
    return data


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each line of a JSON-lines file, read one line at a time (a caller that
    keeps what it needs holds one row, however long the file), each line bounded like a file.

    A last line without its newline that does not parse is what a writer killed mid-line left, and is
    skipped; any other line that does not parse is refused, naming its line.
    """
    offset = 0
    with open_regular(path) as f:
        try:
            for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
                if len(raw) > MAX_LINE_BYTES:
                    raise UntrustedFileError(path, f"line {number} is longer than {_size(MAX_LINE_BYTES)}")
                text, torn = decode(raw, path, offset), not raw.endswith(b"\n")
                offset += len(raw)
                if text.strip():
                    try:
                        row = parse_json(text, path)
                    except UntrustedFileError as e:
                        if torn:
                            continue
                        raise UntrustedFileError(path, f"line {number}: {e.reason}") from None
                    yield number, row
        except OSError as e:
            raise UntrustedFileError(path, f"cannot be read ({e.strerror})") from None


def read_json_lines(path: str | Path) -> list[tuple[int, Any]]:
    """Every line of :func:`iter_json_lines`, in a list: for files a run keeps small."""
    return list(iter_json_lines(path))
