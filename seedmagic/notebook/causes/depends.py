"""Which statements a cell depends on: those of earlier cells that bind or change a name it reads, and theirs in
turn."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from .bindings import Notebook, changed_in_place, notebook_up_to
from .cells import Cell
from .syntax import COMPREHENSIONS, last_name, local_names, roots, walk

# What stands for the gradients ``loss.backward()`` leaves in the parameters, that ``opt.step()`` and ``p.grad`` read.
GRADIENTS = "<gradients>"


def _uses(stmt: ast.stmt) -> set[str]:
    """Names the statement reads from the notebook: not those local to its comprehensions and functions; and the
    gradients, where it steps an optimizer or reads ``.grad``."""
    loads, local = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.add(node.id)
        elif (isinstance(node, ast.Attribute) and node.attr == "grad" and isinstance(node.ctx, ast.Load)) or (
            isinstance(node, ast.Call) and last_name(node) == "step"
        ):
            loads.add(GRADIENTS)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *COMPREHENSIONS)):
            local |= local_names(node)
    return loads - local


def _touches(stmt: ast.stmt, notebook: Notebook) -> tuple[set[str], set[str]]:
    """(names the statement binds or may change, with those that hold the same objects; names it surely rebinds)."""
    touched: set[str] = set()
    nodes = list(walk(stmt, into_scopes=False))
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            touched.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            touched.add(node.name)
        elif isinstance(node, ast.alias) and node.name != "*":
            touched.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            # for p in params: p.data -= lr * p.grad  changes what params holds
            looped = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            body = [sub for stmt_ in node.body for sub in ast.walk(stmt_)]
            if looped & changed_in_place(body, notebook):
                touched |= roots(node.iter)
    touched |= changed_in_place(nodes, notebook)
    calls = {last_name(node) for node in nodes if isinstance(node, ast.Call)}
    if calls & {"backward", "zero_grad"}:
        touched.add(GRADIENTS)
    rebinds: set[str] = set()
    if isinstance(stmt, ast.Assign):
        rebinds = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        rebinds = {stmt.name}
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        rebinds = {a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"}
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and last_name(stmt.value) == "zero_grad":
        rebinds = {GRADIENTS}  # opt.zero_grad(): the gradients from before are gone
    return notebook.together(touched), rebinds


def depends_on(notebook: Notebook, index: int) -> list[tuple[Cell, ast.stmt]]:
    """The differing cell's statements, then those of earlier cells that bind or change a name it (or one of these
    statements) needs, nearest first. Modules are not followed: ``np.random.seed(0)`` does not make every cell that
    uses ``np`` depend on it (what seeding does is the guards' business)."""
    if notebook.depends is not None:
        return notebook.depends
    chosen: list[tuple[Cell, ast.stmt]] = []
    needed: set[str] = set()
    for k in range(index, -1, -1):
        cell = notebook.cells.get(k)
        if cell is None:
            continue
        for stmt in reversed(cell.tree.body):
            touched, rebinds = _touches(stmt, notebook)
            if k == index or touched & needed:
                chosen.append((cell, stmt))
                needed = (needed - rebinds) | (_uses(stmt) - notebook.known.modules)
    notebook.depends = chosen
    return chosen


def cells_used(sources: Sequence[str | None], index: int) -> frozenset[int]:
    """The earlier cells whose statements code cell ``index`` depends on (they bind or change a name it needs, or
    one that those statements need): where a difference that shows in ``index`` may have come from."""
    notebook = notebook_up_to(sources, index)
    if notebook is None:
        return frozenset()
    return frozenset(cell.index for cell, _ in depends_on(notebook, index) if cell.index != index)
