"""A cell's starting namespace: everything it can reach, watched so that a run of it can be undone in place.

``Start.take(namespace)`` walks everything the notebook's names reach, and the modules of the user's own files: the
values of every name, what containers hold, objects' attributes (``__dict__`` and ``__slots__``), what functions
keep (closure cells, defaults, attributes), the classes the notebook defines, a module's parameters, buffers and
hooks, an optimizer's state, a tensor's ``.grad``. So a callback kept in a list, a hook held by a module, a closure
over a list, an optimizer holding a model's very tensors are all found, however the cell reaches them. For each
mutable object it keeps a shallow record: a list's items, a dict's items in order, an object's attributes, a
generator's state, a tensor's version counter, storage and layout. That costs what the notebook holds in objects,
never in bytes: tensors and arrays are watched, not copied (``writes``: a tensor is copied to host memory just before
a run first writes into it; a small or named array up front; a large one is read-only for the run).

A run under ``Start.run`` works on the objects themselves. Afterwards ``changed()`` says which of them differ from
their records, and ``put_back()`` puts each one back in place, so every object keeps its identity: what shared a
tensor, a list or a module before still shares it. With ``keep_end`` the run's end state is kept for a comparison
(``Ended``). A run that raises is not undone here: the caller decides (a cell that fails keeps what it did).

Not reached: the state of library modules (a library's caches, its classes' attributes), objects only C code holds,
what ``sys.modules`` or ``getattr(module, name)`` reaches, files and other effects outside the process's objects.
Objects with no state to read (an open file, a lock, a generator object) are named, never taken for unchanged.
"""

from __future__ import annotations

import array as _array
import collections
import dis
import functools
import os
import re
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .compare import MISSING, Comparison, cell_filled, device_started, without_state
from .errors import one_line
from .writes import ArrayWrites, Cost, NoRoom, Storage, TorchWrites

if TYPE_CHECKING:
    from .writes import Array

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
MOST_OBJECTS: Final = 2_000_000
"""Objects walked at most; beyond, the rest is not watched, and the caller says so."""


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
                if _defined_in(cls, namespace):
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


def _defined_in(cls: type, namespace: dict[str, Any]) -> bool:
    return any(isinstance(m, types.FunctionType) and m.__globals__ is namespace for m in vars(cls).values())


# -- interrupts ----------------------------------------------------------------------------------------------------


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """An interrupt (SIGINT: the kernel's stop button, Ctrl-C) that arrives inside the block is raised when it ends:
    putting a namespace back is never stopped half-way. Only the main thread receives signals; elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    try:
        original = signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    except (ValueError, TypeError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, original)
        if received and callable(original):
            original(*received[0])


# -- the kinds of objects, and their records -----------------------------------------------------------------------


class Record:
    """One object the cell found: its kind, its state before the cell, and where it was found (the path that names
    it, built only when shown)."""

    __slots__ = ("array", "kind", "label", "obj", "parent", "root", "state", "storage", "users")

    def __init__(self, obj: Any, kind: Kind, state: Any, parent: Record | None, label: str, root: str) -> None:
        self.obj = obj
        self.kind = kind
        self.state = state
        self.parent = parent
        self.label = label
        self.root = root  # the notebook name (or module) it was first found under
        self.storage: Storage | None = None
        self.array: Array | None = None
        #: Found through the user's own objects only (names, containers, the user's classes and functions), not
        #: inside a library's object: what has no state to read is named only then.
        self.users: bool = parent is None or (parent.users and parent.kind.name in _USERS_KINDS)

    @property
    def path(self) -> str:
        labels = []
        record: Record | None = self
        while record is not None:
            labels.append(record.label)
            record = record.parent
        return "".join(reversed(labels))


class Kind:
    """How to read, compare and put back one kind of object's state; what it holds (to walk on)."""

    name = "object"
    #: Whether its state can be read and put back (opaque objects: neither).
    readable = True

    def read(self, obj: Any) -> Any:
        raise NotImplementedError

    def same(self, a: Any, b: Any) -> bool:
        """Shallow: the very same items or attributes (by identity)."""
        return _same_items(a, b)

    def put(self, obj: Any, state: Any) -> None:
        raise NotImplementedError

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return ()

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.diff(a, b, "")

    def shown(self, state: Any) -> Any:
        """What an excerpt of the state shows."""
        return state


