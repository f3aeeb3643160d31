"""Which names a cell reads, binds and writes into, read from its code; and the names that are IPython's own."""

from __future__ import annotations

import dis
import functools
import re
import types
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .values import MISSING, cell_filled

# IPython's own names, and what Python leaves in a namespace: never the cell's doing.
IPYTHON_NAMES = frozenset(
    {
        "In",
        "Out",
        "_",
        "__",
        "___",
        "_i",
        "_ii",
        "_iii",
        "_ih",
        "_oh",
        "_dh",
        "_sh",
        "_exit_code",
        "exit",
        "quit",
        "get_ipython",
        "__builtins__",
        "__builtin__",
        "__name__",
        "__doc__",
        "__package__",
        "__loader__",
        "__spec__",
        "__file__",
        "__cached__",
        "__warningregistry__",
    }
)
_NUMBERED = re.compile(r"_i?\d+")  # _3 (Out[3]) and _i3 (In[3])


def ipython_name(name: str) -> bool:
    return name in IPYTHON_NAMES or _NUMBERED.fullmatch(name) is not None


def is_code(value: Any) -> bool:
    """Functions, classes and modules: a cell defines or imports them; they hold no random numbers to compare."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type))


# -- which names a cell reads --------------------------------------------------------------------------------------

# Calls that read names the code does not spell out: with one of them, the cell may read any name.
_DYNAMIC = frozenset({"get_ipython", "eval", "exec", "globals", "locals", "vars"})
_LOADS = frozenset(
    {"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"}
)
_NAME_STORES = frozenset({"STORE_NAME", "DELETE_NAME"})
_GLOBAL_STORES = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})
_MOST_CODE = 10_000  # code objects followed when looking for the names a cell reads


class Names(NamedTuple):
    """The names a cell reads (None: it may read any) and those it binds or deletes."""

    read: frozenset[str] | None
    bound: frozenset[str]


def code_of(
    run: Callable[[], Any], code: str | types.CodeType | Iterable[types.CodeType] | None
) -> list[types.CodeType] | None:
    """The code objects ``run`` executes: ``code`` as given (source or code objects), else those held by the object
    ``run`` is a method of (a compiled cell); None where it cannot tell."""
    if code is None:
        owner = getattr(run, "__self__", None)
        held = (
            list(owner)
            if isinstance(owner, tuple)
            else list(vars(owner).values())
            if hasattr(owner, "__dict__")
            else []
        )
        items = [item for value in held for item in (value if isinstance(value, (tuple, list)) else (value,))]
        found = [item for item in items if isinstance(item, types.CodeType)]
        return found or None
    if isinstance(code, str):
        try:
            return [compile(code, "<cell>", "exec")]
        except SyntaxError:
            return None
    if isinstance(code, types.CodeType):
        return [code]
    return list(code)


def names_used(codes: list[types.CodeType] | None, namespace: dict[str, Any]) -> Names:
    """The names ``codes`` read, with those read by what they reach that the notebook defined, and those they bind."""
    if codes is None:
        return Names(None, frozenset())
    read: set[str] | None = set()
    bound: set[str] = set()
    top = {id(code) for code in codes}
    seen: set[int] = set()
    todo = list(codes)
    while todo:
        code = todo.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        if len(seen) > _MOST_CODE:
            return Names(None, frozenset(bound))
        for instruction in dis.get_instructions(code):
            name, opname = instruction.argval, instruction.opname
            if not isinstance(name, str):
                continue
            # At the top, a STORE_NAME binds a notebook name; in a class body it binds a class attribute.
            if opname in _GLOBAL_STORES or (opname in _NAME_STORES and id(code) in top):
                bound.add(name)
            elif opname in _LOADS and read is not None:
                if name in _DYNAMIC:
                    read = None
                elif name in namespace and name not in read:
                    read.add(name)
                    todo += _code_reached(namespace[name], namespace)
        todo += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return Names(None if read is None else frozenset(read), frozenset(bound))


def binding_order(codes: list[types.CodeType] | None) -> list[str]:
    """The names the cell's own statements bind, in the order they bind them."""
    return [
        instruction.argval
        for code in codes or ()
        for instruction in dis.get_instructions(code)
        if instruction.opname in _GLOBAL_STORES | _NAME_STORES and isinstance(instruction.argval, str)
    ]


