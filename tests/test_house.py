"""The house rules of seedmagic/: modules that hold one idea, say so, and keep to their own names.

- No module is over 600 lines and no class over 300, unless its docstring says why ("longer than ...").
- Every module opens with a docstring.
- No module imports another module's private names.
- Where a module declares ``__all__``, it names every public class and function the module defines, and only names
  that exist.
- Each module imports first in a fresh interpreter: no import circle hides behind the order the package uses.
- No circle of module-level imports, those under ``if TYPE_CHECKING:`` left out: the layering runs one way.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import seedmagic

PACKAGE = Path(seedmagic.__file__).parent
MODULE_LINES = 600
CLASS_LINES = 300
REASON = "longer than"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


MODULES = _modules()
IDS = [_name(path) for path in MODULES]


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_a_module_is_short_or_says_why(path: Path) -> None:
    tree = _tree(path)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MODULE_LINES:
        assert REASON in (ast.get_docstring(tree) or ""), f"{_name(path)} has {lines} lines and no reason"
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > CLASS_LINES:
                assert REASON in (ast.get_docstring(node) or ""), (
                    f"{_name(path)}.{node.name} has {length} lines and no reason"
                )


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_a_module_opens_with_a_docstring(path: Path) -> None:
    docstring = ast.get_docstring(_tree(path))
    assert docstring and docstring.strip(), f"{_name(path)} has no opening docstring"


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = _name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_no_module_imports_anothers_private_names(path: Path) -> None:
    crossings = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(path, node)
            if source.split(".")[0] != "seedmagic":
                continue
            crossings += [
                f"{source}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not (alias.name.startswith("__") and alias.name.endswith("__"))
            ]
    assert not crossings, f"{_name(path)} imports private names: {crossings}"


def test_the_rule_against_private_imports_reads_relative_imports() -> None:
    inner = PACKAGE / "notebook" / "replay.py"
    node = ast.parse("from ..records import _x\nfrom .verify import _y\nfrom . import report").body
    assert [_absolute(inner, n) for n in node if isinstance(n, ast.ImportFrom)] == [
        "seedmagic.records",
        "seedmagic.notebook.verify",
        "seedmagic.notebook",
    ]


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_all_names_every_public_definition(path: Path) -> None:
    tree = _tree(path)
    declared: list[str] | None = None
    defined = set()
    bound = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            if not node.name.startswith("_"):
                defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    bound.add(target.id)
                    if target.id == "__all__" and node.value is not None:
                        declared = list(ast.literal_eval(node.value))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if declared is None:
        pytest.skip("declares no __all__")
    assert len(declared) == len(set(declared)), f"{_name(path)}.__all__ repeats a name"
    assert not defined - set(declared), f"{_name(path)}.__all__ leaves out {sorted(defined - set(declared))}"
    # A name may also come from the module's ``__getattr__`` (seedmagic's lazy ``SeedSweep``): ask the module.
    module = importlib.import_module(_name(path))
    missing = [name for name in declared if name not in bound and not hasattr(module, name)]
    assert not missing, f"{_name(path)}.__all__ names what it does not define: {missing}"


def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    names = [name for name in IDS if not name.endswith("__main__")]
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"import {name}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name in names
    }
    failed = {}
    for name, run in runs.items():
        out, _ = run.communicate(timeout=120)
        if run.returncode:
            failed[name] = out.strip().splitlines()[-1:]
    assert not failed, failed


def test_importing_seedmagic_imports_no_framework() -> None:
    code = (
        "import sys, seedmagic, seedmagic.magics, seedmagic.panel, seedmagic.notebook.verify\n"
        "print(sorted(m for m in ('torch', 'numpy', 'tensorflow', 'jax', 'cupy', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _runtime_imports(path: Path) -> set[str]:
    """The seedmagic modules ``path`` imports when it is imported: its module-level imports, outside
    ``if TYPE_CHECKING:`` and outside functions."""
    found = set()
    known = set(IDS)
    for node in _tree(path).body:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(path, node)
            for alias in node.names:  # `from . import clocks` names a module
                if f"{source}.{alias.name}" in known:
                    found.add(f"{source}.{alias.name}")
            if source in known:
                found.add(source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
    return found


def test_no_circle_of_module_level_imports() -> None:
    graph = {name: _runtime_imports(path) for name, path in zip(IDS, MODULES, strict=True)}
    for name in IDS:  # a package's submodule imports its package first
        parent = name.rpartition(".")[0]
        if parent:
            graph[name].add(parent)
    state: dict[str, int] = {}  # 1 on the path, 2 done
    circles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1 and not other.startswith(name + ".") and not name.startswith(other + "."):
                circles.append([*path[path.index(other) :], name, other] if other in path else [name, other])
            elif other not in state:
                visit(other, [*path, name])
        state[name] = 2

    for name in IDS:
        if name not in state:
            visit(name, [])
    assert not circles, circles
