"""Where an order that differs between processes reaches a cell's output: sets shown, iterated or added up, and
listings bound and sorted later.

A set of strings iterates in the order of their hashes, which differ between processes (``PYTHONHASHSEED``); a set of
objects that hash by address, in an order that differs between runs. A set of numbers iterates in a fixed order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .syntax import is_name, word_set

if TYPE_CHECKING:
    from .bindings import Notebook
    from .cells import Cell, Names
    from .events import Scope


def bound_and_sorted(stmt: ast.AST, cell: Cell) -> bool:
    """``files = os.listdir(d)`` with ``files.sort()`` or ``sorted(files)`` later in the cell."""
    bound = [t.id for t in getattr(stmt, "targets", [getattr(stmt, "target", None)]) if isinstance(t, ast.Name)]
    return isinstance(stmt, (ast.Assign, ast.AnnAssign)) and any(_sorted_later(cell.tree, name) for name in bound)


def _sorted_later(tree: ast.Module, name: str) -> bool:
    """``name.sort()`` or ``sorted(name)`` somewhere in the cell."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, first = node.func, node.args[0] if node.args else None
        if isinstance(func, ast.Attribute) and func.attr == "sort" and is_name(func.value, name):
            return True
        if isinstance(func, ast.Name) and func.id == "sorted" and is_name(first, name):
            return True
    return False


ORDER_FREE = word_set(
    "sorted len set frozenset min max sum any all math.fsum collections.Counter numpy.unique numpy.sort"
)
ORDER_KEEPING = word_set("list tuple iter reversed enumerate zip map filter")
SHOWS = word_set(
    "print list tuple enumerate str repr iter zip map filter display IPython.display.display numpy.array numpy.asarray "
    "pandas.Series pandas.DataFrame torch.tensor json.dumps"
)
# What adds a set's objects up in its order: floats (or tensors) added in another order round differently.
ADDS_UP = word_set("sum math.prod functools.reduce numpy.sum torch.stack torch.cat numpy.stack numpy.concatenate")
_SET_METHODS = word_set("union intersection difference symmetric_difference copy")
_NUMBER = (int, float, complex, bool)
_NUMERIC_CALLS = word_set("int float len round abs ord hash range sum min max")
_TEXT_CALLS = word_set("str repr format chr hex oct bin ascii")
_TEXT_METHODS = word_set("lower upper strip lstrip rstrip title capitalize casefold format join zfill removeprefix")
_ARITHMETIC = (ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift)
# Classes whose instances hash by value, not by address: their subclasses too.
VALUE_BASES = word_set("tuple str int float bytes frozenset NamedTuple Enum IntEnum StrEnum Flag IntFlag Decimal")
_HOLDS_OBJECTS = word_set("parameters modules children buffers")


def _number(node: ast.expr) -> bool:
    """Surely not a string: ``3``, ``a - b``, ``len(x)``, ``x > 0``. (A set of numbers iterates in a fixed order.)"""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _NUMBER)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (*_ARITHMETIC, ast.RShift)) or (_number(node.left) and _number(node.right))
    if isinstance(node, ast.UnaryOp):
        return True
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _NUMERIC_CALLS
    return isinstance(node, (ast.Compare, ast.BoolOp))


def _element(node: ast.expr, names: Names, notebook: Notebook) -> str:
    """What a set element's hash is: "number" (the same in every process), "text" (a str's: differs between
    processes), "object" (an address: differs between runs), or "unknown"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return "text"
    if _number(node):
        return "number"
    if isinstance(node, ast.JoinedStr):
        return "text"
    if isinstance(node, ast.Tuple):
        return _combined(_element(elt, names, notebook) for elt in node.elts)
    if isinstance(node, ast.Lambda):
        return "object"
    if isinstance(node, ast.Call):
        func, qualname = node.func, names.qualname(node.func) or ""
        if isinstance(func, ast.Name) and func.id in _TEXT_CALLS:
            return "text"
        if isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS:
            return "text"
        if isinstance(func, ast.Name) and func.id in notebook.classes:  # a class of the notebook's
            return "object" if notebook.classes[func.id] == "object" else "unknown"
        if qualname.startswith("torch.") and names.is_module(func):  # tensors and modules hash by address
            return "object"
    return "unknown"


def _combined(kinds: Iterable[str]) -> str:
    found = set(kinds)
    for kind in ("text", "unknown", "object"):
        if kind in found:
            return kind
    return "number"


def elements_of(node: ast.expr, names: Names, notebook: Notebook) -> str:
    """What the elements of an iterable are: ``[Item(1), Item(2)]``, ``(w.lower() for w in words)``, ``"abc"``,
    ``range(3)``, ``model.parameters()``, a name bound to a list display."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return _combined(_element(elt, names, notebook) for elt in node.elts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        return _element(node.elt, names, notebook)
    if isinstance(node, ast.Constant):
        return "text" if isinstance(node.value, (str, bytes)) else "unknown"
    if isinstance(node, ast.Name):
        return notebook.elements.get(node.id, "unknown")
    if isinstance(node, ast.Call):
        if names.qualname(node.func) == "range":
            return "number"
        if isinstance(node.func, ast.Attribute) and node.func.attr in _HOLDS_OBJECTS:
            return "object"
    return "unknown"


