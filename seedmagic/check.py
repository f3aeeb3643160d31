"""``%%seeded --check``: run a cell twice from the same seed and say whether it came out the same.

**Both runs start from the same namespace.** Before the first run, the values the cell reads are deep-copied (one
``copy.deepcopy`` memo shared by all of them, so that objects shared between them stay shared; modules, IPython's
shell and the standard streams are shared, not copied). "Read" means: every name the cell's code loads, and,
recursively, the names loaded by what it reaches that the notebook defined (functions whose globals are the
notebook's namespace, their closures, the methods of notebook classes and of the classes of objects it reads, up to
10,000 code objects). A name the cell only binds or deletes needs no copy. A cell whose code calls ``get_ipython``
(a magic or ``!`` line), ``eval``, ``exec``, ``globals``, ``locals`` or ``vars`` may read any name: then every name
is copied, as when ``run_twice`` is not given the code. Each copy must compare the same as its original (below), else
it is not used; ``Parameter`` copies get their original's ``.grad``.

The first run works on the copies. Then every name is bound again as before the cell (names it bound are removed,
names it deleted or rebound come back), the generators are reseeded, and the second run works on the original
objects: afterwards the notebook holds the second run's state, and whatever else refers to those objects (an
optimizer holding a model's parameters) still sees them. If the first run raises, the originals are put back.

**What is compared:** every name the cell's code binds or deletes, every other name whose binding either run
changed, every name whose value was copied (so a change made in place is compared: ``lst.append(...)``, training an
existing ``model``, ``arr += ...``), and the last expression (``Out``). Names bound to functions, classes or modules
in both runs are not compared; IPython's own names (``In``, ``Out``, ``_``, ``__``, ``_3``, ``_i3``, ``_oh``,
``exit``, ...), ``__builtins__`` and ``__warningregistry__`` (a once-per-location warning's record) never are.

Values are compared exactly:

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
  (a dict keyed by the ``id()`` of its values compares its values only); sets by their elements in any order (a
  set's order follows hashes: for strings it changes between processes unless ``PYTHONHASHSEED`` is set, which the
  report notes; for most objects it follows memory addresses).
- Generators by their state: ``random.Random`` (``getstate``), NumPy ``Generator``, ``RandomState``, bit generators
  and ``SeedSequence``, ``torch.Generator`` (one on a device that has not started is neither read nor copied: it
  cannot be compared). ``random.SystemRandom`` always differs: no seed repeats it.
- Other objects by what ``pickle`` saves of them (``__reduce_ex__``): the class, by qualified name (a class the cell
  defines is another class object in each run: an ``nn.Module`` subclass, a dataclass, an enum, a plain class or a
  namedtuple compares by its definition and state), the arguments, the attributes (``__dict__`` and ``__slots__``,
  by name in any order) and the items. Functions and classes met inside values compare by qualified name and code,
  defaults, closures and class attributes. pandas objects by their ``equals`` (which takes ``0.0`` for ``-0.0``).
- Values that cycle back to themselves (a list holding itself, parent pointers) compare by their structure.

**Cannot compare** is a third outcome, never taken for the same or for different: open files, sockets, locks,
threads, generator objects and anything else ``pickle`` cannot save, a value nested too deeply, a set whose elements
hashed by identity are too many to match one by one, and a value the cell reads whose copy could not be made (or was
not the same): both runs then use the object itself. A tensor that cannot be copied (not a leaf of autograd) is
shared too, but checked: if the first run changed it in place, the second did not start from the same value. A
report that could not compare everything says "reproducible as far as it can tell" (``CheckReport.proven`` is
False); when a value the cell reads could not be kept for the second run, a difference may come from that: the
report says "NOT reproducible as far as it can tell" (``CheckReport.same_start`` is False).

**Not covered:** what a cell changes outside the namespace (files, module attributes, class attributes and function
defaults changed in place, state that only closures or objects it does not read hold, what it prints), values it
reaches other than through a name it reads (``sys.modules``, ``getattr(module, name)``), which objects are shared
with which (``b = a`` and ``b = a.copy()`` compare the same), a set's order, an object's attribute order and an
``nn.Module``'s hooks. Copying takes the memory (CPU or GPU) of a second copy of what the cell reads, and a value that
holds a non-CPU ``torch.Generator`` deep inside is copied with its state.
"""

from __future__ import annotations

import copy
import dis
import enum
import functools
import io
import math
import re
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from .determinism import hash_seed_flag
from .errors import one_line

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import Generator as TorchGenerator
    from torch import Tensor, nn
    from torch import device as TorchDevice

    from .census import Unseeded

