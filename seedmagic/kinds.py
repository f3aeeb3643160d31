"""How each kind of object a cell can reach is read, compared and put back in place: one small unit per kind.

A kind reads an object's state shallowly (a list's items, a dict's items in order, an object's attributes, a
generator's state, a tensor's version counter, storage and layout), tells whether two states are the very same
(``same``, by identity), puts a state back into the very same object (``put``), names what the object holds for the
walk to go on (``children``), and compares two states (``compare``). The kinds of the array libraries' objects
(tensors, modules, arrays, pandas frames, NumPy's and torch's generators) are in ``array_kinds``; tensors' and arrays'
bytes are watched apart (``writes``).
"""

from __future__ import annotations

import array as _array
import collections
import functools
import operator
import types
from collections.abc import Callable, Iterable
from typing import Any

from .compare import Comparison
from .names import ipython_name, put_back_names
from .values import MISSING, cell_filled, without_state


class Kind:
    """How to read, compare and put back one kind of object's state; what it holds (to walk on)."""

    name = "object"
    #: Whether its state can be read and put back (opaque objects: neither).
    readable = True

    def read(self, obj: Any) -> Any:
        raise NotImplementedError

    def same(self, a: Any, b: Any) -> bool:
        """Shallow: the very same items or attributes (by identity)."""
        return same_items(a, b)

    def unchanged(self, state: Any, obj: Any) -> bool:
        """Whether ``obj`` is as ``state`` (read before) says: ``same`` as it reads now. A container checks its items in
        place, without reading a copy."""
        return self.same(state, self.read(obj))

    def put(self, obj: Any, state: Any) -> None:
        raise NotImplementedError

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return ()

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.diff(a, b, "")

    def shown(self, state: Any) -> Any:
        """What an excerpt of the state shows."""
        return state


