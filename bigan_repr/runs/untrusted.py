"""Reading JSON and YAML that anyone may have written: ``--config`` files, a run's ``config.json`` and
``metrics.jsonl``, the ``report.json`` files ``bigan compare`` reads. The one reader of such files.

Everything is bounded before a Python object is built from it: at most :data:`MAX_BYTES` are read;
the bytes must be UTF-8 (a bad byte is named with its offset); nesting is at most :data:`MAX_DEPTH`
deep; a YAML document is composed into its node graph first, and one whose aliases would expand it
beyond :data:`MAX_NODES` nodes, or that refers to itself, is refused before any object is
constructed (an alias bomb of a few hundred bytes stands for billions of values). The top-level
type is checked by :func:`read_mapping`. Every problem is one :class:`UntrustedFileError` line naming
the file, and messages show values through :func:`shown`, which never formats more than a few dozen
characters of any value, however large.

It lives in ``runs/``, beside the atomic writes, because it is file handling with no knowledge of
what the files mean: ``config``, ``runs/`` and ``report/`` all read through it, and it imports only
``errors`` (and PyYAML when a YAML file is read).
"""

from __future__ import annotations

import json
import re
import reprlib
from pathlib import Path
from typing import Any

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


def read_bytes(path: str | Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, refused beyond ``max_bytes`` without reading more than one byte past them."""
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise UntrustedFileError(path, f"cannot be read ({e.strerror})") from None
    if len(raw) > max_bytes:
        raise UntrustedFileError(path, f"larger than {max_bytes // 2**20} MiB; not a file this program reads")
    return raw


def decode(raw: bytes, path: str | Path, start: int = 0) -> str:
    """UTF-8 text; a bad byte is named with its offset in the file (``start``: the offset of ``raw``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UntrustedFileError(path, f"not UTF-8 text (byte {raw[e.start]:#04x} at offset {start + e.start})") \
            from None


def parse_json(text: str, path: str | Path) -> Any:
    """JSON text parsed, nesting at most :data:`MAX_DEPTH` deep."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise UntrustedFileError(path, f"nested more than {MAX_DEPTH} deep") from None
    except ValueError as e:  # JSONDecodeError, and integers too long to convert
        raise UntrustedFileError(path, f"not readable JSON ({cut(str(e))})") from None
    _check_depth(data, path)
    return data


def _check_depth(data: Any, path: str | Path) -> None:
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item)]
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
            return loader.construct_document(node)
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


def read_mapping(path: str | Path, *, yaml: bool | None = None, what: str = "an object") -> dict[str, Any]:
    """As :func:`read_data`, refused unless the top level is a mapping (``what`` names it in the message)."""
    data = read_data(path, yaml=yaml)
    if not isinstance(data, dict):
        raise UntrustedFileError(path, f"expected {what} at the top level, not {kind_of(data)} ({shown(data)})")
    return data


def read_json_lines(path: str | Path) -> list[tuple[int, Any]]:
    """(line number, parsed value) of each line of a JSON-lines file, each line bounded like a file.

    A last line without its newline that does not parse is what a writer killed mid-line left, and is
    skipped; any other line that does not parse is refused, naming its line.
    """
    rows, offset = [], 0
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
                if len(raw) > MAX_LINE_BYTES:
                    raise UntrustedFileError(path, f"line {number} is longer than {MAX_LINE_BYTES // 2**20} MiB")
                text, torn = decode(raw, path, offset), not raw.endswith(b"\n")
                offset += len(raw)
                if text.strip():
                    try:
                        rows.append((number, parse_json(text, path)))
                    except UntrustedFileError as e:
                        if not torn:
                            raise UntrustedFileError(path, f"line {number}: {e.reason}") from None
    except OSError as e:
        raise UntrustedFileError(path, f"cannot be read ({e.strerror})") from None
    return rows