LAST_EXPRESSION = "Out"
HINT = (
    "usual causes: a generator seedmagic does not seed (np.random.default_rng() or torch.Generator() without a seed: "
    "use seedmagic.rng() / seedmagic.torch_generator()), the clock (time.time(), datetime.now()), os.urandom/uuid, "
    "threads, or GPU kernels that are not deterministic (%seed --deterministic)"
)

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
# Calls that read names the code does not spell out: with one of them, every name is copied.
_DYNAMIC = frozenset({"get_ipython", "eval", "exec", "globals", "locals", "vars"})
_LOADS = frozenset(
    {"LOAD_NAME", "LOAD_GLOBAL", "LOAD_FROM_DICT_OR_GLOBALS", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_DEREF"}
)
_NAME_STORES = frozenset({"STORE_NAME", "DELETE_NAME"})
_GLOBAL_STORES = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})
_MOST_CODE = 10_000  # code objects followed when looking for the names a cell reads
_MOST_PAIRS = 100_000  # element pairs tried when matching a set's elements that are not hashed by value
_EXACT = (int, bool, str, bytes, bytearray, type(None))


class _Sentinel(enum.Enum):
    MISSING = enum.auto()  # no value: a name not bound, a key not found, nothing of that kind
    TOO_MANY = enum.auto()  # too many element pairs to try


_MISSING: Final = _Sentinel.MISSING
_TOO_MANY: Final = _Sentinel.TOO_MANY


@dataclass(frozen=True)
class Difference:
    name: str
    why: str
    first: str
    second: str


@dataclass(frozen=True)
class Uncomparable:
    """A name whose two values could not be compared, and why. ``at_start``: its value before the cell could not be
    kept for the second run, so the two runs may not have started from the same value."""

    name: str
    why: str
    at_start: bool = False


class SeededDifferently(NamedTuple):
    """A library the two runs left seeded with different seeds, as the library reads its own (``reader``)."""

    library: str
    reader: str
    first: int
    second: int


@dataclass(frozen=True)
class CheckReport:
    """The outcome of ``run_twice``: which names were compared, which differ, which could not be compared, and what
    one process cannot check. ``reproducible``: no difference found; ``proven``: that, and everything compared."""

    seed: int | None
    compared: tuple[str, ...]
    differences: tuple[Difference, ...]
    caveats: tuple[str, ...] = ()
    uncomparable: tuple[Uncomparable, ...] = ()
    #: Generators the runs made without a seed (from OS entropy): the likely cause of a difference, where it was.
    made_without_seed: tuple[Unseeded, ...] = ()
    #: Libraries each run seeded differently (``torch.seed()`` draws a seed from the OS): the likely cause too.
    seeded_differently: tuple[SeededDifferently, ...] = ()

    @property
    def reproducible(self) -> bool:
        """No difference found (some names may not have been comparable: see ``proven``)."""
        return not self.differences

    @property
    def proven(self) -> bool:
        """No difference found and every name compared: a verdict of "reproducible" without reservation."""
        return not self.differences and not self.uncomparable

    @property
    def same_start(self) -> bool:
        """Both runs started from the same values: a difference found is the cell's doing."""
        return not any(u.at_start for u in self.uncomparable)

    def __str__(self) -> str:
        seed = "" if self.seed is None else f" from seed {self.seed}"
        unsure = {u.name for u in self.uncomparable}
        if self.proven:
            names = ", ".join(self.compared) or "nothing to compare"
            lines = [f"seedmagic: reproducible: two runs{seed} gave the same {names}"]
        elif self.reproducible:
            names = ", ".join(name for name in self.compared if name not in unsure) or "nothing else"
            lines = [
                f"seedmagic: reproducible as far as it can tell: two runs{seed} gave the same {names}; "
                f"cannot compare {', '.join(u.name for u in self.uncomparable)}:"
            ]
            lines += [f"  {u.name}: {u.why}" for u in self.uncomparable]
        else:
            count = f"{len(self.differences)} of {len(self.compared)}"
            if self.same_start:
                lines = [f"seedmagic: NOT reproducible: two runs{seed} differ in {count}:"]
            else:
                start = ", ".join(u.name for u in self.uncomparable if u.at_start)
                lines = [
                    f"seedmagic: NOT reproducible as far as it can tell: two runs{seed} differ in {count}, but may not "
                    f"have started from the same {start}:"
                ]
            for d in self.differences:
                values = f": {d.first}  vs  {d.second}" if d.first or d.second else ""
                lines.append(f"  {d.name}: {d.why}{values}")
            lines += [f"  cannot compare {u.name}: {u.why}" for u in self.uncomparable]
            for made in self.made_without_seed:
                via = f" (via {made.via})" if made.via else ""
                fix = "seedmagic.rng()" if made.library == "numpy" else "random.Random(seed)"
                lines.append(
                    f"  likely cause: a {made.library} generator made without a seed at {made.where}{via} "
                    f"({made.count} made in the two runs): give it a seed ({fix}), or %seed N --reach"
                )
            for seeded in self.seeded_differently:
                lines.append(
                    f"  likely cause: the cell seeds {seeded.library} with a different seed in each run "
                    f"({seeded.reader} {seeded.first}, then {seeded.second}): a seed drawn from the OS "
                    f"({seeded.library}.seed()) or from the clock; give it a fixed one, or let %%seeded seed it"
                )
            lines.append(f"  {HINT}")
        lines += [f"  note: {caveat}" for caveat in self.caveats]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def seeded_differently(
    readers: dict[str, str], first: dict[str, int], second: dict[str, int]
) -> tuple[SeededDifferently, ...]:
    """The libraries that two runs left seeded with different seeds (``first``, ``second``: each library's own seed
    after each run; ``readers``: how each library reads it)."""
    return tuple(
        SeededDifferently(name, readers.get(name, ""), seed, second[name])
        for name, seed in first.items()
        if name in second and second[name] != seed
    )


