"""The names ``--data`` accepts, apart from the readers behind them.

``config.py`` describes and validates a source from here; ``data/sources.py`` registers one reader
per name and checks at import that the two lists agree, so a source is named in one place.
"""

from __future__ import annotations

from pathlib import Path

NAMED_SOURCES = ("digits", "fashion-mnist", "mnist", "cifar10", "svhn", "stl10")
# the NAME:PATH forms, and whether training can decode each one file by file (a DataLoader stream)
FILE_SOURCES = {"folder": True, "npz": False}


def file_source(source: str) -> str | None:
    """'folder' for ``folder:PATH``, 'npz' for ``npz:PATH``; None for a named dataset."""
    name, colon, _ = source.partition(":")
    return name if colon and name in FILE_SOURCES else None


def source_path(source: str) -> Path | None:
    """The file or folder of a ``NAME:PATH`` file source; None for a named dataset."""
    return Path(source.partition(":")[2]).expanduser() if file_source(source) else None


def source_name(source: str) -> str:
    """'folder' for ``folder:PATH``, 'npz' for ``npz:PATH``, a named dataset's own name."""
    return file_source(source) or source


def source_names() -> list[str]:
    """Every valid ``--data`` form: the named datasets, then ``NAME:PATH`` for each file source."""
    return [*NAMED_SOURCES, *(f"{name}:PATH" for name in FILE_SOURCES)]


def decodes_lazily(source: str) -> bool:
    """Whether training can read ``source`` file by file instead of holding it in memory."""
    return FILE_SOURCES.get(file_source(source) or "", False)


def lazy_sources() -> list[str]:
    """The ``NAME:PATH`` forms that can be decoded file by file, for messages."""
    return [f"{name}:PATH" for name, lazy in FILE_SOURCES.items() if lazy]
