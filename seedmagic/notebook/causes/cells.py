"""Reading a notebook's cells as Python: IPython syntax turned into Python and parsed, and what a name means at a cell
(its import aliases)."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .rules import is_known
from .syntax import walk

if TYPE_CHECKING:
    from IPython.core.inputtransformer2 import TransformerManager


# Cell magics whose body is Python that runs in the notebook's namespace.
PYTHON_CELL_MAGICS = frozenset({"seeded", "time", "timeit", "capture", "prun"})


@dataclass
class Cell:
    index: int
    tree: ast.Module
    lines: list[str]  # the raw source's lines
    offset: int  # raw lines before the Python: a %%magic line, blank lines
    magic: tuple[str, str] | None  # (name, arguments) of a %%cell magic
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def line(self, node: ast.AST) -> int:
        return self.offset + getattr(node, "lineno", 1)

    def text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


def _blank(lines: list[str], start: int) -> int:
    """The index of the first line from ``start`` on that is not blank."""
    return next((i for i in range(start, len(lines)) if lines[i].strip()), len(lines))


@functools.lru_cache(maxsize=1)
def _transformer() -> TransformerManager:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()  # type: ignore[no-untyped-call]  # an unannotated __init__


@functools.lru_cache(maxsize=1024)
def read_cell(index: int, source: str | None) -> Cell | None:
    """The cell as Python, or None when it is not Python (markdown, %%bash, a syntax error)."""
    if not source or not source.strip():
        return None
    lines = source.splitlines()
    offset, magic = _blank(lines, 0), None
    if lines[offset].startswith("%%"):
        name, _, args = lines[offset][2:].strip().partition(" ")
        if name not in PYTHON_CELL_MAGICS:
            return None
        magic, offset = (name, args.strip()), _blank(lines, offset + 1)
    try:
        # IPython drops leading blank lines: they are counted in ``offset`` instead
        tree = ast.parse(_transformer().transform_cell("\n".join(lines[offset:])))
    except Exception:  # a cell that does not read as Python is skipped, whatever the reason
        return None
    cell = Cell(index, tree, lines, offset, magic)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            cell.parents[child] = parent
    return cell


class Names:
    """What a name means at a cell: import aliases (``np`` is ``numpy``) and ``from x import *`` modules."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = set()  # names bound by an import
        self.stars: list[str] = []

    def copy(self) -> Names:
        names = Names()
        names.aliases, names.modules, names.stars = dict(self.aliases), set(self.modules), list(self.stars)
        return names

    def learn(self, tree: ast.Module) -> None:
        for node in walk(tree, into_scopes=False):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self.aliases[bound] = alias.name if alias.asname else bound
                    self.modules.add(bound)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.stars.append(node.module)
                    else:
                        bound = alias.asname or alias.name
                        self.aliases[bound] = f"{node.module}.{alias.name}"
                        self.modules.add(bound)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                # randn = torch.randn
                target, value = node.targets[0].id, node.value
                if isinstance(value, (ast.Name, ast.Attribute)) and self.is_module(value):
                    self.aliases[target] = self.qualname(value) or target
                    self.modules.add(target)

    def qualname(self, node: ast.AST) -> str | None:
        """``np.random.rand`` -> ``numpy.random.rand``; an unknown bare name stays itself (``print``, ``hash``)."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            for module in reversed(self.stars):
                if is_known(f"{module}.{node.id}"):
                    return f"{module}.{node.id}"
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def is_module(self, node: ast.AST) -> bool:
        """Whether ``node`` is a dotted name that starts at an import (``np.random``), not an object (``rng``)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.modules