# -- running twice -----------------------------------------------------------------------------------------------


def run_twice(
    run: Callable[[], Any],
    namespace: dict[str, Any],
    reseed: Callable[[], None],
    seed: int | None = None,
    *,
    code: str | types.CodeType | Iterable[types.CodeType] | None = None,
) -> tuple[Any, CheckReport]:
    """Run ``run()`` (already seeded) on copies of what it reads, put the namespace back, ``reseed()``, run again on
    the originals; compare the two runs.

    ``code`` is what ``run`` executes (source or code objects), to find the names it reads; by default the code
    objects held by the object ``run`` is a method of (the magic's compiled cell), else every name is copied.
    Returns the second run's value and the report; the namespace is left as the second run left it.
    """
    __tracebackhide__ = True
    before = dict(namespace)
    codes = _code_of(run, code)
    names = _names_used(codes, namespace)
    read = names.read
    start = _Start.take(
        {
            name: value
            for name, value in before.items()
            if not _ipython_name(name) and not _is_code(value) and (read is None or name in read)
        },
        namespace,
    )
    namespace.update(start.copies)
    try:
        first_value = run()
    except BaseException:
        for name, copied in start.copies.items():
            if namespace.get(name, _MISSING) is copied:
                namespace[name] = before[name]
        raise
    first = dict(namespace)
    unsure = {**start.uncopyable, **start.changed(before)}
    _put_back(namespace, before)
    reseed()
    second_value = run()
    second = namespace

    run_one_start = {**before, **start.copies}
    touched = _touched(run_one_start, first) | _touched(before, second) | set(start.copies) | set(start.uncopyable)
    touched |= set(start.shared) | names.bound
    outcome = _Outcome()
    # In the order the cell binds them, then the order of the namespace.
    for name in dict.fromkeys([*_binding_order(codes), *first, *second, *before]):
        if name not in touched or _ipython_name(name):
            continue
        a, b = first.get(name, _MISSING), second.get(name, _MISSING)
        if a is _MISSING and b is _MISSING:
            continue
        if a is _MISSING or b is _MISSING:
            if name in before:
                outcome.differ(name, f"deleted only by the {'first' if a is _MISSING else 'second'} run")
            else:
                outcome.differ(name, f"bound only by the {'first' if b is _MISSING else 'second'} run")
            continue
        if _is_code(a) and _is_code(b):
            continue
        # A tensor both runs shared, left alone by the first run: the second must leave it alone too.
        if (
            name in start.shared
            and name not in unsure
            and _Comparison().difference(start.shared[name], before[name]) is not None
        ):
            outcome.differ(name, "changed in place by the second run only")
            continue
        if outcome.judge(name, a, b) and _holds_strings_in_a_set(a) and not hash_seed_flag().ok:
            outcome.caveats.append(
                f"{name} holds a set of strings: its order differs between processes unless PYTHONHASHSEED is "
                "set before the kernel starts, which one process cannot check"
            )
    if first_value is not None or second_value is not None:
        outcome.judge(LAST_EXPRESSION, first_value, second_value)
    for name, why in unsure.items():
        outcome.not_kept(name, why)
    return second_value, outcome.report(seed)


class _Outcome:
    """The report under construction: a difference outweighs what could not be compared."""

    def __init__(self) -> None:
        self.compared: list[str] = []
        self.differences: list[Difference] = []
        self.uncomparable: list[Uncomparable] = []
        self.caveats: list[str] = []

    def differ(self, name: str, why: str, first: str = "", second: str = "") -> None:
        self.compared.append(name)
        self.differences.append(Difference(name, why, first, second))

    def judge(self, name: str, a: Any, b: Any) -> bool:
        """Compare one name's two values; True if nothing differs."""
        comparison = _Comparison()
        why = comparison.difference(a, b)
        if why is not None:
            self.differ(name, why, _excerpt(a), _excerpt(b))
            return False
        self.compared.append(name)
        if comparison.notes:
            more = f"; and {len(comparison.notes) - 1} more" if len(comparison.notes) > 1 else ""
            self.uncomparable.append(Uncomparable(name, comparison.notes[0] + more))
        return True

    def not_kept(self, name: str, why: str) -> None:
        """A name whose value before the cell was not kept for the second run: the runs may have started apart."""
        for index, known in enumerate(self.uncomparable):
            if known.name == name:
                self.uncomparable[index] = Uncomparable(name, f"{why}; {known.why}", at_start=True)
                return
        self.uncomparable.append(Uncomparable(name, why, at_start=True))

    def report(self, seed: int | None) -> CheckReport:
        return CheckReport(
            seed, tuple(self.compared), tuple(self.differences), tuple(self.caveats), tuple(self.uncomparable)
        )


