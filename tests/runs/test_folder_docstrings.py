"""Each folder's docstring is its map: runs/ and data/ name every module they hold."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "bigan_repr"


@pytest.mark.parametrize("folder", ["runs", "data"])
def test_the_folder_docstring_names_every_module(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
    modules = sorted(p.stem for p in (PACKAGE / folder).glob("*.py") if p.stem != "__init__")
    assert modules and [m for m in modules if f":mod:`{m}`" not in doc and f"`{m}." not in doc] == []
