"""How the array libraries' objects a cell can reach are read, compared and put back: torch tensors, modules and
generators, NumPy arrays and generators, pandas frames.

A tensor's bytes and an array's are watched apart (``writes``); here, what they are besides (a tensor's version
counter, storage and layout, an array's shape and dtype). pandas objects are held as copies, lazy under copy-on-write.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any, NamedTuple

from .compare import Comparison
from .kinds import ATOMS, AttributesKind, Kind, StateKind, StatelessKind, same_items


class ModuleKind(AttributesKind):
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


class TensorKind(Kind):
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
            and same_items(a.attributes, b.attributes)
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
        if not same_items(now.attributes, state.attributes):
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
        return comparison.diff(a.grad, b.grad, ".grad ") or comparison.state_diff(a.attributes, b.attributes, "")

    def shown(self, state: Any) -> Any:
        return state.layout


class ArrayKind(Kind):
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
            return ((f"[{index}]", item) for index, item in enumerate(obj.flat) if type(item) not in ATOMS)
        return ()


class PandasKind(Kind):
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


def numpy_generator(nprandom: types.ModuleType, obj: Any) -> Kind | None:
    if isinstance(obj, nprandom.BitGenerator):
        return StateKind("a NumPy bit generator", lambda g: g.state, lambda g, s: setattr(g, "state", s))
    if isinstance(obj, nprandom.RandomState):
        return StateKind("a NumPy RandomState", lambda g: g.get_state(legacy=False), lambda g, s: g.set_state(s))
    if isinstance(obj, nprandom.Generator):
        return ThroughKind()
    if isinstance(obj, nprandom.SeedSequence):
        return StateKind("a NumPy SeedSequence", lambda s: s.n_children_spawned, _cannot_put)
    return None


def _cannot_put(obj: Any, state: Any) -> None:
    raise TypeError(f"a {type(obj).__name__} cannot be put back")


class ThroughKind(StatelessKind):
    """A NumPy ``Generator``: its state is its bit generator's, which is walked."""

    name = "generator"

    def children(self, obj: Any, state: Any) -> Iterable[tuple[str, Any]]:
        return ((".bit_generator", obj.bit_generator),)


TORCH_GENERATOR = StateKind("torch.Generator", lambda g: g.get_state(), lambda g, s: g.set_state(s))