def _touched(start: dict[str, Any], end: dict[str, Any]) -> set[str]:
    """The names a run bound, rebound or deleted."""
    changed = {name for name, value in end.items() if start.get(name, _MISSING) is not value}
    return changed | (start.keys() - end.keys())


def _put_back(namespace: dict[str, Any], before: dict[str, Any], names: Iterable[str] | None = None) -> None:
    """Bind every name as in ``before``, in place (functions defined in the notebook hold this very dict); ``names``:
    those of ``before`` to look at, where the caller knows them (the others are IPython's).

    IPython's own names stay as IPython left them: its displayhook (which shows every expression when
    ``ast_node_interactivity`` is ``all``) stops updating ``_`` once ``_`` is not what it last bound."""
    for name in namespace.keys() - before.keys():
        if not _ipython_name(name):
            del namespace[name]
    for name in before if names is None else names:
        value = before[name]
        if namespace.get(name, _MISSING) is not value and not _ipython_name(name):
            namespace[name] = value


def _ipython_name(name: str) -> bool:
    return name in IPYTHON_NAMES or _NUMBERED.fullmatch(name) is not None


def _is_code(value: Any) -> bool:
    """Functions, classes and modules: a cell defines or imports them; they hold no random numbers to compare."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type))


_modules_kept: tuple[tuple[int, str | None], dict[int, Any]] | None = None


def _modules_memo() -> dict[int, Any]:
    """A deepcopy memo that maps every imported module to itself, kept while nothing is imported (sys.modules keeps
    its size and its last entry): a sweep takes its starting values before every seed, and torch alone is thousands
    of modules."""
    global _modules_kept
    key = (len(sys.modules), next(reversed(sys.modules), None))
    if _modules_kept is None or _modules_kept[0] != key:
        _modules_kept = (key, {id(module): module for module in list(sys.modules.values()) if module is not None})
    return _modules_kept[1]


@dataclass(frozen=True)
class _Start:
    """The first run's starting values: copies, the tensors that could only be shared, what could not be copied."""

    copies: dict[str, Any]
    shared: dict[str, Any]  # name -> a snapshot of a tensor both runs share
    uncopyable: dict[str, str]

    @classmethod
    def take(cls, values: dict[str, Any], namespace: dict[str, Any]) -> _Start:
        # Shared, not copied: modules, the namespace itself, IPython's shell, the standard streams.
        memo = dict(_modules_memo())
        shell = getattr(namespace.get("get_ipython"), "__self__", None)
        for kept in (namespace, shell, sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if kept is not None:
                memo[id(kept)] = kept
        copies: dict[str, Any] = {}
        failures: dict[str, str] = {}
        torch = sys.modules.get("torch")
        for name, value in values.items():
            if torch is not None and isinstance(value, torch.Generator) and not _device_started(torch, value.device):
                failures[name] = f"a torch.Generator on {value.device}, not read so as not to start the device"
                continue
            mark = len(memo)
            try:
                copies[name] = copy.deepcopy(value, memo)
            except Exception as exc:
                # Forget what this value half-copied; keep the memo's keep-alive list (its key is id(memo)).
                for key in [key for key in list(memo)[mark:] if key != id(memo)]:
                    del memo[key]
                failures[name] = f"it cannot be copied ({one_line(exc)})"
        _copy_gradients(memo)
        for name, copied in list(copies.items()):
            # A copy that is not the same as its original would make the runs differ by itself.
            why = _Comparison().difference(copied, values[name])
            if why is not None:
                del copies[name]
                failures[name] = f"its copy is not the same as it ({why})"
        shared: dict[str, Any] = {}
        uncopyable: dict[str, str] = {}
        for name, reason in failures.items():
            value = values[name]
            if torch is not None and isinstance(value, torch.Tensor):
                try:
                    shared[name] = value.detach().clone().requires_grad_(value.requires_grad)
                    continue
                except Exception:
                    pass
            uncopyable[name] = f"{reason}, so both runs used it: the second started from what the first left in it"
        return cls(copies, shared, uncopyable)

    def changed(self, before: dict[str, Any]) -> dict[str, str]:
        """The shared tensors the first run changed in place: the second run did not start from the same value."""
        return {
            name: "it cannot be copied, and the first run changed it in place: the second run started from another "
            "value"
            for name, snapshot in self.shared.items()
            if _Comparison().difference(snapshot, before[name]) is not None
        }


def _copy_gradients(memo: dict[int, Any]) -> None:
    """Give copied tensors their original's ``.grad``: ``Parameter.__deepcopy__`` leaves it out."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    for original in memo.get(id(memo), ()):
        try:
            if isinstance(original, torch.Tensor) and original.is_leaf and original.grad is not None:
                twin = memo.get(id(original))
                if isinstance(twin, torch.Tensor) and twin is not original and twin.grad is None:
                    twin.grad = copy.deepcopy(original.grad, memo)
        except Exception:  # left without: the check that the copy is the same says so
            pass


# -- which names a cell reads ------------------------------------------------------------------------------------


def _code_of(
    run: Callable[[], Any], code: str | types.CodeType | Iterable[types.CodeType] | None
) -> list[types.CodeType] | None:
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


@dataclass(frozen=True)
class _Names:
    """The names a cell reads (None: it may read any) and those it binds or deletes."""

    read: set[str] | None
    bound: set[str]


def _names_used(codes: list[types.CodeType] | None, namespace: dict[str, Any]) -> _Names:
    """The names ``codes`` read, with those read by what they reach that the notebook defined, and bind."""
    if codes is None:
        return _Names(None, set())
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
            return _Names(None, bound)
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
    return _Names(read, bound)


def _binding_order(codes: list[types.CodeType] | None) -> list[str]:
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
                    contents = cell.cell_contents if _cell_filled(cell) else None
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
        if not isinstance(value, types.ModuleType):
            codes += _code_reached(type(value), namespace, depth - 1)
    except Exception:  # a value with odd attributes: what it reaches is not followed
        pass
    return codes


def _defined_in(cls: type, namespace: dict[str, Any]) -> bool:
    return any(isinstance(m, types.FunctionType) and m.__globals__ is namespace for m in vars(cls).values())


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _excerpt(value: Any, width: int = 60) -> str:
    try:
        text = " ".join(repr(value).split())
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


# -- comparing two values ----------------------------------------------------------------------------------------


def difference(a: Any, b: Any) -> str | None:
    """None if ``a`` and ``b`` are exactly the same value (NaN equal to NaN, ``0.0`` not equal to ``-0.0``), else a
    short reason; the reason starts with "cannot compare" when a part of them has no state that can be read."""
    comparison = _Comparison()
    why = comparison.difference(a, b)
    if why is None and comparison.notes:
        return f"cannot compare {comparison.notes[0]}"
    return why


class _Comparison:
    """One comparison of two values: the pairs under comparison (so that cycles end) and what it could not compare."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], tuple[Any, Any]] = {}  # the pair itself keeps its ids from being reused
        self.trail: list[tuple[int, int]] = []  # the pairs in the order they were seen, to take back a trial's
        self.notes: list[str] = []

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

    def diff(self, a: Any, b: Any, where: str) -> str | None:
        if a is b:
            return None
        kind = type(a)
        if kind in _EXACT and kind is type(b):
            return None if a == b else f"{where}values differ"
        if kind is float and type(b) is float:
            return None if _same_float(a, b) else f"{where}values differ"
        if kind is complex and type(b) is complex:
            same = _same_float(a.real, b.real) and _same_float(a.imag, b.imag)
            return None if same else f"{where}values differ"
        if kind is not type(b) and not _same_class(kind, type(b)):
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
                return self._tensor(torch, a, b, where)
            if isinstance(a, torch.nn.Module):
                return self._module(torch, a, b, where)
            if isinstance(a, torch.Generator):
                return self._torch_generator(torch, a, b, where)
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(a, (numpy.ndarray, numpy.generic)):
            return self._array(numpy, numpy.asanyarray(a), numpy.asanyarray(b), where)
        if type(a) in (list, tuple):
            return self._sequence(a, b, where)
        if type(a) is dict:
            return self._dict(a, b, where)
        if type(a) in (set, frozenset):
            return self._set(a, b, where)
        nprandom = sys.modules.get("numpy.random")
        if nprandom is not None:
            why = self._numpy_generator(nprandom, a, b, where)
            if why is not _MISSING:
                return why
        random = sys.modules.get("random")
        if random is not None and isinstance(a, random.Random):
            if isinstance(a, random.SystemRandom):
                return f"{where}a random.SystemRandom: it draws from os.urandom, which no seed repeats"
            if self.diff(a.getstate(), b.getstate(), where) is not None:
                return (
                    f"{where}a random.Random whose state differs between runs: it was not seeded from the cell's "
                    "seed; use random.Random(seedmagic.current_seed())"
                )
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
        what = _without_state(a)
        if what is not None:
            self.cannot(where, what)
            return None
        if isinstance(a, types.CellType):
            filled = _cell_filled(a), _cell_filled(b)
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
            y = by_value.get(x, _MISSING)
            if y is not _MISSING and id(y) not in matched and self._same(x, y):
                matched.add(id(y))
            elif _hashed_by_value(x):  # no other element of b can be == to it, let alone the same
                return f"{where}elements differ: {_excerpt(x, 30)} is only in the first"
            else:  # NaN, objects hashed by identity: look for it among the rest
                unmatched.append(x)
        missing = self._unmatched(unmatched, [y for y in b if id(y) not in matched])
        if missing is _TOO_MANY:
            self.cannot(where, f"a set of {len(a)} elements too many to match one by one")
            return None
        return None if missing is _MISSING else f"{where}elements differ: {_excerpt(missing, 30)} is only in the first"

    def _reordered(self, a: dict[Any, Any], b: dict[Any, Any]) -> bool:
        """Whether two dicts have the same keys in another order (for the message: small dicts only)."""
        return self._unmatched(list(a), list(b)) is _MISSING

    def _unmatched(self, a: list[Any], b: list[Any]) -> object:
        """An element of ``a`` with no equal in ``b`` (each used once), _MISSING, or _TOO_MANY pairs to try."""
        rest, tries = list(b), 0
        for x in a:
            for index, y in enumerate(rest):
                tries += 1
                if tries > _MOST_PAIRS:
                    return _TOO_MANY
                if self._same(x, y):
                    del rest[index]
                    break
            else:
                return x
        return _MISSING

    def _same(self, x: Any, y: Any) -> bool:
        """Whether x and y are the same, as a trial: notes and pairs it adds are dropped if they are not."""
        if type(x) in _EXACT and type(x) is type(y):
            return bool(x == y)
        notes, trail = len(self.notes), len(self.trail)
        if self.diff(x, y, "") is None:
            return True
        del self.notes[notes:]
        while len(self.trail) > trail:  # pairs found to differ must not pass for the same later
            del self.seen[self.trail.pop()]
        return False

    def _attributes(self, a: Any, b: Any, where: str) -> str | None:
        return self._state(getattr(a, "__dict__", None), getattr(b, "__dict__", None), where)

    def _state(self, a: Any, b: Any, where: str) -> str | None:
        """An object's attributes: by name, in any order (``__setstate__`` may set them in another)."""
        if type(a) is tuple and type(b) is tuple and len(a) == len(b) == 2:  # (__dict__, __slots__ values)
            return self._state(a[0], b[0], where) or self._state(a[1], b[1], where)
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
        if not _same_class(a, b):
            return f"{where}class {a.__qualname__} with other bases"
        attributes_a = {k: v for k, v in vars(a).items() if not _internal(k)}
        attributes_b = {k: v for k, v in vars(b).items() if not _internal(k)}
        return self._state(attributes_a, attributes_b, f"{where}{a.__qualname__} ")

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
            or self._state(*state, where)
            or self.diff(*items, where)
            or self.diff(*pairs, where)
        )

    def _module(self, torch: types.ModuleType, a: nn.Module, b: nn.Module, where: str) -> str | None:
        internal = _module_internals(torch)
        modules_a, modules_b = dict(a.named_modules()), dict(b.named_modules())
        if list(modules_a) != list(modules_b):
            return f"{where}submodules differ"
        for (path, x), y in zip(modules_a.items(), modules_b.values(), strict=True):
            at = f"{where}[{path!r}] " if path else where
            if type(x) is not type(y) and not _same_class(type(x), type(y)):
                return f"{at}type {type(x).__name__} vs {type(y).__name__}"
            if x.training != y.training:
                return f"{at}training {x.training} vs {y.training}"
            plain_x = {k: v for k, v in vars(x).items() if k not in internal}
            plain_y = {k: v for k, v in vars(y).items() if k not in internal}
            why = self._state(plain_x, plain_y, at)
            if why is not None:
                return why
        tensors = (
            dict(a.named_parameters(remove_duplicate=False)) | dict(a.named_buffers(remove_duplicate=False)),
            dict(b.named_parameters(remove_duplicate=False)) | dict(b.named_buffers(remove_duplicate=False)),
        )
        return self.diff(*tensors, where)

    def _tensor(self, torch: types.ModuleType, a: Tensor, b: Tensor, where: str) -> str | None:
        for what, x, y in (
            ("dtype", a.dtype, b.dtype),
            ("layout", a.layout, b.layout),
            ("device", a.device, b.device),
            ("nested", a.is_nested, b.is_nested),
            ("quantized", a.is_quantized, b.is_quantized),
            ("requires_grad", a.requires_grad, b.requires_grad),
        ):
            if x != y:
                return f"{where}{what} {x} vs {y}"
        if not a.is_nested and a.shape != b.shape:
            return f"{where}shape {tuple(a.shape)} vs {tuple(b.shape)}"
        why = self._tensor_values(torch, a.detach(), b.detach(), where)
        if why is not None or not (a.is_leaf and b.is_leaf):
            return why
        grads = a.grad, b.grad
        if grads[0] is None or grads[1] is None:
            return None if grads == (None, None) else f"{where}grad {_excerpt(grads[0])} vs {_excerpt(grads[1])}"
        return self.diff(grads[0], grads[1], f"{where}grad ")

    def _tensor_values(self, torch: types.ModuleType, a: Tensor, b: Tensor, where: str) -> str | None:
        if a.device.type == "meta":  # no values: dtype, shape and layout are all there is
            return None
        if a.is_nested:
            parts_a, parts_b = a.unbind(), b.unbind()
            return self.diff(list(parts_a), list(parts_b), where)
        layout = a.layout
        if layout == torch.sparse_coo:
            if a.is_coalesced() != b.is_coalesced():
                return f"{where}coalesced {a.is_coalesced()} vs {b.is_coalesced()}"
            return self.diff([a._indices(), a._values()], [b._indices(), b._values()], where)
        if layout in (torch.sparse_csr, torch.sparse_bsr):
            return self.diff(
                [a.crow_indices(), a.col_indices(), a.values()], [b.crow_indices(), b.col_indices(), b.values()], where
            )
        if layout in (torch.sparse_csc, torch.sparse_bsc):
            return self.diff(
                [a.ccol_indices(), a.row_indices(), a.values()], [b.ccol_indices(), b.row_indices(), b.values()], where
            )
        if layout != torch.strided:
            self.cannot(where, f"a tensor with layout {layout}")
            return None
        if a.is_quantized:
            scheme = a.qscheme()
            if scheme != b.qscheme():
                return f"{where}quantization {scheme} vs {b.qscheme()}"
            params: tuple[tuple[object, ...], tuple[object, ...]]
            if scheme in (torch.per_tensor_affine, torch.per_tensor_symmetric):
                params = (a.q_scale(), a.q_zero_point()), (b.q_scale(), b.q_zero_point())
            else:
                params = (
                    (a.q_per_channel_scales(), a.q_per_channel_zero_points(), a.q_per_channel_axis()),
                    (b.q_per_channel_scales(), b.q_per_channel_zero_points(), b.q_per_channel_axis()),
                )
            why = self.diff(params[0], params[1], f"{where}quantization ")
            return why or (None if torch.equal(a.int_repr(), b.int_repr()) else f"{where}values differ")
        a, b = a.resolve_conj().resolve_neg(), b.resolve_conj().resolve_neg()
        if a.is_complex():
            a, b = torch.view_as_real(a), torch.view_as_real(b)
        if a.is_floating_point():
            bits = _TORCH_BITS.get(a.element_size())
            if bits is not None and torch.equal(a.view(getattr(torch, bits)), b.view(getattr(torch, bits))):
                return None  # the same bits: the fast path for the usual case
            if a.element_size() == 1:  # float8: no signbit; float32 holds each of its values exactly
                a, b = a.float(), b.float()
            same = ((a == b) & (torch.signbit(a) == torch.signbit(b))) | (torch.isnan(a) & torch.isnan(b))
            return None if bool(same.all()) else f"{where}values differ"
        return None if torch.equal(a, b) else f"{where}values differ"

    def _torch_generator(self, torch: types.ModuleType, a: TorchGenerator, b: TorchGenerator, where: str) -> str | None:
        if a.device != b.device:
            return f"{where}device {a.device} vs {b.device}"
        if not _device_started(torch, a.device):
            self.cannot(where, f"a torch.Generator on {a.device}, not read so as not to start the device")
            return None
        if self.diff(a.get_state(), b.get_state(), where) is not None:
            return (
                f"{where}a torch.Generator whose state differs between runs: it was not seeded from the cell's seed; "
                "use seedmagic.torch_generator()"
            )
        return None

    def _numpy_generator(
        self, nprandom: types.ModuleType, a: Any, b: Any, where: str
    ) -> str | Literal[_Sentinel.MISSING] | None:
        """The comparison of NumPy's generators, or _MISSING for anything else."""
        kinds = (
            (nprandom.Generator, lambda g: g.bit_generator.state, "a NumPy Generator", "seedmagic.rng()"),
            (
                nprandom.RandomState,
                lambda g: g.get_state(legacy=False),
                "a NumPy RandomState",
                "np.random.RandomState(seedmagic.current_seed())",
            ),
            (nprandom.BitGenerator, lambda g: g.state, "a NumPy bit generator", "seedmagic.rng().bit_generator"),
            (
                nprandom.SeedSequence,
                lambda s: (s.entropy, s.spawn_key, s.pool_size, s.n_children_spawned),
                "a NumPy SeedSequence",
                "np.random.SeedSequence(seedmagic.current_seed())",
            ),
        )
        for kind, state, what, instead in kinds:
            if isinstance(a, kind):
                if self.diff(state(a), state(b), where) is None:
                    return None
                return (
                    f"{where}{what} whose state differs between runs: it was not seeded from the cell's seed; "
                    f"use {instead}"
                )
        return _MISSING

    def _array(self, numpy: types.ModuleType, a: NDArray[Any], b: NDArray[Any], where: str) -> str | None:
        if a.dtype != b.dtype:
            return f"{where}dtype {a.dtype} vs {b.dtype}"
        if a.shape != b.shape:
            return f"{where}shape {a.shape} vs {b.shape}"
        if isinstance(a, numpy.ma.MaskedArray):
            masks = numpy.ma.getmaskarray(a), numpy.ma.getmaskarray(b)
            if not numpy.array_equal(*masks):
                return f"{where}masks differ"
            a, b = numpy.ma.getdata(a), numpy.ma.getdata(b)  # their .data (typed as ndarray's memoryview)
        if a.dtype.names:
            for field in a.dtype.names:
                why = self._array(numpy, numpy.asarray(a[field]), numpy.asarray(b[field]), f"{where}[{field!r}] ")
                if why is not None:
                    return why
            return None
        kind = a.dtype.kind
        if kind == "O":
            for index, (x, y) in enumerate(zip(a.flat, b.flat, strict=True)):
                why = self.diff(x, y, f"{where}[{_index(numpy, index, a.shape)}] ")
                if why is not None:
                    return why
            return None
        if kind == "c":
            return self._array(numpy, a.real, b.real, where) or self._array(numpy, a.imag, b.imag, where)
        if kind == "f":
            bits = f"i{a.dtype.itemsize}"
            if a.dtype.itemsize in (2, 4, 8) and numpy.array_equal(a.view(bits), b.view(bits)):
                return None  # the same bits: the fast path for the usual case (not for longdouble: it has padding)
            same = ((a == b) & (numpy.signbit(a) == numpy.signbit(b))) | (numpy.isnan(a) & numpy.isnan(b))
        elif kind in "mM":
            same = (a == b) | (numpy.isnat(a) & numpy.isnat(b))
        elif kind == "V":
            same = numpy.asarray(a.tobytes() == b.tobytes())
        else:
            same = numpy.asarray(numpy.array_equal(a, b))
        return None if bool(same.all()) else f"{where}values differ"


