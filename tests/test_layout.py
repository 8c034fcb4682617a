"""The package's plan holds: folders by job, imports that run one way (no circle, not even through an
import made for type checking only), short modules, and a top folder that holds only the package's
entry points. Read from the source with ``ast``, so the test sees every import, however it is guarded."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "bigan_repr"
EVAL = REPO / "eval"  # installed as bigan_repr.eval (pyproject's package-dir)
TOP_FILES = {"__init__.py", "config.py", "presets.py", "errors.py", "cli.py", "cli_flags.py"}
LONG_ALLOWED = {"config.py", "cli.py"}  # the two files allowed past 300 lines
TRAINING_COMMANDS = {"train", "pipeline", "finetune"}  # cli.py's commands that train; the others use a trained model
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    """{dotted name as installed: file} of every module, eval/'s included ('bigan_repr.data.sources', ...)."""
    found = {}
    for root, name in ((PACKAGE, ("bigan_repr",)), (EVAL, ("bigan_repr", "eval"))):
        for path in root.rglob("*.py"):
            parts = (*name, *path.relative_to(root).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path], tree: ast.AST | None = None) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (top level, functions, TYPE_CHECKING),
    or only within ``tree``, a part of that file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree or ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:  # 'a.b.func' -> 'a.b'
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name and candidate.startswith("bigan_repr"):
                out.add(candidate)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    # a package's __init__ only documents its folder: importing a module inside it runs it, nothing more
    return {name: {m for m in _imports(name, path, modules) if modules[m].name != "__init__.py" or m == "bigan_repr"}
            for name, path in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_import_graph_is_read():
    graph = _graph()
    assert "bigan_repr.nets.bigan" in graph["bigan_repr.model.networks"]
    assert "bigan_repr.train.assembly" in graph["bigan_repr.train.state"]
    assert "bigan_repr.eval.knn_index" in graph["bigan_repr.eval.knn"]  # eval/'s relative imports
    assert "bigan_repr.eval.protocol" in graph["bigan_repr.cli"]


def test_one_installed_name_and_every_package_folder_installed():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert set(tool["packages"]) == folders
    assert all(name.split(".")[0] == "bigan_repr" for name in tool["packages"])
    assert "py-modules" not in tool  # no top-level module (cli, eval) beside the package
    assert tool["package-dir"] == {"bigan_repr.eval": "eval"}


def test_eval_imports_nothing_of_the_package_above_it():
    graph = _graph()
    above = {m for name, deps in graph.items() if name.startswith("bigan_repr.eval") for m in deps
             if not m.startswith("bigan_repr.eval")}
    assert above == set()


def _training_imports(deps: set[str]) -> list[str]:
    return sorted(m for m in deps if m == "bigan_repr.train" or m.startswith("bigan_repr.train."))


def test_using_a_trained_model_imports_nothing_of_training():
    # features/ and report/ read a trained run through model/; only the CLI's commands that train reach train/
    graph = _graph()
    users = {name: found for name, deps in graph.items()
             if name.startswith(("bigan_repr.features", "bigan_repr.report")) and (found := _training_imports(deps))}
    assert users == {}
    modules = _modules()
    cli = modules["bigan_repr.cli"]
    by_part = {getattr(node, "name", f"line {node.lineno}"): _training_imports(_imports("bigan_repr.cli", cli, modules,
                                                                                        node))
               for node in ast.parse(cli.read_text()).body}
    assert {part for part, found in by_part.items() if found} == TRAINING_COMMANDS
    assert by_part["train"] == ["bigan_repr.train.trainer"]  # the check reads imports inside commands


def test_no_import_circle_in_the_package():
    assert _find_cycle(_graph()) is None, f"import circle: {' -> '.join(_find_cycle(_graph()))}"


def test_the_cycle_finder_finds_one():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("folder", ["data", "nets", "losses", "model", "terms", "train", "features", "runs", "report",
                                    "eval"])
def test_each_folder_says_what_it_owns_and_may_import(folder):
    doc = ast.get_docstring(ast.parse((EVAL if folder == "eval" else PACKAGE / folder).joinpath("__init__.py")
                                      .read_text()))
    assert doc and doc.startswith(f"{folder}/:") and "may import" in doc.lower()


def test_only_entry_points_in_the_top_folder():
    assert {p.name for p in PACKAGE.glob("*.py")} == TOP_FILES


def test_modules_stay_short():
    long = {str(p.relative_to(REPO)): n for p in _modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES and p.name not in LONG_ALLOWED}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_two_modules_share_a_name_across_package_and_eval():
    names = [p.stem for p in _modules().values() if p.name != "__init__.py"]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
