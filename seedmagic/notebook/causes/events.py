"""What a rule can match in a cell (a call, a line magic, a set whose order shows, a "cuda" device string), and the
scope a rule's test sees."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .order import set_holds, shown
from .syntax import last_name

if TYPE_CHECKING:
    from .bindings import Notebook
    from .cells import Cell, Names


_CUDA = re.compile(r"cuda(:\d+)?")
END = (1 << 62, 0)  # where code inside a function runs: any time in the differing cell

Position = tuple[int, int, int]  # (cell index, line, column)


@dataclass
class Event:
    """Something a rule can match, at a place in a cell: a call (``key`` "call"), a line magic ("%seed", with its
    ``args``), a set of strings shown or iterated ("<set-order>"), a set of objects shown, iterated or summed
    ("<address-order>") or a "cuda" device string ("<cuda>")."""

    key: str
    cell: Cell
    node: ast.AST
    deferred: bool = False  # inside a function: runs when called
    args: str = ""  # a magic's arguments

    @property
    def line(self) -> int:
        return self.cell.line(self.node)

    @property
    def position(self) -> Position:
        return (self.cell.index, self.line, getattr(self.node, "col_offset", -1))


@dataclass
class Chain:
    """What the statements the differing cell depends on do to a torch model, where (a function's body: at the end of
    the differing cell, as it runs when called): ``.eval()``, ``.train()``, a training step (``.backward()``,
    ``.step()``), ``.load_state_dict(...)``."""

    evals: list[Position] = field(default_factory=list)
    trains: list[Position] = field(default_factory=list)
    steps: list[Position] = field(default_factory=list)
    loads: list[Position] = field(default_factory=list)


@dataclass
class Scope:
    """What the tests of a rule may look at: the names at the event's cell, what the notebook binds (sets, lists,
    classes), whether the run had a GPU (True, False, or None: unknown), the differing cell and its chain."""

    names: Names
    notebook: Notebook
    index: int = 0
    gpu: bool | None = None
    chain: Chain = field(default_factory=Chain)

    def qualname(self, node: ast.AST) -> str | None:
        return self.names.qualname(node)


def events_of(cell: Cell, stmt: ast.stmt, scope: Scope) -> Iterator[Event]:
    yield from _events_in(cell, stmt, scope, deferred=False)


def _events_in(cell: Cell, node: ast.AST, scope: Scope, deferred: bool) -> Iterator[Event]:
    if isinstance(node, ast.Call):
        func = node.func
        words = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if isinstance(func, ast.Attribute) and func.attr == "run_line_magic" and len(words) == 2:
            yield Event(f"%{words[0]}", cell, node, deferred, words[1])
        else:
            yield Event("call", cell, node, deferred)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _CUDA.fullmatch(node.value):
        yield Event("<cuda>", cell, node, deferred)
    held = set_holds(node, scope.names, scope.notebook)
    if held is not None and shown(node, cell, scope, held):
        yield Event("<address-order>" if held == "object" else "<set-order>", cell, node, deferred)
    inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
        yield from _events_in(cell, child, scope, inner)


Test = Callable[[Event, Scope], bool]


def call_of(event: Event) -> ast.Call:
    assert isinstance(event.node, ast.Call)
    return event.node


def called(call: ast.Call, scope: Scope) -> str:
    """The last part of what is called, aliases resolved: ``make()`` after ``from numpy.random import default_rng as
    make`` is ``default_rng``."""
    return (scope.qualname(call.func) or last_name(call)).rpartition(".")[2]


def on_object(call: ast.Call, scope: Scope) -> bool:
    """``w.normal_()``, ``df.sample(3)``: a method of an object, not a module's function."""
    return isinstance(call.func, ast.Attribute) and not scope.names.is_module(call.func.value)