def _same_float(x: float, y: float) -> bool:
    if x != x:
        return y != y
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


def _same_class(a: type, b: type) -> bool:
    """Two class objects from the same definition: a class a cell defines is another object in each run."""
    try:
        return [_qualified(c) for c in a.__mro__] == [_qualified(c) for c in b.__mro__]
    except Exception:
        return False


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


def _qualified(cls: type) -> tuple[str, str]:
    return cls.__module__, cls.__qualname__


def _internal(name: str) -> bool:
    """Class attributes Python and its libraries make (``__dict__``, enum and abc bookkeeping), not the class's own."""
    return (
        (name.startswith("__") and name.endswith("__"))
        or (name.startswith("_") and name.endswith("_"))
        or (name == "_abc_impl")
    )


_TORCH_BITS = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}
_VIEW_TYPES: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def _without_state(value: Any) -> str | None:
    """What a value is, when it has no state to compare (an open file, a lock): None for the others."""
    if isinstance(value, (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)):
        return f"a {type(value).__name__} object, whose position cannot be read"
    if isinstance(value, io.IOBase):
        return "a closed file" if value.closed else "an open file"
    if isinstance(value, threading.Thread):
        return "a thread"
    if isinstance(value, _LOCK_TYPES):
        return "a lock"
    if type(value).__module__ == "socket" and type(value).__name__ == "socket":
        return "a socket"
    return None


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


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