def set_holds(node: ast.AST, names: Names, notebook: Notebook) -> str | None:
    """For a set whose order varies from process to process, what it holds: "object" (objects hashed by address,
    ``{Item(1), Item(2)}``) or "text" (strings, or what may be: ``set(words)``); None for anything else, a set of
    numbers among them (``{1, 2}``, ``set(range(3))``: its order is fixed)."""
    kind: str | None = None
    if isinstance(node, ast.Set):
        kind = _combined(_element(elt, names, notebook) for elt in node.elts)
    elif isinstance(node, ast.SetComp):
        kind = _element(node.elt, names, notebook)
    elif isinstance(node, ast.Name):
        return notebook.sets.get(node.id) if isinstance(node.ctx, ast.Load) else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
        sides = [set_holds(node.left, names, notebook), set_holds(node.right, names, notebook)]
        return "text" if "text" in sides else "object" if "object" in sides else None
    elif isinstance(node, ast.Call):
        if names.qualname(node.func) in ("set", "frozenset"):
            kind = elements_of(node.args[0], names, notebook) if node.args else "number"
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _SET_METHODS:
            return set_holds(node.func.value, names, notebook)
    if kind is None or kind == "number":
        return None
    return "object" if kind == "object" else "text"


def _ordered_later(node: ast.AST, cell: Cell, scope: Scope, held: str) -> bool:
    """Whether the set's order is lost before it shows: ``sorted(list(set(x)))``, ``len([w for w in s])``,
    ``{f(x) for x in s}`` (a new set), ``chars = list(s)`` then ``chars.sort()``. Adding objects up (``sum``) keeps
    their order: floats added in another order round differently."""
    free = ORDER_FREE - {"sum"} if held == "object" else ORDER_FREE
    while (parent := cell.parents.get(node)) is not None:
        if isinstance(parent, ast.comprehension):
            if node is not parent.iter:
                return False
            comprehension = cell.parents.get(parent)
            if comprehension is None or isinstance(comprehension, ast.SetComp):
                return comprehension is not None  # a set made from it has an order of its own
            node = comprehension
        elif isinstance(parent, (ast.Starred, ast.List, ast.Tuple)):
            node = parent
        elif isinstance(parent, ast.Set):
            return True
        elif isinstance(parent, ast.Call) and node in parent.args:
            name = scope.qualname(parent.func)
            if name in free:
                return True
            if name not in ORDER_KEEPING:
                return False
            node = parent
        else:
            return isinstance(parent, (ast.Assign, ast.AnnAssign)) and bound_and_sorted(parent, cell)
    return False


def shown(node: ast.AST, cell: Cell, scope: Scope, held: str) -> bool:
    """Whether the set's order reaches the output: iterated, printed, joined, listed, the cell's shown value, or (a set
    of objects) added up; not where it is put in order first (``sorted(list(s))``)."""
    if _ordered_later(node, cell, scope, held):
        return False
    parent = cell.parents.get(node)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
        return node is parent.iter
    if isinstance(parent, (ast.Starred, ast.FormattedValue)):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        joins = isinstance(func, ast.Attribute) and func.attr in ("join", "extend", "writelines")
        name = scope.qualname(func)
        return joins or name in SHOWS or (held == "object" and name in ADDS_UP)
    if isinstance(parent, ast.Attribute) and parent.attr == "pop":
        return True
    if isinstance(parent, ast.Expr) and cell.tree.body and parent is cell.tree.body[-1]:
        return not cell.lines[-1].rstrip().endswith(";")
    return False