def _same_items(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(map(_is, a, b))
    if type(a) is dict:
        return len(a) == len(b) and all(x is y and a[x] is b[y] for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _is(x: Any, y: Any) -> bool:
    return x is y


class _KeyLabel(str):
    """The label of a dict item whose key is an object: shown as the path of that object where the walk found it
    first (an optimizer's state, keyed by the model's parameters: ``opt.state[model.0.weight]``)."""

    key: Any


def _key_label(key: Any) -> str:
    if type(key) in (str, int, bool, float, bytes) or key is None:
        text = repr(key)
        if len(text) <= 40:
            return f"[{text}]"
    label = _KeyLabel(f"[{type(key).__name__} key]")
    label.key = key
    return label


class _List(Kind):
    name = "list"

    def read(self, obj: Any) -> Any:
        return list(obj)

    def put(self, obj: Any, state: Any) -> None:
        list.__setitem__(obj, slice(None), state)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return _items(state)


def _items(items: list[Any]) -> Iterable[tuple[str, Any]]:
    if not items or set(map(type, items)) <= _ATOMS:
        return ()
    return ((f"[{index}]", item) for index, item in enumerate(items) if type(item) not in _ATOMS)


class _Deque(_List):
    name = "deque"

    def put(self, obj: Any, state: Any) -> None:
        obj.clear()
        obj.extend(state)


class _Dict(Kind):
    name = "dict"
    #: Whether its keys are hook handles' numbers, which count up in each run: its values alone are compared.
    hooks = False

    def read(self, obj: Any) -> Any:
        return dict(obj)

    def put(self, obj: Any, state: Any) -> None:
        if isinstance(obj, collections.OrderedDict):
            obj.clear()
            obj.update(state)
        else:
            dict.clear(obj)
            dict.update(obj, state)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        for key, value in state.items():
            if type(key) not in _ATOMS:
                yield f"[{type(key).__name__} key]", key
            if type(value) not in _ATOMS:
                yield _key_label(key), value

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        if self.hooks:
            return comparison.diff(list(a.values()), list(b.values()), "")
        return comparison.diff(a, b, "")


class _Hooks(_Dict):
    hooks = True


class _Set(Kind):
    name = "set"

    def read(self, obj: Any) -> Any:
        return set(obj)

    def same(self, a: Any, b: Any) -> bool:
        try:
            return len(a) == len(b) and all(x in b for x in a)
        except Exception:  # elements whose equality fails: taken as changed, and compared
            return False

    def put(self, obj: Any, state: Any) -> None:
        set.clear(obj)
        set.update(obj, state)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return (("{…}", item) for item in state if type(item) not in _ATOMS)


class _Bytes(Kind):
    name = "bytearray"

    def read(self, obj: Any) -> Any:
        return bytes(obj)

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def put(self, obj: Any, state: Any) -> None:
        obj[:] = state


class _Array(Kind):
    name = "array.array"

    def read(self, obj: Any) -> Any:
        return obj.tobytes()

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def put(self, obj: Any, state: Any) -> None:
        obj[:] = _array.array(obj.typecode, state)


class _Attributes(Kind):
    """An object's attributes: its ``__dict__`` (raw, in order) and its ``__slots__``."""

    name = "attributes"

    def __init__(self, slots: tuple[Any, ...], has_dict: bool, users: bool = False) -> None:
        self.slots = slots  # member descriptors
        self.has_dict = has_dict
        if users:
            self.name = "instance"  # of a class of the user's own

    def read(self, obj: Any) -> Any:
        attributes = dict(obj.__dict__) if self.has_dict else None
        return attributes, tuple(_slot(member, obj) for member in self.slots)

    def same(self, a: Any, b: Any) -> bool:
        return _same_items(a[0], b[0]) and all(map(_is, a[1], b[1]))

    def put(self, obj: Any, state: Any) -> None:
        attributes, slots = state
        if self.has_dict:
            held = obj.__dict__
            if not _same_items(dict(held), attributes):
                held.clear()
                held.update(attributes)
        for member, value in zip(self.slots, slots, strict=True):
            if _slot(member, obj) is not value:
                if value is MISSING:
                    member.__delete__(obj)
                else:
                    member.__set__(obj, value)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        attributes, slots = state
        for name, value in (attributes or {}).items():
            if type(value) not in _ATOMS:
                yield f".{name}", value
        for member, value in zip(self.slots, slots, strict=True):
            if value is not MISSING and type(value) not in _ATOMS:
                yield f".{member.__name__}", value

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison._state(a, b, "")  # by name, in any order

    def shown(self, state: Any) -> Any:
        return state[0]


def _slot(member: Any, obj: Any) -> Any:
    try:
        return member.__get__(obj, type(obj))
    except AttributeError:
        return MISSING


class _Module(_Attributes):
    """An ``nn.Module``: its attributes, and the tensors ``parameters()`` and ``buffers()`` give (those a scripted
    module keeps in C++ too)."""

    name = "module"

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        yield from super().children(obj, state)
        try:
            tensors = [*obj.named_parameters(remove_duplicate=False), *obj.named_buffers(remove_duplicate=False)]
        except Exception:
            return
        for name, tensor in tensors:
            yield f".{name}", tensor


class _Function(_Attributes):
    """A function the notebook or the user's own module defined: its code, defaults, attributes and closure."""

    name = "function"

    def __init__(self) -> None:
        super().__init__((), True)

    def read(self, obj: Any) -> Any:
        return (dict(obj.__dict__), (obj.__code__, obj.__defaults__, obj.__kwdefaults__))

    def same(self, a: Any, b: Any) -> bool:
        return _same_items(a[0], b[0]) and all(map(_is, a[1], b[1]))

    def put(self, obj: Any, state: Any) -> None:
        attributes, (code, defaults, kwdefaults) = state
        if not _same_items(dict(obj.__dict__), attributes):
            obj.__dict__.clear()
            obj.__dict__.update(attributes)
        obj.__code__, obj.__defaults__, obj.__kwdefaults__ = code, defaults, kwdefaults

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        attributes, (_, defaults, kwdefaults) = state
        for name, value in attributes.items():
            yield f".{name}", value
        for index, value in enumerate(defaults or ()):
            yield f".__defaults__[{index}]", value
        for name, value in (kwdefaults or {}).items():
            yield f".__kwdefaults__[{name!r}]", value
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
            yield f".<closure {name}>", cell

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.diff(a[1], b[1], "") or comparison._state(a[0], b[0], "")


class _Cell(Kind):
    name = "closure cell"

    def read(self, obj: Any) -> Any:
        return obj.cell_contents if cell_filled(obj) else MISSING

    def put(self, obj: Any, state: Any) -> None:
        if state is MISSING:
            if cell_filled(obj):
                del obj.cell_contents
        else:
            obj.cell_contents = state

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return () if state is MISSING or type(state) in _ATOMS else (("", state),)


class _Class(Kind):
    """A class the notebook or the user's own module defined: its own attributes (a class attribute the cell
    changes, a list every instance shares)."""

    name = "class"

    def read(self, obj: Any) -> Any:
        return {name: value for name, value in vars(obj).items() if name not in ("__dict__", "__weakref__")}

    def put(self, obj: Any, state: Any) -> None:
        now = self.read(obj)
        for name in now.keys() - state.keys():
            delattr(obj, name)
        for name, value in state.items():
            if now.get(name, MISSING) is not value:
                setattr(obj, name, value)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return ((f".{name}", value) for name, value in state.items() if type(value) not in _ATOMS)

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison._state(a, b, "")


class _Namespace(_Dict):
    """The notebook's namespace, or a module's: names are put back one by one (IPython's own as IPython left them),
    and the module dict itself is never emptied."""

    name = "namespace"

    def __init__(self, prefix: str, notebook: bool) -> None:
        self.prefix = prefix
        self.notebook = notebook

    def put(self, obj: Any, state: Any) -> None:
        put_back_names(obj, state)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        for name, value in state.items():
            if self.notebook and ipython_name(name):
                continue
            if type(value) in _ATOMS or isinstance(value, types.ModuleType):
                continue
            yield f"{self.prefix}{name}", value


class _State(Kind):
    """A generator, read and put back through its own state calls."""

    def __init__(self, name: str, read: Callable[[Any], Any], put: Callable[[Any, Any], None]) -> None:
        self.name = name
        self._read = read
        self._put = put

    def read(self, obj: Any) -> Any:
        return self._read(obj)

    def same(self, a: Any, b: Any) -> bool:
        return Comparison().difference(a, b) is None

    def put(self, obj: Any, state: Any) -> None:
        self._put(obj, state)


class _Stateless(Kind):
    """An object with no state of its own to read or put back; what it holds, if anything, is walked."""

    def read(self, obj: Any) -> Any:
        return None

    def same(self, a: Any, b: Any) -> bool:
        return True

    def put(self, obj: Any, state: Any) -> None:
        pass


class _Opaque(_Stateless):
    """An object whose state cannot be read (an open file, a lock, a generator object): it is named, never taken for
    unchanged."""

    name = "opaque"
    readable = False

    def __init__(self, what: str) -> None:
        self.what = what


class TensorState(NamedTuple):
    """What a tensor is besides its bytes: its version counter, storage and layout, gradient, hooks, attributes."""

    version: int | None
    pointer: int
    storage: Any
    layout: tuple[Any, ...]  # dtype, storage offset, shape, strides
    requires_grad: bool
    grad: Any
    hooks: Any
    attributes: dict[str, Any] | None
    copy: Any  # a tensor without a storage of its own (sparse): a clone


class _Tensor(Kind):
    name = "tensor"

    def __init__(self, torch: types.ModuleType) -> None:
        self.torch = torch

    def read(self, obj: Any) -> Any:
        leaf = obj.is_leaf
        try:
            version = obj._version
        except RuntimeError:  # an inference tensor keeps no version counter
            version = None
        try:
            storage = obj.untyped_storage()
            pointer = storage.data_ptr()
            layout = (obj.dtype, obj.storage_offset(), tuple(obj.shape), obj.stride())
        except Exception:
            storage, pointer, layout = None, 0, (obj.dtype, 0, tuple(obj.shape), ())
        # torch.compile marks the tensors it traced (_dynamo_static_input_type, ...): its bookkeeping, not the user's.
        attributes = {name: value for name, value in obj.__dict__.items() if not name.startswith("_dynamo")}
        return TensorState(
            version,
            pointer,
            storage,
            layout,
            obj.requires_grad,
            obj.grad if leaf or obj.retains_grad else None,
            obj._backward_hooks,
            dict(attributes) if attributes else None,
            None,
        )

    def same(self, a: Any, b: Any) -> bool:
        return (
            a.version == b.version
            and a.pointer == b.pointer
            and a.layout == b.layout
            and a.requires_grad == b.requires_grad
            and a.grad is b.grad
            and a.hooks is b.hooks
            and _same_items(a.attributes, b.attributes)
        )

    def put(self, obj: Any, state: Any) -> None:
        now = self.read(obj)
        torch = self.torch
        with torch.no_grad():
            if state.storage is not None and (now.pointer != state.pointer or now.layout != state.layout):
                _, offset, shape, stride = state.layout
                obj.set_(state.storage, offset, shape, stride)
            if state.copy is not None:
                obj.copy_(state.copy)
            if now.requires_grad != state.requires_grad and obj.is_leaf:
                obj.requires_grad_(state.requires_grad)
            if now.grad is not state.grad:
                obj.grad = state.grad
        if now.hooks is not state.hooks:
            obj._backward_hooks = state.hooks
        if not _same_items(now.attributes, state.attributes):
            held = obj.__dict__
            for name in [name for name in held if not name.startswith("_dynamo")]:
                del held[name]
            held.update(state.attributes or {})

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        if state.grad is not None:
            yield ".grad", state.grad
        if state.hooks is not None:
            yield "._backward_hooks", state.hooks
        for name, value in (state.attributes or {}).items():
            yield f".{name}", value

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        # The bytes are compared by storage (Start.compare); here, the rest.
        for what, x, y in (("requires_grad", a.requires_grad, b.requires_grad), ("layout", a.layout, b.layout)):
            if x != y:
                return f"{what} {x} vs {y}"
        if (a.grad is None) != (b.grad is None):
            return "grad None vs a tensor" if a.grad is None else "grad a tensor vs None"
        return comparison.diff(a.grad, b.grad, ".grad ") or comparison._state(a.attributes, b.attributes, "")

    def shown(self, state: Any) -> Any:
        return state.layout


class _NumpyArray(Kind):
    """A NumPy array: its shape and dtype here; its bytes by its copy (``writes``)."""

    name = "array"

    def read(self, obj: Any) -> Any:
        return (obj.shape, obj.dtype, obj.strides, obj.__array_interface__["data"][0])

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def put(self, obj: Any, state: Any) -> None:
        shape, dtype, _, _ = state
        if obj.dtype != dtype:
            obj.dtype = dtype
        if obj.shape != shape:
            obj.shape = shape

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        if obj.dtype.hasobject and obj.dtype.names is None:
            return ((f"[{index}]", item) for index, item in enumerate(obj.flat) if type(item) not in _ATOMS)
        return ()


class _Pandas(Kind):
    """A pandas ``DataFrame`` or ``Series``: held as a copy, lazy under copy-on-write (pandas 3, or pandas 2 with
    ``mode.copy_on_write``: writing the original then copies what it writes) and deep otherwise; put back in place by
    the constructor, with its ``attrs`` and flags."""

    name = "pandas"

    def __init__(self, pandas: types.ModuleType) -> None:
        self.pandas = pandas
        self.lazy = _copy_on_write(pandas)

    def read(self, obj: Any) -> Any:
        return obj.copy(deep=not self.lazy)

    def same(self, a: Any, b: Any) -> bool:
        if a is b:
            return True
        if type(a) is not type(b) or a.shape != b.shape or not a.index.equals(b.index):
            return False
        if isinstance(a, self.pandas.DataFrame) and not (a.columns.equals(b.columns) and a.dtypes.equals(b.dtypes)):
            return False
        if self.lazy and _shares_memory(a, b):
            return True  # nothing was written: copy-on-write would have given one of them memory of its own
        return bool(a.equals(b))

    def put(self, obj: Any, state: Any) -> None:
        attrs, duplicates = dict(state.attrs), state.flags.allows_duplicate_labels
        obj.__init__(state.copy(deep=not self.lazy))
        obj.attrs = attrs
        obj.flags.allows_duplicate_labels = duplicates

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.diff(a, b, "")


def _copy_on_write(pandas: types.ModuleType) -> bool:
    try:
        if int(pandas.__version__.split(".")[0]) >= 3:
            return True
        return bool(pandas.options.mode.copy_on_write is True)
    except Exception:
        return False


def _shares_memory(a: Any, b: Any) -> bool:
    """Whether every column of ``a`` still uses the memory of ``b``'s (NumPy-backed columns only)."""
    import numpy

    frames = (a, b) if a.ndim == 2 else (a.to_frame(), b.to_frame())
    for position in range(frames[0].shape[1]):
        x, y = frames[0].iloc[:, position], frames[1].iloc[:, position]
        if not isinstance(x.array, numpy.ndarray) and type(x.array).__name__ != "NumpyExtensionArray":
            return False
        if not numpy.may_share_memory(x.to_numpy(), y.to_numpy()):
            return False
    return True


class _Facets(Kind):
    """An object that is two kinds at once (a dict subclass with attributes, a RandomState's ``__dict__``)."""

    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        self.kinds = kinds
        self.name = kinds[0].name
        self.readable = all(kind.readable for kind in kinds)

    def read(self, obj: Any) -> Any:
        return tuple(kind.read(obj) for kind in self.kinds)

    def same(self, a: Any, b: Any) -> bool:
        return all(kind.same(x, y) for kind, x, y in zip(self.kinds, a, b, strict=True))

    def put(self, obj: Any, state: Any) -> None:
        for kind, part in zip(self.kinds, state, strict=True):
            kind.put(obj, part)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        for kind, part in zip(self.kinds, state, strict=True):
            yield from kind.children(obj, part)

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        for kind, x, y in zip(self.kinds, a, b, strict=True):
            why = kind.compare(comparison, x, y)
            if why is not None:
                return why
        return None

    def shown(self, state: Any) -> Any:
        return self.kinds[0].shown(state[0])


_ATOMS: frozenset[type] = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis), type(NotImplemented)}
)
# Never walked: what holds no state of the user's (code, modules, descriptors), and the machinery of IPython, the
# kernel and the interpreter, whose state is theirs.
_SKIPPED: tuple[type, ...] = (
    types.ModuleType,
    types.CodeType,
    types.BuiltinFunctionType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.FrameType,
    types.TracebackType,
    types.MappingProxyType,
    property,
    type(os.environ),
)
_SKIPPED_PACKAGES = frozenset(
    {
        "IPython",
        "ipykernel",
        "ipywidgets",
        "traitlets",
        "zmq",
        "tornado",
        "asyncio",
        "jupyter_client",
        "jupyter_core",
        "comm",
        "logging",
        "threading",
        "concurrent",
        "multiprocessing",
        "subprocess",
        "selectors",
        "socket",
        "ssl",
        "queue",
        "weakref",
        "_weakrefset",
        "seedmagic",
        "ctypes",
        "_pytest",
        "matplotlib",  # a figure's artists, transforms and callbacks: its own bookkeeping, weakly linked
        "pytest",
        "pluggy",
        "nbclient",
        "nbformat",
        "importlib",
        "typing",
        "abc",
        "enum",
    }
)


