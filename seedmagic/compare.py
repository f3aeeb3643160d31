"""Exact comparison of two values, with "cannot compare" as a third outcome, never taken for the same or different.

- torch tensors: type, dtype, layout, device, shape, ``requires_grad``, values and a leaf's ``.grad``; sparse (COO:
  indices, values and whether coalesced; CSR/CSC/BSR/BSC: their index and value tensors), nested (component by
  component), quantized (scheme, scale, zero point, integer representation), ``meta`` (no values: the rest only).
  ``nn.Module``: class, every submodule's training flag and plain attributes, every parameter and buffer
  (non-persistent too); hooks are not compared.
- NumPy arrays and scalars: dtype, shape, values; structured arrays field by field, masked arrays with their mask,
  object arrays element by element with this same comparison.
- Floating-point numbers (Python, NumPy float16 to longdouble, torch float8 to float64, complex numbers part by
  part): every NaN equals every NaN (sign and payload are ignored); any other two values must be identical, so
  ``0.0`` and ``-0.0`` differ (``1 / x`` tells them apart).
- Containers: lists and tuples element by element; dicts key by key *in order*, since ``list(d)`` shows the order
  (a dict keyed by the ``id()`` of its values compares its values only); sets by their elements in any order.
- Generators by their state: ``random.Random`` (``getstate``), NumPy ``Generator``, ``RandomState``, bit generators
  and ``SeedSequence``, ``torch.Generator`` (one on a device that has not started is neither read nor compared).
  ``random.SystemRandom`` always differs: no seed repeats it.
- Other objects by what ``pickle`` saves of them (``__reduce_ex__``): the class, by qualified name (a class defined
  twice from the same code compares by its definition and state), the arguments, the attributes (``__dict__`` and
  ``__slots__``, by name in any order) and the items. Functions and classes met inside values compare by qualified
  name and code, defaults, closures and class attributes. pandas objects by their ``equals``.
- matplotlib artists (figures, axes, lines, texts...) by what they draw: the rendering of the figures they are on
  (``plots``), not their identities, numbers or automatic labels.
- Values that cycle back to themselves (a list holding itself, parent pointers) compare by their structure.
- Objects named in ``known`` (those a cell found before it ran, whose own states are compared apart) are the same
  only if they are the very same object.

Cannot compare: open files, sockets, locks, threads, generator objects and anything else ``pickle`` cannot save, a
value nested too deeply, and a set whose elements hashed by identity are too many to match one by one.
"""

from __future__ import annotations

import math
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal

from .compare_arrays import (
    array_difference,
    module_difference,
    numpy_generator_difference,
    tensor_difference,
    torch_generator_difference,
)
from .errors import one_line
from .excerpts import excerpt
from .plots import is_artist, rendering_difference, root_figure
from .values import MISSING, TOO_MANY, Sentinel, cell_filled, same_class, without_state

_MOST_PAIRS = 100_000  # element pairs tried when matching a set's elements that are not hashed by value
_EXACT = (int, bool, str, bytes, bytearray, type(None))


def difference(a: Any, b: Any) -> str | None:
    """None if ``a`` and ``b`` are exactly the same value (NaN equal to NaN, ``0.0`` not equal to ``-0.0``), else a
    short reason; the reason starts with "cannot compare" when a part of them has no state that can be read."""
    comparison = Comparison()
    why = comparison.difference(a, b)
    if why is None and comparison.notes:
        return f"cannot compare {comparison.notes[0]}"
    return why


#: How to make each kind of generator from the cell's seed: the one fix a report gives for it.
FIXES: Final = {
    "numpy": "seedmagic.rng()",
    "random": "random.Random(seedmagic.current_seed())",
    "torch": "seedmagic.torch_generator()",
    "RandomState": "np.random.RandomState(seedmagic.current_seed())",
    "BitGenerator": "seedmagic.rng().bit_generator",
    "SeedSequence": "np.random.SeedSequence(seedmagic.current_seed())",
}
#: What each kind of generator is called in a report.
GENERATORS: Final = {
    "numpy": "NumPy Generator",
    "random": "random.Random",
    "torch": "torch.Generator",
    "RandomState": "NumPy RandomState",
    "BitGenerator": "NumPy bit generator",
    "SeedSequence": "NumPy SeedSequence",
}