def _code_reached(value: Any, namespace: dict[str, Any], depth: int = 3) -> list[types.CodeType]:
    """The code a value runs that reads the notebook's names: its functions, methods, closures and wrapped code."""
    codes: list[types.CodeType] = []
    if depth < 0:
        return codes
    try:
        if isinstance(value, types.MethodType):
            return _code_reached(value.__func__, namespace, depth - 1) + _code_reached(
                type(value.__self__), namespace, depth - 1
            )
        if isinstance(value, types.FunctionType):
            if value.__globals__ is namespace:
                codes.append(value.__code__)
                for cell in value.__closure__ or ():
                    contents = cell.cell_contents if cell_filled(cell) else None
                    codes += _code_reached(contents, namespace, depth - 1)
            wrapped = getattr(value, "__wrapped__", None)
            if wrapped is not None:
                codes += _code_reached(wrapped, namespace, depth - 1)
            return codes
        if isinstance(value, (staticmethod, classmethod)):
            return _code_reached(value.__func__, namespace, depth - 1)
        if isinstance(value, property):
            return [c for f in (value.fget, value.fset, value.fdel) for c in _code_reached(f, namespace, depth - 1)]
        if isinstance(value, type):
            for cls in value.__mro__:
                if defined_in(cls, namespace):
                    for member in vars(cls).values():
                        codes += _code_reached(member, namespace, depth - 1)
            return codes
        if isinstance(value, functools.partial):
            return _code_reached(value.func, namespace, depth - 1)
        if isinstance(value, (list, tuple)):
            for item in value[:1000]:
                codes += _code_reached(item, namespace, depth - 1)
            return codes
        if isinstance(value, dict):
            for item in list(value.values())[:1000]:
                codes += _code_reached(item, namespace, depth - 1)
            return codes
        if not isinstance(value, types.ModuleType):
            codes += _code_reached(type(value), namespace, depth - 1)
    except Exception:  # a value with odd attributes: what it reaches is not followed
        pass
    return codes


def defined_in(cls: type, namespace: dict[str, Any]) -> bool:
    return any(isinstance(m, types.FunctionType) and m.__globals__ is namespace for m in vars(cls).values())


def written_by_name(codes: list[types.CodeType] | None) -> frozenset[str]:
    """The names whose value the cell's own code writes into by subscript or in place (``arr[0] = 1``, ``arr += 1``,
    ``arr.fill(0)``, ``out=arr``): arrays under those names are copied up front, not made read-only."""
    if not codes:
        return frozenset()
    written: set[str] = set()
    todo = list(codes)
    while todo:
        code = todo.pop()
        loaded: list[str] = []
        for instruction in dis.get_instructions(code):
            opname, argval = instruction.opname, instruction.argval
            if opname in _LOADS and isinstance(argval, str):
                loaded.append(argval)
            elif opname in ("STORE_SUBSCR", "STORE_SLICE") or (
                opname.startswith(("INPLACE_", "BINARY_OP")) and "=" in str(instruction.argrepr)
            ):
                written.update(loaded[-3:])
            elif opname in ("LOAD_ATTR", "LOAD_METHOD") and argval in _MUTATORS:
                written.update(loaded[-1:])
            elif opname in ("KW_NAMES", "LOAD_CONST") and isinstance(argval, tuple) and "out" in argval:
                written.update(loaded)
        todo += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return frozenset(written)


_MUTATORS = frozenset({"fill", "sort", "put", "resize", "itemset", "partition", "setfield", "byteswap", "setflags"})
_ORDERING_CALLS = frozenset({"list", "tuple", "enumerate", "zip", "iter", "next", "print", "str", "repr", "join"})


def iterated(codes: list[types.CodeType] | None) -> tuple[frozenset[str], bool]:
    """What of the cell's code can depend on the order of a set: the names it iterates, or passes first to a call that
    keeps their order (``for w in words``, ``[f(w) for w in words]``, ``list(words)``, ``print(words)``,
    ``" ".join(words)``; not ``sorted(words)``, not ``w in words``); and whether it writes a set of strings itself
    (``{"a", "b"}``). The caller keeps the names that hold sets."""
    names: set[str] = set()
    literal = False
    todo = list(codes or ())
    while todo:
        code = todo.pop()
        previous: list[dis.Instruction] = []
        for instruction in dis.get_instructions(code):
            opname, argval = instruction.opname, instruction.argval
            last = previous[-1] if previous else None
            if opname == "GET_ITER" and last is not None and last.opname in _LOADS:
                names.add(last.argval)
            elif opname in _LOADS and last is not None and last.argval in _ORDERING_CALLS:
                if last.opname in _LOADS or last.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                    names.add(argval)
            elif opname == "SET_UPDATE" and last is not None and isinstance(last.argval, frozenset):
                literal = literal or any(isinstance(item, (str, bytes)) for item in last.argval)
            elif opname == "BUILD_SET" and instruction.arg:
                items = previous[-instruction.arg :]
                literal = literal or any(item.opname == "LOAD_CONST" and isinstance(item.argval, str) for item in items)
            if opname not in ("PUSH_NULL", "PRECALL", "CACHE"):
                previous.append(instruction)
        todo += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return frozenset(names), literal


def put_back_names(namespace: dict[str, Any], before: dict[str, Any], names: Iterable[str] | None = None) -> None:
    """Bind every name as in ``before``, in place (functions defined in the notebook hold this very dict); ``names``:
    those of ``before`` to look at, where the caller knows them.

    IPython's own names stay as IPython left them: its displayhook (which shows every expression when
    ``ast_node_interactivity`` is ``all``) stops updating ``_`` once ``_`` is not what it last bound."""
    for name in namespace.keys() - before.keys():
        if not ipython_name(name):
            del namespace[name]
    for name in before if names is None else names:
        value = before[name]
        if namespace.get(name, MISSING) is not value and not ipython_name(name):
            namespace[name] = value