def same_items(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(map(_is, a, b))
    if type(a) is dict:
        return len(a) == len(b) and all(map(_is, a, b)) and all(map(_is, a.values(), b.values()))
    return bool(a == b)


_is = operator.is_


class KeyLabel(str):
    """The label of a dict item whose key is an object: shown as the path of that object where the walk found it
    first (an optimizer's state, keyed by the model's parameters: ``opt.state[model.0.weight]``)."""

    key: Any


def key_label(key: Any) -> str:
    if type(key) in (str, int, bool, float, bytes) or key is None:
        text = repr(key)
        if len(text) <= 40:
            return f"[{text}]"
    label = KeyLabel(f"[{type(key).__name__} key]")
    label.key = key
    return label


class ListKind(Kind):
    name = "list"

    def read(self, obj: Any) -> Any:
        return list(obj)

    def put(self, obj: Any, state: Any) -> None:
        list.__setitem__(obj, slice(None), state)

    def unchanged(self, state: Any, obj: Any) -> bool:
        if type(obj) is not list:
            return super().unchanged(state, obj)
        return len(obj) == len(state) and all(map(_is, state, obj))

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return _items(state)


def _items(items: list[Any]) -> Iterable[tuple[str, Any]]:
    if not items or set(map(type, items)) <= ATOMS:
        return ()
    return ((f"[{index}]", item) for index, item in enumerate(items) if type(item) not in ATOMS)


class DequeKind(ListKind):
    name = "deque"

    def put(self, obj: Any, state: Any) -> None:
        obj.clear()
        obj.extend(state)


class DictKind(Kind):
    name = "dict"
    #: Whether its keys are hook handles' numbers, which count up in each run: its values alone are compared.
    hooks = False

    def read(self, obj: Any) -> Any:
        return dict(obj)

    def unchanged(self, state: Any, obj: Any) -> bool:
        if type(obj) is not dict:
            return super().unchanged(state, obj)
        return len(obj) == len(state) and all(map(_is, state, obj)) and all(map(_is, state.values(), obj.values()))

    def put(self, obj: Any, state: Any) -> None:
        if isinstance(obj, collections.OrderedDict):
            obj.clear()
            obj.update(state)
        else:
            dict.clear(obj)
            dict.update(obj, state)

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        for key, value in state.items():
            if type(key) not in ATOMS:
                yield f"[{type(key).__name__} key]", key
            if type(value) not in ATOMS:
                yield key_label(key), value

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        if self.hooks:
            return comparison.diff(list(a.values()), list(b.values()), "")
        return comparison.diff(a, b, "")


class HooksKind(DictKind):
    hooks = True


class SetKind(Kind):
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
        return (("{…}", item) for item in state if type(item) not in ATOMS)


class BytesKind(Kind):
    name = "bytearray"

    def read(self, obj: Any) -> Any:
        return bytes(obj)

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def put(self, obj: Any, state: Any) -> None:
        obj[:] = state


class ArrayArrayKind(Kind):
    name = "array.array"

    def read(self, obj: Any) -> Any:
        return obj.tobytes()

    def same(self, a: Any, b: Any) -> bool:
        return bool(a == b)

    def put(self, obj: Any, state: Any) -> None:
        obj[:] = _array.array(obj.typecode, state)


class AttributesKind(Kind):
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
        return same_items(a[0], b[0]) and all(map(_is, a[1], b[1]))

    def put(self, obj: Any, state: Any) -> None:
        attributes, slots = state
        if self.has_dict:
            held = obj.__dict__
            if not same_items(dict(held), attributes):
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
            if type(value) not in ATOMS:
                yield f".{name}", value
        for member, value in zip(self.slots, slots, strict=True):
            if value is not MISSING and type(value) not in ATOMS:
                yield f".{member.__name__}", value

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.state_diff(a, b, "")  # by name, in any order

    def shown(self, state: Any) -> Any:
        return state[0]


def _slot(member: Any, obj: Any) -> Any:
    try:
        return member.__get__(obj, type(obj))
    except AttributeError:
        return MISSING


class FunctionKind(AttributesKind):
    """A function the notebook or the user's own module defined: its code, defaults, attributes and closure."""

    name = "function"

    def __init__(self) -> None:
        super().__init__((), True)

    def read(self, obj: Any) -> Any:
        return (dict(obj.__dict__), (obj.__code__, obj.__defaults__, obj.__kwdefaults__))

    def same(self, a: Any, b: Any) -> bool:
        return same_items(a[0], b[0]) and all(map(_is, a[1], b[1]))

    def put(self, obj: Any, state: Any) -> None:
        attributes, (code, defaults, kwdefaults) = state
        if not same_items(dict(obj.__dict__), attributes):
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
        return comparison.diff(a[1], b[1], "") or comparison.state_diff(a[0], b[0], "")


class CellKind(Kind):
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
        return () if state is MISSING or type(state) in ATOMS else (("", state),)


class ClassKind(Kind):
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
        return ((f".{name}", value) for name, value in state.items() if type(value) not in ATOMS)

    def compare(self, comparison: Comparison, a: Any, b: Any) -> str | None:
        return comparison.state_diff(a, b, "")


class NamespaceKind(DictKind):
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
            if type(value) in ATOMS or isinstance(value, types.ModuleType):
                continue
            yield f"{self.prefix}{name}", value


class StateKind(Kind):
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


class StatelessKind(Kind):
    """An object with no state of its own to read or put back; what it holds, if anything, is walked."""

    def read(self, obj: Any) -> Any:
        return None

    def same(self, a: Any, b: Any) -> bool:
        return True

    def put(self, obj: Any, state: Any) -> None:
        pass


class OpaqueKind(StatelessKind):
    """An object whose state cannot be read (an open file, a lock, a generator object): it is named, never taken for
    unchanged."""

    name = "opaque"
    readable = False

    def __init__(self, what: str) -> None:
        self.what = what


class FacetsKind(Kind):
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


ATOMS: frozenset[type] = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis), type(NotImplemented)}
)


class PassageKind(StatelessKind):
    """A bound method or a ``functools.partial``: what it holds is walked (a callback's object, a partial's
    arguments)."""

    name = "callable"

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return through(obj)


def through(obj: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(obj, (tuple, frozenset)):
        return ((f"[{index}]", item) for index, item in enumerate(obj) if type(item) not in ATOMS)
    if isinstance(obj, types.MethodType):
        return ((".__self__", obj.__self__), (".__func__", obj.__func__))
    if isinstance(obj, functools.partial):
        return (
            (".func", obj.func),
            *((f".args[{index}]", item) for index, item in enumerate(obj.args)),
            (".keywords", obj.keywords),
        )
    return ()


_ATTRIBUTES: dict[type, AttributesKind | None] = {}


def attributes_of(cls: type) -> AttributesKind | None:
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
    kind = AttributesKind(tuple(slots), has_dict) if slots or has_dict else None
    _ATTRIBUTES[cls] = kind
    return kind


def opaque_what(obj: Any) -> str | None:
    return without_state(obj)


def is_generator(kind: Kind) -> bool:
    return isinstance(kind, StateKind) or (
        isinstance(kind, FacetsKind) and any(isinstance(k, StateKind) for k in kind.kinds)
    )
