"""What a cell can reach: the walk from its namespace and the user's own modules, and the kind and record of each
object it finds.

The walk goes breadth first through the values of every name, what containers hold, objects' attributes, what
functions keep (closure cells, defaults, attributes), the classes the notebook defines, a module's parameters, buffers
and hooks, an optimizer's state, a tensor's ``.grad``. It never walks what holds no state of the user's (code,
modules, descriptors) nor the machinery of IPython, the kernel, the interpreter and seedmagic; a matplotlib artist is
watched through its figure (``plots``). What it finds is recorded once, with the path that first reached it.
"""

from __future__ import annotations

import array as _array
import collections
import functools
import os
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from .array_kinds import TORCH_GENERATOR, ArrayKind, ModuleKind, PandasKind, TensorKind, numpy_generator
from .compare_arrays import device_started
from .kinds import (
    ATOMS,
    ArrayArrayKind,
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
    OpaqueKind,
    PassageKind,
    SetKind,
    StateKind,
    attributes_of,
    is_generator,
    opaque_what,
    through,
)
from .names import Names, defined_in
from .plots import Figures, is_artist

MOST_OBJECTS: Final = 2_000_000
"""Objects walked at most; beyond, the rest is not watched, and the caller says so."""

if TYPE_CHECKING:
    from .writes import Array, Storage


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


class Reach:
    """Everything a cell can reach, walked from the roots it is given: a record of each object with a state, and the
    kind of each class met."""

    def __init__(self, namespace: dict[str, Any], names: Names) -> None:
        self.namespace = namespace
        self.names = names
        self.records: list[Record] = []
        self.known: dict[int, object] = {}  # id -> object, for every record: compared by identity
        self.truncated = False
        self._kinds: dict[type, Kind | None] = {}
        self._seen: set[int] = set()
        self._by_id: dict[int, Record] = {}
        self.generators_only = False
        #: pyplot's figures, where matplotlib is imported (before the cell, or by a run).
        self.figures: Figures | None = None

    # -- walking ---------------------------------------------------------------------------------------------------

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
        """What is done with each record the walk keeps, besides keeping it (``Start`` watches its bytes)."""

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


def user_modules() -> tuple[types.ModuleType, ...]:
    """The modules of the user's own files: imported from a file outside the interpreter's library directories
    (the standard library, site-packages) and not seedmagic's; kept while ``sys.modules`` keeps its size."""
    global _user_modules_kept
    size = len(sys.modules)
    if _user_modules_kept is not None and _user_modules_kept[0] == size:
        return _user_modules_kept[1]
    from .places import library_dirs

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
    return frozenset(module.__name__ for module in user_modules())