# torch.compile's own machinery (its caches, guards and counters): what a compiled module holds besides the module.
_SKIPPED_MODULES = ("torch._dynamo", "torch._inductor", "torch._functorch", "torch.fx", "torch._subclasses")


class Start:
    """Everything a cell can reach, recorded before it runs: run it watched, see what a run changed, put it back."""

    def __init__(self, namespace: dict[str, Any], names: Names) -> None:
        self.namespace = namespace
        self.names = names
        self.records: list[Record] = []
        self.known: dict[int, object] = {}  # id -> object, for every record: compared by identity
        self.cost = Cost()
        torch, numpy = sys.modules.get("torch"), sys.modules.get("numpy")
        self.tensors = TorchWrites(torch, self.cost) if torch is not None else None
        self.arrays = ArrayWrites(numpy, self.cost) if numpy is not None else None
        if self.tensors is not None:
            self.tensors.arrays = self.arrays
        self.storages: dict[int, list[Record]] = {}  # id(Storage) -> the tensors that view it
        self.truncated = False
        self.retried: list[str] = []  # arrays a run wrote while read-only, and was run again for
        #: What could not be put back after a run, by path, and why: a later run started from what that one left.
        self.unrestored: dict[str, str] = {}
        self._kinds: dict[type, Kind | None] = {}
        self._written_names: frozenset[str] = frozenset()
        self._seen: set[int] = set()
        self._by_id: dict[int, Record] = {}
        self.generators_only = False

    # -- walking ---------------------------------------------------------------------------------------------------

    @classmethod
    def generators(cls, namespace: dict[str, Any]) -> Start:
        """Walk what ``namespace`` and the user's own modules reach, and record only the generators (``random.Random``,
        NumPy's, torch's): what ``--isolate`` puts back besides the global ones (``put_back``)."""
        return cls.take(namespace, generators_only=True)

    @classmethod
    def take(
        cls, namespace: dict[str, Any], codes: list[types.CodeType] | None = None, *, generators_only: bool = False
    ) -> Start:
        """Walk and record everything ``namespace`` and the user's own modules reach."""
        start = cls(namespace, names_used(codes, namespace))
        start.generators_only = generators_only
        start._written_names = _written_by_name(codes)
        shell = getattr(namespace.get("get_ipython"), "__self__", None)
        for kept in (shell, sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if kept is not None:
                start._seen.add(id(kept))
        start._walk([(None, "", namespace, "", _Namespace("", True))])
        modules = [
            (None, "", module.__dict__, f"<module {module.__name__}>", _Namespace(f"{module.__name__}.", False))
            for module in _user_modules()
            if module.__dict__ is not namespace
        ]
        start._walk(modules)
        return start

    def _walk(self, roots: Sequence[tuple[Record | None, str, Any, str, Kind | None]]) -> None:
        seen = self._seen
        queue = collections.deque(roots)
        records, known = self.records, self.known
        while queue:
            parent, label, obj, root, kind = queue.popleft()
            key = id(obj)
            if key in seen:
                continue
            seen.add(key)
            if kind is None:
                kind = self._kind(obj, label)
                if kind is None:
                    if isinstance(obj, (tuple, frozenset)):
                        # Holds what may change, but cannot change itself: walk on, no record.
                        queue.extend((parent, f"{label}{sub}", item, root, None) for sub, item in _through(obj))
                    continue
            if len(records) >= MOST_OBJECTS:
                self.truncated = True
                return
            try:
                state = kind.read(obj)
            except Exception:
                kind, state = _Opaque("an object whose state cannot be read"), None
            record = Record(obj, kind, state, parent, label, root)
            self._by_id[key] = record
            if not self.generators_only or _is_generator(kind):
                records.append(record)
                known[key] = obj
                if not self.generators_only:
                    self._watch(record)
            try:
                children = list(kind.children(obj, state))
            except Exception:
                continue
            for sub, child in children:
                if isinstance(sub, _KeyLabel) and id(sub.key) in self._by_id:
                    sub = f"[{self._by_id[id(sub.key)].path}]"
                if type(child) not in _ATOMS:
                    child_root = root or sub.lstrip(".")
                    queue.append((record, sub, child, child_root, self._hooks_kind(sub, child)))

    def _hooks_kind(self, label: str, child: Any) -> Kind | None:
        """A dict of hooks (a module's, an optimizer's, a tensor's): keyed by handle numbers, which count up in each
        run, so that its values alone are compared."""
        hooks = "_hooks" in label and type(child) in (dict, collections.OrderedDict)
        return _Hooks() if hooks and all(type(key) is int for key in child) else None

    def _watch(self, record: Record) -> None:
        obj = record.obj
        if isinstance(record.kind, _Tensor) and self.tensors is not None:
            state = record.state
            entry = self.tensors.watch(obj, record.path) if state.storage is not None else None
            if entry is not None:
                record.storage = entry
                self.storages.setdefault(id(entry), []).append(record)
            elif obj.device.type != "meta":
                try:  # no storage of its own (sparse, nested): a clone to compare with and put back
                    record.state = state._replace(copy=obj.detach().clone())
                except Exception:
                    record.kind = _Opaque("a tensor that cannot be copied")
        elif isinstance(record.kind, _NumpyArray) and self.arrays is not None:
            read = self.names.read
            record.array = self.arrays.watch(
                obj,
                record.path,
                written_by_name=record.root in self._written_names,
                read=read is None or record.root in read,
            )

    def _kind(self, obj: Any, label: str) -> Kind | None:
        cls = type(obj)
        try:
            return self._kinds[cls]
        except KeyError:
            pass
        kind = self._kind_of(obj, cls)
        if cls not in _PER_OBJECT and not (kind is not None and kind.name == "torch.Generator"):
            self._kinds[cls] = kind  # the same for every object of the class
        return kind

    def _kind_of(self, obj: Any, cls: type) -> Kind | None:
        if cls in _ATOMS or isinstance(obj, _SKIPPED):
            return None
        if isinstance(obj, types.FunctionType):
            return _Function() if _users(obj, self.namespace) else None
        if isinstance(obj, type):
            return _Class() if _users_class(obj, self.namespace) else None
        if isinstance(obj, (types.MethodType, functools.partial)):
            return _Passage()
        if isinstance(obj, types.CellType):
            return _Cell()
        if cls in (tuple, frozenset):
            return None
        module = getattr(cls, "__module__", None) or ""
        if module.partition(".")[0] in _SKIPPED_PACKAGES or module.startswith(_SKIPPED_MODULES):
            return None
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                if type(obj).__torch_dispatch__ is not torch.Tensor.__torch_dispatch__:  # a wrapper subclass
                    return _attributes_of(cls) or _Opaque("a tensor subclass")
                return _Tensor(torch)
            if isinstance(obj, torch.Generator):
                if not device_started(torch, obj.device):
                    return _Opaque(f"a torch.Generator on {obj.device}, not read so as not to start the device")
                return _TORCH_GENERATOR
            if isinstance(obj, torch.nn.Module):
                attributes = _attributes_of(cls)
                return _Module(attributes.slots, attributes.has_dict) if attributes is not None else None
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(obj, (pandas.DataFrame, pandas.Series)):
            return _Pandas(pandas)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(obj, numpy.ndarray):
                kind: Kind = _NumpyArray()
                attributes = _attributes_of(cls)
                return _Facets((kind, attributes)) if attributes is not None and cls is not numpy.ndarray else kind
            if isinstance(obj, numpy.generic):
                return None
            nprandom = sys.modules.get("numpy.random")
            if nprandom is not None:
                generator = _numpy_generator(nprandom, obj)
                if generator is not None:
                    return generator
        random = sys.modules.get("random")
        if random is not None and isinstance(obj, random.Random):
            if isinstance(obj, random.SystemRandom):
                return None  # no state: nothing to put back, and every draw differs anyway
            state = _State("random.Random", lambda r: r.getstate(), lambda r, s: r.setstate(s))
            attributes = _attributes_of(cls)
            return _Facets((state, attributes)) if attributes is not None else state
        opaque = _opaque(obj)
        if opaque is not None:
            return _Opaque(opaque)
        container: Kind | None = None
        if isinstance(obj, dict):
            container = _Dict()
        elif isinstance(obj, list):
            container = _List()
        elif isinstance(obj, (set,)):
            container = _Set()
        elif isinstance(obj, bytearray):
            container = _Bytes()
        elif isinstance(obj, collections.deque):
            container = _Deque()
        elif isinstance(obj, _array.array):
            container = _Array()
        attributes = _attributes_of(cls)
        if container is not None:
            return _Facets((container, attributes)) if attributes is not None else container
        if attributes is not None:
            return (
                _Attributes(attributes.slots, attributes.has_dict, users=True)
                if _users_class(cls, self.namespace)
                else attributes
            )
        if hasattr(cls, "__next__"):
            return _Opaque(f"an iterator ({cls.__qualname__}), whose position cannot be read")
        return None  # no state that Python shows (a datetime, a dtype): taken as a value that does not change

    # -- running ---------------------------------------------------------------------------------------------------

    def run(self, run: Callable[[], Any], *, again: Callable[[], None] | None = None) -> Any:
        """``run()`` watched. If it fails writing an array that was read-only for it, and ``again`` is given (what
        seeds the generators for it), it is undone and run once more with the arrays copied (``retried`` names
        them)."""
        __tracebackhide__ = True
        try:
            with self.watching():
                return run()
        except (ValueError, TypeError, BufferError) as error:
            if again is None or not self.read_only_hit(error):
                raise
        assert self.arrays is not None
        self.retried = [entry.path for entry in self.arrays.guarded]
        self.put_back()
        for entry in list(self.arrays.guarded):
            self.arrays.unguard(entry)
        again()
        with self.watching():
            return run()

    @contextmanager
    def watching(self) -> Iterator[None]:
        """The modes and read-only arrays while a run goes on; neither an interrupt nor an error leaves them on."""
        if self.tensors is not None:
            self.tensors.start_run()
        stack = ExitStack()
        with interrupts_deferred():
            if self.arrays is not None and self.arrays.guarded:
                stack.enter_context(self.arrays.read_only())
            if self.tensors is not None and (self.tensors.storages or (self.arrays and self.arrays.guarded)):
                stack.enter_context(self.tensors.watching())
        try:
            yield
        finally:
            with interrupts_deferred():
                stack.close()
                if self.tensors is not None:
                    self.tensors.settled_lost = self.tensors.settle()

    def read_only_hit(self, error: BaseException) -> bool:
        """Whether an error may be NumPy refusing to write an array this run had read-only."""
        if self.arrays is None or not self.arrays.guarded:
            return False
        seen: BaseException | None = error
        for _ in range(4):
            if seen is None:
                return False
            if _READ_ONLY.search(str(seen)):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    # -- after a run -----------------------------------------------------------------------------------------------

    def changed(self) -> list[Record]:
        """The records whose object the last run changed."""
        return [record for record in self.records if record.kind.readable and self._changed(record)]

    def _changed(self, record: Record) -> bool:
        kind, arrays = record.kind, self.arrays
        try:
            if record.storage is not None and record.storage.written:
                return True
            if record.array is not None and arrays is not None and arrays.changed(record.array):
                return True
            if isinstance(kind, _Tensor) and record.state.copy is not None and _differs(record.state.copy, record.obj):
                return True
            return not kind.same(record.state, kind.read(record.obj))
        except Exception:  # a state that can no longer be read: changed, and compared as far as it can be
            return True

    def lost(self) -> list[str]:
        """What the last run wrote where nothing watched: it cannot be undone (a write from another thread, or a C
        extension, into a tensor; an array the run made writable again itself)."""
        lost = [] if self.tensors is None else [entry.path for entry in self.tensors.settled_lost]
        for record in self.records:
            if record.storage is not None and not record.storage.written and record.state.version is not None:
                try:
                    if record.obj._version != record.state.version:
                        lost.append(record.path)
                except Exception:
                    pass
        if self.arrays is not None:
            lost += [entry.path for entry in self.arrays.flipped]
        return lost

    def put_back(self, *, keep_end: bool = False, to: Ended | None = None) -> Ended:
        """Put every object the last run changed back as it was before the cell (or, ``to``, as an earlier run left
        it), in place. With ``keep_end``, the run's end is kept for a comparison: the states, and the storages' and
        arrays' copies swapped to hold it."""
        ended = Ended()
        with interrupts_deferred():
            changed = self.changed()
            if to is not None:
                ids = {id(record) for record in changed}
                changed += [record for record in to.states if id(record) not in ids]
            back = to.states if to is not None else {}
            tensors = []
            for record in changed:
                if keep_end:
                    end = record.kind.read(record.obj)
                    if isinstance(record.kind, _Tensor) and record.state.copy is not None:
                        end = end._replace(copy=record.obj.detach().clone())
                    ended.states[record] = end
                if isinstance(record.kind, _Tensor):
                    tensors.append(record)  # after the rest: a tensor's storage first, then its layout
                    continue
                self._put(record, back.get(record, record.state))
                array = record.array
                if array is not None and array.copy is not None and self.arrays is not None:
                    if to is not None:
                        array.array[...] = array.copy  # it holds the earlier run's end, or the start it kept
                    elif array.copy_is_start:
                        self.arrays.put_back(array, keep_end)
                        if keep_end:
                            ended.arrays.add(id(array))
            done: set[int] = set()
            for record in tensors:
                entry = record.storage
                if entry is not None and self.tensors is not None and entry.copy is not None and id(entry) not in done:
                    done.add(id(entry))
                    if to is not None:
                        self.tensors.put_copy(entry)
                    elif entry.written and entry.copy_is_start:
                        self.tensors.put_back(entry, keep_end)
                        if keep_end:
                            ended.storages.add(id(entry))
            for record in tensors:
                self._put(record, back.get(record, record.state))
            self._reread_versions()
        return ended

    def _put(self, record: Record, state: Any) -> None:
        try:
            record.kind.put(record.obj, state)
        except Exception as exc:  # the rest is put back all the same; the caller names what was not
            self.unrestored.setdefault(record.path, one_line(exc))

    def _reread_versions(self) -> None:
        for record in self.records:
            if record.storage is not None and record.state.version is not None:
                with suppress(Exception):
                    record.state = record.state._replace(version=record.obj._version)

    def opaque(self) -> list[Record]:
        """The objects with no state to read that the cell's code can reach (by the names it reads)."""
        read = self.names.read if self.names.read is not None else self.namespace.keys()
        return [record for record in self.records if not record.kind.readable and record.users and record.root in read]

    def release(self) -> None:
        """Let go of every record and copy."""
        self.records.clear()
        self.known.clear()
        self._by_id.clear()
        self.storages.clear()
        if self.tensors is not None:
            self.tensors.storages.clear()
        if self.arrays is not None:
            self.arrays.arrays.clear()
            self.arrays.guarded.clear()


class Ended:
    """What a run left, kept for a comparison: the states of the objects it changed, and which storages' and arrays'
    copies now hold its end."""

    def __init__(self) -> None:
        self.states: dict[Record, Any] = {}
        self.storages: set[int] = set()
        self.arrays: set[int] = set()


def _is_generator(kind: Kind) -> bool:
    return isinstance(kind, _State) or (isinstance(kind, _Facets) and any(isinstance(k, _State) for k in kind.kinds))


def _differs(copy: Any, tensor: Any) -> bool:
    return Comparison().difference(copy, tensor) is not None


_READ_ONLY = re.compile(r"read-only|readonly|not writ(e)?able|must be .*writ(e)?able", re.IGNORECASE)


def _written_by_name(codes: list[types.CodeType] | None) -> frozenset[str]:
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


def _numpy_generator(nprandom: types.ModuleType, obj: Any) -> Kind | None:
    if isinstance(obj, nprandom.BitGenerator):
        return _State("a NumPy bit generator", lambda g: g.state, lambda g, s: setattr(g, "state", s))
    if isinstance(obj, nprandom.RandomState):
        return _State("a NumPy RandomState", lambda g: g.get_state(legacy=False), lambda g, s: g.set_state(s))
    if isinstance(obj, nprandom.Generator):
        return _Through()
    if isinstance(obj, nprandom.SeedSequence):
        return _State("a NumPy SeedSequence", lambda s: s.n_children_spawned, _cannot_put)
    return None


def _cannot_put(obj: Any, state: Any) -> None:
    raise TypeError(f"a {type(obj).__name__} cannot be put back")


class _Through(_Stateless):
    """A NumPy ``Generator``: its state is its bit generator's, which is walked."""

    name = "generator"

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return ((".bit_generator", obj.bit_generator),)


class _Passage(_Stateless):
    """A bound method or a ``functools.partial``: what it holds is walked (a callback's object, a partial's
    arguments)."""

    name = "callable"

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return _through(obj)


_USERS_KINDS = frozenset(
    {"namespace", "list", "deque", "dict", "set", "function", "closure cell", "class", "callable", "instance"}
)
_TORCH_GENERATOR = _State("torch.Generator", lambda g: g.get_state(), lambda g, s: g.set_state(s))
_PER_OBJECT: frozenset[type] = frozenset({types.FunctionType, type, collections.OrderedDict, dict})


def _through(obj: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(obj, (tuple, frozenset)):
        return ((f"[{index}]", item) for index, item in enumerate(obj) if type(item) not in _ATOMS)
    if isinstance(obj, types.MethodType):
        return ((".__self__", obj.__self__), (".__func__", obj.__func__))
    if isinstance(obj, functools.partial):
        return (
            (".func", obj.func),
            *((f".args[{index}]", item) for index, item in enumerate(obj.args)),
            (".keywords", obj.keywords),
        )
    return ()


_ATTRIBUTES: dict[type, _Attributes | None] = {}


def _attributes_of(cls: type) -> _Attributes | None:
    """The attributes kind for instances of ``cls``: its slots (member descriptors) and whether it has a __dict__."""
    if cls in _ATTRIBUTES:
        return _ATTRIBUTES[cls]
    slots = []
    has_dict = False
    for klass in cls.__mro__:
        if "__dict__" in vars(klass) and klass is not object:
            has_dict = True
        for name in (
            vars(klass).get("__slots__", ()) if isinstance(vars(klass).get("__slots__", ()), (tuple, list)) else ()
        ):
            member = vars(klass).get(name)
            if isinstance(member, types.MemberDescriptorType):
                slots.append(member)
    has_dict = has_dict or (hasattr(cls, "__dictoffset__") and cls.__dictoffset__ != 0)
    kind = _Attributes(tuple(slots), has_dict) if slots or has_dict else None
    _ATTRIBUTES[cls] = kind
    return kind


def _opaque(obj: Any) -> str | None:
    return without_state(obj)


def _users(function: types.FunctionType, namespace: dict[str, Any]) -> bool:
    """Whether a function is the user's (the notebook's or a module of the user's own), not a library's."""
    globals_ = function.__globals__
    return globals_ is namespace or globals_.get("__name__") in ("__main__", *_user_module_names())


def _users_class(cls: type, namespace: dict[str, Any]) -> bool:
    module = getattr(cls, "__module__", None)
    if module in ("__main__", *_user_module_names()):
        return True
    # A class made by exec in a namespace without __name__ says "builtins": its methods tell where it was defined.
    return module in (None, "builtins") and _defined_in(cls, namespace)


_user_modules_kept: tuple[int, tuple[types.ModuleType, ...]] | None = None


def _user_modules() -> tuple[types.ModuleType, ...]:
    """The modules of the user's own files: imported from a file outside the interpreter's library directories
    (the standard library, site-packages) and not seedmagic's; kept while ``sys.modules`` keeps its size."""
    global _user_modules_kept
    size = len(sys.modules)
    if _user_modules_kept is not None and _user_modules_kept[0] == size:
        return _user_modules_kept[1]
    from .census import _library_dirs

    libraries = (*_library_dirs(), os.path.dirname(os.path.abspath(__file__)) + os.sep)
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or name == "__main__" or not path.endswith(".py") or not os.path.isabs(path):
            continue  # torch.ops and other module objects made at run time name no file of their own
        if not path.startswith(libraries):
            found.append(module)
    _user_modules_kept = (size, tuple(found))
    return _user_modules_kept[1]


def _user_module_names() -> frozenset[str]:
    return frozenset(module.__name__ for module in _user_modules())


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


__all__ = ["IPYTHON_NAMES", "MOST_OBJECTS", "Ended", "Names", "NoRoom", "Record", "Start", "TensorState"]
