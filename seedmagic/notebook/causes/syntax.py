"""Small questions asked of Python's syntax tree: what a call is given and named, the names an expression starts from,
and a walk that keeps out of inner scopes."""

from __future__ import annotations

import ast
from collections.abc import Iterator


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def walk(node: ast.AST, into_scopes: bool = True) -> Iterator[ast.AST]:
    """Every node under ``node``; with ``into_scopes=False``, not the insides of functions, lambdas and classes (their
    name is bound, their names are their own) nor the variables of comprehensions."""
    yield node
    if not into_scopes and isinstance(node, _SCOPES):
        return
    for child in ast.iter_child_nodes(node):
        yield from walk(child.iter if not into_scopes and isinstance(child, ast.comprehension) else child, into_scopes)


def keyword_value(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    """An argument given by position or by name."""
    return call.args[position] if len(call.args) > position else keyword_value(call, name)


def is_none(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def seed_given(call: ast.Call) -> bool:
    given = [*call.args[:1], *(k.value for k in call.keywords if k.arg in ("seed", "entropy", "x", "a"))]
    return any(not is_none(value) for value in given)


def last_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def is_name(node: ast.AST | None, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def local_names(scope: ast.AST) -> set[str]:
    """The names a function or comprehension binds for itself: its arguments, loop variables and assignments."""
    names = {arg.arg for arg in ast.walk(scope.args) if isinstance(arg, ast.arg)} if hasattr(scope, "args") else set()
    inner = scope.generators if isinstance(scope, COMPREHENSIONS) else getattr(scope, "body", [])
    for node in inner if isinstance(inner, list) else [inner]:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
    return names


def root(node: ast.AST) -> set[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def roots(node: ast.AST) -> set[str]:
    """The names an iterable comes from: ``params``, ``model.parameters()``, ``zip(a, b)``."""
    if isinstance(node, ast.Call):
        found = roots(node.func.value) if isinstance(node.func, ast.Attribute) else set()
        for arg in node.args:
            found |= roots(arg)
        return found
    return root(node)
