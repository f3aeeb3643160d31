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
import functools
import gc
import os
import re
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .compare import Comparison, device_started
from .errors import one_line
from .kinds import (
    ATOMS,
    TORCH_GENERATOR,
    ArrayArrayKind,
    ArrayKind,
    AttributesKind,
    BytesKind,
    CellKind,
    ClassKind,
    DequeKind,
    DictKind,
    FacetsKind,
    FunctionKind,
    HooksKind,
    KeyLabel,
    Kind,
    ListKind,
    ModuleKind,
    NamespaceKind,
    OpaqueKind,
    PandasKind,
    PassageKind,
    SetKind,
    StateKind,
    TensorKind,
    attributes_of,
    is_generator,
    numpy_generator,
    opaque_what,
    through,
)
from .names import Names, defined_in, names_used, written_by_name
from .plots import Figures, is_artist
from .writes import ArrayWrites, Cost, NoRoom, Storage, TorchWrites

MOST_OBJECTS: Final = 2_000_000
"""Objects walked at most; beyond, the rest is not watched, and the caller says so."""

if TYPE_CHECKING:
    from .writes import Array


_F = TypeVar("_F", bound=Callable[..., Any])


def gc_paused(method: _F) -> _F:
    """Python's cyclic garbage collector paused while ``method`` runs: walking, reading and comparing a notebook's
    objects makes as many small containers as it holds, and each collection would go through all of them again.
    Only seedmagic's own bookkeeping: a cell always runs with the collector as the user left it."""

    @functools.wraps(method)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return paused  # type: ignore[return-value]


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
        #: pyplot's figures, where matplotlib is imported (before the cell, or by a run).
        self.figures: Figures | None = None

    # -- walking ---------------------------------------------------------------------------------------------------

    @classmethod
    def generators(cls, namespace: dict[str, Any]) -> Start:
        """Walk what ``namespace`` and the user's own modules reach, and record only the generators (``random.Random``,
        NumPy's, torch's): what ``--isolate`` puts back besides the global ones (``put_back``)."""
        return cls.take(namespace, generators_only=True)

    @classmethod
    @gc_paused
    def take(
        cls, namespace: dict[str, Any], codes: list[types.CodeType] | None = None, *, generators_only: bool = False
    ) -> Start:
        """Walk and record everything ``namespace`` and the user's own modules reach."""
        start = cls(namespace, names_used(codes, namespace))
        start.generators_only = generators_only
        if not generators_only:
            start.figures = Figures.take()
        start._written_names = written_by_name(codes)
        shell = getattr(namespace.get("get_ipython"), "__self__", None)
        for kept in (shell, sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if kept is not None:
                start._seen.add(id(kept))
        start._walk([(None, "", namespace, "", NamespaceKind("", True))])
        modules = [
            (None, "", module.__dict__, f"<module {module.__name__}>", NamespaceKind(f"{module.__name__}.", False))
            for module in _user_modules()
            if module.__dict__ is not namespace
        ]
        start._walk(modules)
        if start.figures is not None:
            start.figures.settle()
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
                        queue.extend((parent, f"{label}{sub}", item, root, None) for sub, item in through(obj))
                    continue
            if len(records) >= MOST_OBJECTS:
                self.truncated = True
                return
            try:
                state = kind.read(obj)
            except Exception:
                kind, state = OpaqueKind("an object whose state cannot be read"), None
            record = Record(obj, kind, state, parent, label, root)
            self._by_id[key] = record
            if not self.generators_only or is_generator(kind):
                records.append(record)
                known[key] = obj
                if not self.generators_only:
                    self._watch(record)
            try:
                children = list(kind.children(obj, state))
            except Exception:
                continue
            for sub, child in children:
                if isinstance(sub, KeyLabel) and id(sub.key) in self._by_id:
                    sub = f"[{self._by_id[id(sub.key)].path}]"
                if type(child) not in ATOMS:
                    child_root = root or sub.lstrip(".")
                    queue.append((record, sub, child, child_root, self._hooks_kind(sub, child)))

    def _hooks_kind(self, label: str, child: Any) -> Kind | None:
        """A dict of hooks (a module's, an optimizer's, a tensor's): keyed by handle numbers, which count up in each
        run, so that its values alone are compared."""
        hooks = "_hooks" in label and type(child) in (dict, collections.OrderedDict)
        return HooksKind() if hooks and all(type(key) is int for key in child) else None

    def _watch(self, record: Record) -> None:
        obj = record.obj
        if isinstance(record.kind, TensorKind) and self.tensors is not None:
            state = record.state
            entry = self.tensors.watch(obj, record.path) if state.storage is not None else None
            if entry is not None:
                record.storage = entry
                self.storages.setdefault(id(entry), []).append(record)
            elif obj.device.type != "meta":
                try:  # no storage of its own (sparse, nested): a clone to compare with and put back
                    record.state = state._replace(copy=obj.detach().clone())
                except Exception:
                    record.kind = OpaqueKind("a tensor that cannot be copied")
        elif isinstance(record.kind, ArrayKind) and self.arrays is not None:
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
        if is_artist(obj):  # not walked: what it draws is watched through its figure
            if self.figures is not None:
                self.figures.reach(obj)
            return None
        kind = self._kind_of(obj, cls)
        # The same for every object of the class, but for functions and classes (the user's or a library's) and
        # generators (a torch.Generator on a device that has not started is not read).
        if not isinstance(obj, (types.FunctionType, type)) and not isinstance(kind, (StateKind, OpaqueKind)):
            self._kinds[cls] = kind
        return kind

    def _kind_of(self, obj: Any, cls: type) -> Kind | None:
        if cls in ATOMS or isinstance(obj, _SKIPPED):
            return None
        if isinstance(obj, types.FunctionType):
            return FunctionKind() if _users(obj, self.namespace) else None
        if isinstance(obj, type):
            return ClassKind() if _users_class(obj, self.namespace) else None
        if isinstance(obj, (types.MethodType, functools.partial)):
            return PassageKind()
        if isinstance(obj, types.CellType):
            return CellKind()
        if cls in (tuple, frozenset):
            return None
        module = getattr(cls, "__module__", None) or ""
        if module.partition(".")[0] in _SKIPPED_PACKAGES or module.startswith(_SKIPPED_MODULES):
            return None
        torch = sys.modules.get("torch")
        if torch is not None:
            if isinstance(obj, torch.Tensor):
                if type(obj).__torch_dispatch__ is not torch.Tensor.__torch_dispatch__:  # a wrapper subclass
                    return attributes_of(cls) or OpaqueKind("a tensor subclass")
                return TensorKind(torch)
            if isinstance(obj, torch.Generator):
                if not device_started(torch, obj.device):
                    return OpaqueKind(f"a torch.Generator on {obj.device}, not read so as not to start the device")
                return TORCH_GENERATOR
            if isinstance(obj, torch.nn.Module):
                attributes = attributes_of(cls)
                return ModuleKind(attributes.slots, attributes.has_dict) if attributes is not None else None
        pandas = sys.modules.get("pandas")
        if pandas is not None and isinstance(obj, (pandas.DataFrame, pandas.Series)):
            return PandasKind(pandas)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(obj, numpy.ndarray):
                kind: Kind = ArrayKind()
                attributes = attributes_of(cls)
                return FacetsKind((kind, attributes)) if attributes is not None and cls is not numpy.ndarray else kind
            if isinstance(obj, numpy.generic):
                return None
            nprandom = sys.modules.get("numpy.random")
            if nprandom is not None:
                generator = numpy_generator(nprandom, obj)
                if generator is not None:
                    return generator
        random = sys.modules.get("random")
        if random is not None and isinstance(obj, random.Random):
            if isinstance(obj, random.SystemRandom):
                return None  # no state: nothing to put back, and every draw differs anyway
            state = StateKind("random.Random", lambda r: r.getstate(), lambda r, s: r.setstate(s))
            attributes = attributes_of(cls)
            return FacetsKind((state, attributes)) if attributes is not None else state
        opaque = opaque_what(obj)
        if opaque is not None:
            return OpaqueKind(opaque)
        container: Kind | None = None
        if isinstance(obj, dict):
            container = DictKind()
        elif isinstance(obj, list):
            container = ListKind()
        elif isinstance(obj, (set,)):
            container = SetKind()
        elif isinstance(obj, bytearray):
            container = BytesKind()
        elif isinstance(obj, collections.deque):
            container = DequeKind()
        elif isinstance(obj, _array.array):
            container = ArrayArrayKind()
        attributes = attributes_of(cls)
        if container is not None:
            return FacetsKind((container, attributes)) if attributes is not None else container
        if attributes is not None:
            return (
                AttributesKind(attributes.slots, attributes.has_dict, users=True)
                if _users_class(cls, self.namespace)
                else attributes
            )
        if hasattr(cls, "__next__"):
            return OpaqueKind(f"an iterator ({cls.__qualname__}), whose position cannot be read")
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
            if self.tensors is not None and self.tensors.needs_mode:
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

    @gc_paused
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
            if (
                isinstance(kind, TensorKind)
                and record.state.copy is not None
                and _differs(record.state.copy, record.obj)
            ):
                return True
            return not kind.unchanged(record.state, record.obj)
        except Exception:  # a state that can no longer be read: changed, and compared as far as it can be
            return True

    def lost(self) -> list[str]:
        """What the last run wrote where nothing watched: it cannot be undone (a write from another thread, or a C
        extension, into a tensor; an array the run made writable again itself)."""
        lost = [] if self.tensors is None else [entry.path for entry in self.tensors.settled_lost]
        for record in self.records:
            entry = record.storage
            if entry is not None and not entry.written and not entry.compared and record.state.version is not None:
                try:
                    if record.obj._version != record.state.version:
                        lost.append(record.path)
                except Exception:
                    pass
        if self.arrays is not None:
            lost += [entry.path for entry in self.arrays.flipped]
        return lost

    def drawn_into(self) -> list[str]:
        """The figures from before the cell that the last run drew into: they cannot be put back."""
        return [] if self.figures is None else self.figures.drawn_into()

    @gc_paused
    def put_back(self, *, keep_end: bool = False, to: Ended | None = None) -> Ended:
        """Put every object the last run changed back as it was before the cell (or, ``to``, as an earlier run left
        it), in place. With ``keep_end``, the run's end is kept for a comparison: the states, and the storages' and
        arrays' copies swapped to hold it. The figures the run made are closed in pyplot (kept, with ``keep_end``);
        ``to`` leaves the figures as they are."""
        ended = Ended()
        with interrupts_deferred():
            if to is None and not self.generators_only:  # --isolate: the cell's figures are its output
                if self.figures is None:
                    self.figures = Figures.take(made_before=False)  # matplotlib imported by the run
                if self.figures is not None:
                    ended.figures = self.figures.set_aside()
            changed = self.changed()
            if to is not None:
                ids = {id(record) for record in changed}
                changed += [record for record in to.states if id(record) not in ids]
            back = to.states if to is not None else {}
            tensors = []
            for record in changed:
                if keep_end:
                    end = record.kind.read(record.obj)
                    if isinstance(record.kind, TensorKind) and record.state.copy is not None:
                        end = end._replace(copy=record.obj.detach().clone())
                    ended.states[record] = end
                if isinstance(record.kind, TensorKind):
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
        self.figures = None
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
        self.figures: list[Any] = []  # the figures it made, closed in pyplot


def _differs(copy: Any, tensor: Any) -> bool:
    return Comparison().difference(copy, tensor) is not None


_READ_ONLY = re.compile(r"read-only|readonly|not writ(e)?able|must be .*writ(e)?able", re.IGNORECASE)


_USERS_KINDS = frozenset(
    {"namespace", "list", "deque", "dict", "set", "function", "closure cell", "class", "callable", "instance"}
)


def _users(function: types.FunctionType, namespace: dict[str, Any]) -> bool:
    """Whether a function is the user's (the notebook's or a module of the user's own), not a library's."""
    globals_ = function.__globals__
    return globals_ is namespace or globals_.get("__name__") in ("__main__", *_user_module_names())


def _users_class(cls: type, namespace: dict[str, Any]) -> bool:
    module = getattr(cls, "__module__", None)
    if module in ("__main__", *_user_module_names()):
        return True
    # A class made by exec in a namespace without __name__ says "builtins": its methods tell where it was defined.
    return module in (None, "builtins") and defined_in(cls, namespace)


_user_modules_kept: tuple[int, tuple[types.ModuleType, ...]] | None = None


def _user_modules() -> tuple[types.ModuleType, ...]:
    """The modules of the user's own files: imported from a file outside the interpreter's library directories
    (the standard library, site-packages) and not seedmagic's; kept while ``sys.modules`` keeps its size."""
    global _user_modules_kept
    size = len(sys.modules)
    if _user_modules_kept is not None and _user_modules_kept[0] == size:
        return _user_modules_kept[1]
    from .census import library_dirs

    libraries = (*library_dirs(), os.path.dirname(os.path.abspath(__file__)) + os.sep)
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


__all__ = ["MOST_OBJECTS", "Ended", "NoRoom", "Record", "Start", "interrupts_deferred"]