def _index(numpy: types.ModuleType, flat: int, shape: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in numpy.unravel_index(flat, shape)) if shape else "()"


def _device_started(torch: types.ModuleType, device: TorchDevice) -> bool:
    """Whether reading a generator's state on ``device`` is safe: never start a device to compare."""
    if device.type == "cpu":
        return True
    backend = getattr(torch, device.type, None)
    started = getattr(backend, "is_initialized", None)
    try:
        return bool(started()) if callable(started) else False
    except Exception:
        return False


_MODULE_INTERNALS: frozenset[str] | None = None


def _module_internals(torch: types.ModuleType) -> frozenset[str]:
    """What ``nn.Module.__init__`` puts in every module's ``__dict__`` (parameters, buffers, hooks, ...)."""
    global _MODULE_INTERNALS
    if _MODULE_INTERNALS is None:
        _MODULE_INTERNALS = frozenset(vars(torch.nn.Module()))
    return _MODULE_INTERNALS


def _holds_strings_in_a_set(value: Any, depth: int = 3) -> bool:
    if isinstance(value, (set, frozenset)):
        return any(isinstance(item, (str, bytes)) for item in value)
    if depth and isinstance(value, (list, tuple)):
        return any(_holds_strings_in_a_set(item, depth - 1) for item in value)
    if depth and isinstance(value, dict):
        return any(_holds_strings_in_a_set(item, depth - 1) for item in value.values())
    return False