class Comparison:
    """One comparison of two values: the pairs under comparison (so that cycles end) and what it could not compare.

    ``known``: objects compared by identity alone (by ``id``; the mapping keeps them alive). ``found``: after a
    difference, the innermost pair of values that differ, for an excerpt; ``fix``, where they are generators not
    seeded from the cell's seed, the key of ``FIXES`` that makes one."""

    def __init__(
        self, known: Mapping[int, object] | None = None, figures: dict[tuple[int, int], Any] | None = None
    ) -> None:
        self.seen: dict[tuple[int, int], tuple[Any, Any]] = {}  # the pair itself keeps its ids from being reused
        #: Pairs of figures already compared, in a comparison of several values: each pair's difference is told once.
        self.figures = figures if figures is not None else {}
        self.trail: list[tuple[int, int]] = []  # the pairs in the order they were seen, to take back a trial's
        self.notes: list[str] = []
        self.known: Mapping[int, object] = known or {}
        self.found: tuple[Any, Any] | None = None
        self.fix: str | None = None

    def difference(self, a: Any, b: Any) -> str | None:
        try:
            return self.diff(a, b, "")
        except RecursionError:
            self.notes.append("a value nested too deeply")
        except Exception as exc:  # a value whose own methods fail: say so, never crash the cell
            self.notes.append(f"a {type(a).__name__} ({one_line(exc)})")
        return None

    def cannot(self, where: str, what: str) -> None:
        self.notes.append(f"{where}{what}")

    def unseeded(self, where: str, kind: str) -> str:
        self.fix = self.fix or kind
        return f"{where}a {GENERATORS[kind]} whose state differs between runs: it was not seeded from the cell's seed"

    def diff(self, a: Any, b: Any, where: str) -> str | None:
        why = self._diff(a, b, where)
        if why is not None and self.found is None:
            self.found = (a, b)
        return why

    def _diff(self, a: Any, b: Any, where: str) -> str | None:
        if a is b:
            return None
        if self.known and (id(a) in self.known or id(b) in self.known):
            return f"{where}a different object in each run"
        kind = type(a)
        if kind in _EXACT and kind is type(b):
            return None if a == b else f"{where}values differ"
        if kind is float and type(b) is float:
            return None if _same_float(a, b) else f"{where}values differ"
        if kind is complex and type(b) is complex:
            same = _same_float(a.real, b.real) and _same_float(a.imag, b.imag)
            return None if same else f"{where}values differ"
        if kind is not type(b) and not same_class(kind, type(b)):
            return f"{where}type {kind.__name__} vs {type(b).__name__}"
        key = (id(a), id(b))
        if key in self.seen:  # under comparison further up: a cycle, the same so far
            return None
        self.seen[key] = (a, b)
        self.trail.append(key)
        try:
            return self._dispatch(a, b, where)
        except RecursionError:
            raise
        except Exception as exc:  # a value whose own methods fail: say so, never crash the cell
            self.cannot(where, f"a {_type_name(a)} object, whose state cannot be read ({one_line(exc)})")
            return None

    def _dispatch(self, a: Any, b: Any, where: str) -> str | None:
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(a, torch.Tensor):
                return tensor_difference(self, torch, a, b, where)
            if isinstance(a, torch.nn.Module):
                return module_difference(self, torch, a, b, where)
            if isinstance(a, torch.Generator):
                return torch_generator_difference(self, torch, a, b, where)
            if type(a).__name__ == "RemovableHandle" and type(a).__module__ == "torch.utils.hooks":
                # Its id counts up with every hook registered: the hooks it removes are what it is.
                hooks = [getattr(handle, "hooks_dict_ref", lambda: None)() for handle in (a, b)]
                values = [list(held.values()) if isinstance(held, dict) else held for held in hooks]
                return self.diff(values[0], values[1], where)
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(a, (numpy.ndarray, numpy.generic)):
            return array_difference(self, numpy, numpy.asanyarray(a), numpy.asanyarray(b), where)
        if is_artist(a):
            why = self._artist(a, b, where)
            if why is not MISSING:
                return why
        if type(a) in (list, tuple):
            return self._sequence(a, b, where)
        if type(a) is dict:
            return self._dict(a, b, where)
        if type(a) in (set, frozenset):
            return self._set(a, b, where)
        nprandom = sys.modules.get("numpy.random")
        if nprandom is not None:
            why = numpy_generator_difference(self, nprandom, a, b, where)
            if why is not MISSING:
                return why
        random = sys.modules.get("random")
        if random is not None and isinstance(a, random.Random):
            if isinstance(a, random.SystemRandom):
                return f"{where}a random.SystemRandom: it draws from os.urandom, which no seed repeats"
            if self.diff(a.getstate(), b.getstate(), where) is not None:
                return self.unseeded(where, "random")
            return self._attributes(a, b, where)
        if isinstance(a, type):
            return self._class(a, b, where)
        if isinstance(a, types.FunctionType):
            return self._function(a, b, where)
        if isinstance(a, types.MethodType):
            return self.diff(a.__func__, b.__func__, where) or self.diff(a.__self__, b.__self__, where)
        if isinstance(a, types.BuiltinFunctionType):
            if a.__qualname__ != b.__qualname__:
                return f"{where}{a.__qualname__} vs {b.__qualname__}"
            if isinstance(a.__self__, types.ModuleType) or a.__self__ is None:
                return None
            return self.diff(a.__self__, b.__self__, where)
        if isinstance(a, types.ModuleType):
            return None if a.__name__ == b.__name__ else f"{where}module {a.__name__} vs {b.__name__}"
        if isinstance(a, (staticmethod, classmethod)):
            return self.diff(a.__func__, b.__func__, where)
        if isinstance(a, property):
            return self.diff((a.fget, a.fset, a.fdel), (b.fget, b.fset, b.fdel), where)
        what = without_state(a)
        if what is not None:
            self.cannot(where, what)
            return None
        if isinstance(a, types.CellType):
            filled = cell_filled(a), cell_filled(b)
            if filled != (True, True):
                return None if filled == (False, False) else f"{where}an empty closure cell vs a filled one"
            return self.diff(a.cell_contents, b.cell_contents, where)
        if isinstance(a, weakref.ref):
            return self.diff(a(), b(), where)
        if isinstance(a, memoryview):
            return self.diff((a.format, a.shape, a.tobytes()), (b.format, b.shape, b.tobytes()), where)
        if type(a) in _VIEW_TYPES:
            return self.diff(list(a), list(b), where)
        if type(a).__module__.split(".")[0] == "pandas" and callable(getattr(a, "equals", None)):
            return None if a.equals(b) else f"{where}values differ"
        return self._reduced(a, b, where)

    def _artist(self, a: Any, b: Any, where: str) -> str | Literal[Sentinel.MISSING] | None:
        """A plot is what it draws: two artists by the rendering of the figures they are on (MISSING where they are
        not on two figures, to be compared as any object)."""
        figure_a, figure_b = root_figure(a), root_figure(b)
        if figure_a is None or figure_b is None or figure_a is figure_b:
            return MISSING
        key = (id(figure_a), id(figure_b))
        if key in self.figures:  # told already, under another name
            return None
        self.figures[key] = (figure_a, figure_b)
        why = rendering_difference(figure_a, figure_b)
        return None if why is None else f"{where}{why}"

    # -- containers ----------------------------------------------------------------------------------------------

    def _sequence(self, a: Any, b: Any, where: str) -> str | None:
        if len(a) != len(b):
            return f"{where}length {len(a)} vs {len(b)}"
        return self._first_difference(zip(a, b, strict=True), lambda index: f"{where}[{index}] ")

    def _first_difference(self, pairs: Iterable[tuple[Any, Any]], label: Callable[[int], str]) -> str | None:
        """The first difference between the values of ``pairs``; ``label(index)`` says where (built only then)."""
        for index, (x, y) in enumerate(pairs):
            if x is y or (type(x) in _EXACT and type(x) is type(y) and x == y):
                continue
            why = self.diff(x, y, label(index))
            if why is not None:
                return why
        return None

    def _dict(self, a: dict[Any, Any], b: dict[Any, Any], where: str) -> str | None:
        if len(a) != len(b):
            return f"{where}keys differ"
        if _keyed_by_identity(a) and _keyed_by_identity(b):  # {id(x): x}: the keys are addresses, the values count
            return self._sequence(list(a.values()), list(b.values()), where)
        for x, y in zip(a, b, strict=True):
            if x is not y and not self._same(x, y):
                return f"{where}keys in another order" if self._reordered(a, b) else f"{where}keys differ"
        keys = list(a)
        values = ((a[x], b[y]) for x, y in zip(a, b, strict=True))
        return self._first_difference(values, lambda index: f"{where}[{_key_label(keys[index], index)}] ")

    def _set(self, a: Any, b: Any, where: str) -> str | None:
        if len(a) != len(b):
            return f"{where}size {len(a)} vs {len(b)}"
        by_value = {y: y for y in b}
        matched: set[int] = set()
        unmatched = []
        for x in a:
            y = by_value.get(x, MISSING)
            if y is not MISSING and id(y) not in matched and self._same(x, y):
                matched.add(id(y))
            elif _hashed_by_value(x):  # no other element of b can be == to it, let alone the same
                return f"{where}elements differ: {excerpt(x, 30)} is only in the first"
            else:  # NaN, objects hashed by identity: look for it among the rest
                unmatched.append(x)
        missing = self._unmatched(unmatched, [y for y in b if id(y) not in matched])
        if missing is TOO_MANY:
            self.cannot(where, f"a set of {len(a)} elements too many to match one by one")
            return None
        return None if missing is MISSING else f"{where}elements differ: {excerpt(missing, 30)} is only in the first"

    def _reordered(self, a: dict[Any, Any], b: dict[Any, Any]) -> bool:
        """Whether two dicts have the same keys in another order (for the message: small dicts only)."""
        return self._unmatched(list(a), list(b)) is MISSING

    def _unmatched(self, a: list[Any], b: list[Any]) -> object:
        """An element of ``a`` with no equal in ``b`` (each used once), MISSING, or TOO_MANY pairs to try."""
        rest, tries = list(b), 0
        for x in a:
            for index, y in enumerate(rest):
                tries += 1
                if tries > _MOST_PAIRS:
                    return TOO_MANY
                if self._same(x, y):
                    del rest[index]
                    break
            else:
                return x
        return MISSING

    def _same(self, x: Any, y: Any) -> bool:
        """Whether x and y are the same, as a trial: notes and pairs it adds are dropped if they are not."""
        if type(x) in _EXACT and type(x) is type(y):
            return bool(x == y)
        notes, trail, found = len(self.notes), len(self.trail), self.found
        if self.diff(x, y, "") is None:
            return True
        self.found = found
        del self.notes[notes:]
        while len(self.trail) > trail:  # pairs found to differ must not pass for the same later
            del self.seen[self.trail.pop()]
        return False

    def _attributes(self, a: Any, b: Any, where: str) -> str | None:
        return self.state_diff(getattr(a, "__dict__", None), getattr(b, "__dict__", None), where)

    def state_diff(self, a: Any, b: Any, where: str) -> str | None:
        """An object's attributes: by name, in any order (``__setstate__`` may set them in another)."""
        if type(a) is tuple and type(b) is tuple and len(a) == len(b) == 2:  # (__dict__, __slots__ values)
            return self.state_diff(a[0], b[0], where) or self.state_diff(a[1], b[1], where)
        if (a is None and type(b) is dict) or (b is None and type(a) is dict):  # no attributes: none
            a, b = a or {}, b or {}
        if type(a) is not dict or type(b) is not dict or not all(type(k) is str for d in (a, b) for k in d):
            return self.diff(a, b, where)
        if a.keys() != b.keys():
            return f"{where}attributes differ: {', '.join(sorted(a.keys() ^ b.keys()))}"
        for name, value in a.items():
            why = self.diff(value, b[name], f"{where}[{name!r}] ")
            if why is not None:
                return why
        return None

    # -- code --------------------------------------------------------------------------------------------------

    def _class(self, a: type, b: type, where: str) -> str | None:
        if (a.__module__, a.__qualname__) != (b.__module__, b.__qualname__):
            return f"{where}class {a.__qualname__} vs {b.__qualname__}"
        if not same_class(a, b):
            return f"{where}class {a.__qualname__} with other bases"
        attributes_a = {k: v for k, v in vars(a).items() if not _internal(k)}
        attributes_b = {k: v for k, v in vars(b).items() if not _internal(k)}
        return self.state_diff(attributes_a, attributes_b, f"{where}{a.__qualname__} ")

    def _function(self, a: types.FunctionType, b: types.FunctionType, where: str) -> str | None:
        if a.__qualname__ != b.__qualname__:
            return f"{where}function {a.__qualname__} vs {b.__qualname__}"
        if a.__code__ is not b.__code__ and a.__code__ != b.__code__:
            return f"{where}function {a.__qualname__} with other code"
        closure_a, closure_b = a.__closure__ or (), b.__closure__ or ()
        return self.diff(
            (a.__defaults__, a.__kwdefaults__, closure_a, a.__dict__),
            (b.__defaults__, b.__kwdefaults__, closure_b, b.__dict__),
            f"{where}{a.__qualname__} ",
        )

    # -- objects -----------------------------------------------------------------------------------------------

    def _reduced(self, a: Any, b: Any, where: str) -> str | None:
        """Compare what pickle saves of each: the callable that rebuilds it, its arguments, state and items."""
        try:
            parts_a, parts_b = _reduce(a), _reduce(b)
        except Exception as exc:
            self.cannot(where, f"a {_type_name(a)} object, whose state cannot be read ({one_line(exc)})")
            return None
        callable_, args, state, items, pairs = zip(parts_a, parts_b, strict=True)
        return (
            self.diff(*callable_, f"{where}made by ")
            or self.diff(*args, where)
            or self.state_diff(*state, where)
            or self.diff(*items, where)
            or self.diff(*pairs, where)
        )


