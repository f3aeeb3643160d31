"""Exact comparison of the array libraries' values for ``Comparison``: torch tensors, modules and generators, NumPy
arrays and generators.

What is compared for each is told in ``compare``; here each kind has one function, given the comparison it is a part
of, which goes on with the values they hold (``comparison.diff``).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from .excerpts import excerpt
from .values import MISSING, Sentinel, same_class

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import Generator as TorchGenerator
    from torch import Tensor, nn
    from torch import device as TorchDevice

    from .compare import Comparison

_TORCH_BITS = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def module_difference(
    comparison: Comparison, torch: types.ModuleType, a: nn.Module, b: nn.Module, where: str
) -> str | None:
    internal = _module_internals(torch)
    modules_a, modules_b = dict(a.named_modules()), dict(b.named_modules())
    if list(modules_a) != list(modules_b):
        return f"{where}submodules differ"
    for (path, x), y in zip(modules_a.items(), modules_b.values(), strict=True):
        at = f"{where}[{path!r}] " if path else where
        if type(x) is not type(y) and not same_class(type(x), type(y)):
            return f"{at}type {type(x).__name__} vs {type(y).__name__}"
        if x.training != y.training:
            return f"{at}training {x.training} vs {y.training}"
        plain_x = {k: v for k, v in vars(x).items() if k not in internal}
        plain_y = {k: v for k, v in vars(y).items() if k not in internal}
        why = comparison.state_diff(plain_x, plain_y, at)
        if why is not None:
            return why
    tensors = (
        dict(a.named_parameters(remove_duplicate=False)) | dict(a.named_buffers(remove_duplicate=False)),
        dict(b.named_parameters(remove_duplicate=False)) | dict(b.named_buffers(remove_duplicate=False)),
    )
    return comparison.diff(*tensors, where)


def tensor_difference(comparison: Comparison, torch: types.ModuleType, a: Tensor, b: Tensor, where: str) -> str | None:
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
    why = _tensor_values(comparison, torch, a.detach(), b.detach(), where)
    if why is not None or not (a.is_leaf and b.is_leaf):
        return why
    grads = a.grad, b.grad
    if grads[0] is None or grads[1] is None:
        return None if grads == (None, None) else f"{where}grad {excerpt(grads[0])} vs {excerpt(grads[1])}"
    return comparison.diff(grads[0], grads[1], f"{where}grad ")


def _tensor_values(comparison: Comparison, torch: types.ModuleType, a: Tensor, b: Tensor, where: str) -> str | None:
    if a.device.type == "meta":  # no values: dtype, shape and layout are all there is
        return None
    if a.is_nested:
        parts_a, parts_b = a.unbind(), b.unbind()
        return comparison.diff(list(parts_a), list(parts_b), where)
    layout = a.layout
    if layout == torch.sparse_coo:
        if a.is_coalesced() != b.is_coalesced():
            return f"{where}coalesced {a.is_coalesced()} vs {b.is_coalesced()}"
        return comparison.diff([a._indices(), a._values()], [b._indices(), b._values()], where)
    if layout in (torch.sparse_csr, torch.sparse_bsr):
        return comparison.diff(
            [a.crow_indices(), a.col_indices(), a.values()], [b.crow_indices(), b.col_indices(), b.values()], where
        )
    if layout in (torch.sparse_csc, torch.sparse_bsc):
        return comparison.diff(
            [a.ccol_indices(), a.row_indices(), a.values()], [b.ccol_indices(), b.row_indices(), b.values()], where
        )
    if layout != torch.strided:
        comparison.cannot(where, f"a tensor with layout {layout}")
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
        why = comparison.diff(params[0], params[1], f"{where}quantization ")
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


def torch_generator_difference(
    comparison: Comparison, torch: types.ModuleType, a: TorchGenerator, b: TorchGenerator, where: str
) -> str | None:
    if a.device != b.device:
        return f"{where}device {a.device} vs {b.device}"
    if not device_started(torch, a.device):
        comparison.cannot(where, f"a torch.Generator on {a.device}, not read so as not to start the device")
        return None
    if comparison.diff(a.get_state(), b.get_state(), where) is not None:
        return comparison.unseeded(where, "torch")
    return None


def numpy_generator_difference(
    comparison: Comparison, nprandom: types.ModuleType, a: Any, b: Any, where: str
) -> str | Literal[Sentinel.MISSING] | None:
    """The comparison of NumPy's generators, or MISSING for anything else."""
    kinds: tuple[tuple[type, Callable[[Any], Any], str], ...] = (
        (nprandom.Generator, lambda g: g.bit_generator.state, "numpy"),
        (nprandom.RandomState, lambda g: g.get_state(legacy=False), "RandomState"),
        (nprandom.BitGenerator, lambda g: g.state, "BitGenerator"),
        (
            nprandom.SeedSequence,
            lambda s: (s.entropy, s.spawn_key, s.pool_size, s.n_children_spawned),
            "SeedSequence",
        ),
    )
    for kind, state, name in kinds:
        if isinstance(a, kind):
            return None if comparison.diff(state(a), state(b), where) is None else comparison.unseeded(where, name)
    return MISSING


def array_difference(
    comparison: Comparison, numpy: types.ModuleType, a: NDArray[Any], b: NDArray[Any], where: str
) -> str | None:
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
            why = array_difference(
                comparison, numpy, numpy.asarray(a[field]), numpy.asarray(b[field]), f"{where}[{field!r}] "
            )
            if why is not None:
                return why
        return None
    kind = a.dtype.kind
    if kind == "O":
        for index, (x, y) in enumerate(zip(a.flat, b.flat, strict=True)):
            why = comparison.diff(x, y, f"{where}[{_index(numpy, index, a.shape)}] ")
            if why is not None:
                return why
        return None
    if kind == "c":
        return array_difference(comparison, numpy, a.real, b.real, where) or array_difference(
            comparison, numpy, a.imag, b.imag, where
        )
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


def _index(numpy: types.ModuleType, flat: int, shape: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in numpy.unravel_index(flat, shape)) if shape else "()"


def device_started(torch: types.ModuleType, device: TorchDevice) -> bool:
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