def _same_float(x: float, y: float) -> bool:
    if x != x:
        return y != y
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


def _keyed_by_identity(d: dict[Any, Any]) -> bool:
    """Whether every key is the ``id()`` of its value (or of what its weak reference points to)."""
    if not d or type(next(iter(d))) is not int:
        return False
    for key, value in d.items():
        target = value() if isinstance(value, weakref.ref) else value
        if key != id(target) and not (target is None and isinstance(value, weakref.ref)):
            return False
    return True


def _key_label(key: Any, index: int) -> str:
    """How a path shows a dict key: its repr when short and cheap, else its position and type."""
    if type(key) in _EXACT or type(key) in (float, complex):
        text = repr(key)
        if len(text) <= 40:
            return text
    return f"key {index}: {type(key).__name__}"


def _hashed_by_value(x: Any) -> bool:
    """Whether ``x`` is found in a set by its value: then an element that is the same is found by lookup."""
    if type(x) in _EXACT:
        return True
    if type(x) in (float, complex):
        return bool(x == x)
    return type(x) in (tuple, frozenset) and all(_hashed_by_value(item) for item in x)


def _internal(name: str) -> bool:
    """Class attributes Python and its libraries make (``__dict__``, enum and abc bookkeeping), not the class's own."""
    return (
        (name.startswith("__") and name.endswith("__"))
        or (name.startswith("_") and name.endswith("_"))
        or (name == "_abc_impl")
    )


_VIEW_TYPES: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def _reduce(value: Any) -> tuple[Any, ...]:
    reduced = value.__reduce_ex__(4)
    if isinstance(reduced, str):  # a global, saved by name
        return (reduced, None, None, None, None)
    parts = [*reduced, *[None] * (5 - len(reduced))]
    for item in (3, 4):  # iterators over the items: what they yield is what counts
        if parts[item] is not None:
            parts[item] = list(parts[item])
    return tuple(parts)


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def holds_strings_in_a_set(value: Any, depth: int = 3) -> bool:
    if isinstance(value, (set, frozenset)):
        return any(isinstance(item, (str, bytes)) for item in value)
    if depth and isinstance(value, (list, tuple)):
        return any(holds_strings_in_a_set(item, depth - 1) for item in value)
    if depth and isinstance(value, dict):
        return any(holds_strings_in_a_set(item, depth - 1) for item in value.values())
    return False


__all__ = ["FIXES", "GENERATORS", "Comparison", "difference", "holds_strings_in_a_set"]
