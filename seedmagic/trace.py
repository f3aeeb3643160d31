"""``%%seeded --check --trace``: where inside a torch model two runs of a cell part.

**What each run records.** While a run goes on, a ``TorchDispatchMode`` of its own sees every operation torch
dispatches (in autograd's threads too) and records, per operation: its identity (the op's name and how many times the
run called it before: ``aten::mm`` #12), the module it ran in as the model names it (``encoder.layers.3.attn``, from
``nn.Module``'s global forward hooks and, in backward, hooks on the gradients of each module's outputs and inputs),
forward or backward, the step (the optimizer steps before it, else the model's forward calls), and a digest of each
tensor it reads and writes, with its shape and dtype, and its other arguments (Python numbers) as they are. A torch
generator it draws from counts as an argument, by a digest of its state.

The digest is one int64 per tensor, computed on the tensor's device and read once, when the run ends: the tensor's
bits (as integers) times a weight per column of 1024, summed per row, and the rows summed with odd weights by their
position: any one changed bit changes it, and so do a permutation and a constant (where a xor, as
``torch.hash_tensor``'s, gives 0). A tensor read again unchanged (a parameter) is digested once. Values are kept only
for the operations that can start a difference (those that draw from a generator, those torch documents as
nondeterministic, those that take a Python number or a tensor no traced operation made): their first 65,536 values,
on the host, 64 MB per run at most, for the excerpt.

**Where the runs part** is the first operation, in the first run's order, whose record differs in the second run
(aligned by identity, not position): if its inputs agree and its outputs differ, the operation itself gave another
value; if an input differs, it came from outside torch's operations (a Python number, a generator's state, a tensor
made by NumPy or written by another thread). Every later difference is its consequence, summed up in one line.

Nothing here imports torch or starts CUDA: the caller passes the module the user imported. Every hook is removed when
the run ends, also when it raises or is interrupted.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import re
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from .census import short_path
from .compare import FIXES, GENERATORS

if TYPE_CHECKING:
    from torch import Tensor

    from .census import Unseeded

_COLUMNS = 1024  # a digest sums each row of this many values first
_KEPT_ELEMENTS = 1 << 16  # values kept of an output that may start a difference
_KEPT_BYTES = 64 << 20  # and at most this much of them per run
_BATCH = 4096  # digests stacked into one tensor at a time
_FRAMES = 30  # the calling frames searched for the model that holds a module called alone

#: The module scope of forward code: a ContextVar, not a global (backward runs in autograd's threads).
_FORWARD: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("seedmagic_trace_forward", default=())


class Op(NamedTuple):
    """One operation a run dispatched: its identity (``name``, ``number``), where it ran, and what it read and wrote
    (digests' slots, and the other arguments as they are)."""

    name: str
    number: int
    module: str
    backward: bool
    steps: int  # optimizer steps before it
    forwards: int  # the model's forward calls so far
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    shapes: tuple[tuple[tuple[int, ...], str], ...]
    arguments: tuple[Any, ...]
    outside: tuple[bool, ...]  # per tensor input: made or written by no traced operation
    kept: int  # index into the run's kept values, -1: none
    device: str


class Run:
    """One run's records, read off the device when it ended: the operations, their digests, the values kept."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.digests: list[int] = []
        self.kept: list[list[Tensor]] = []
        self.optimizer_steps = 0
        self.forwards = 0
        self.threads: list[str] = []  # threads the run started


# -- documented nondeterminism -----------------------------------------------------------------------------------


class Documented(NamedTuple):
    """An operation torch's documentation of ``use_deterministic_algorithms`` lists: when, and whether deterministic
    mode makes it deterministic (else it raises)."""

    name: str
    when: str
    raises: bool


_ALIASES = {"conv": "convolution", "conv_transpose": "convolution"}


@functools.lru_cache(maxsize=4)
def documented(doc: str) -> tuple[Documented, ...]:
    """The operations the docstring of ``torch.use_deterministic_algorithms`` lists as nondeterministic."""
    found = []
    raises = False
    for line in doc.splitlines():
        if line.strip().startswith("The following"):  # the list of those made deterministic, then of those that raise
            raises = "will act" not in line
        item = re.match(r"\s*\* :(?:func|class|meth):`~?torch\.(?:nn\.functional\.|nn\.|Tensor\.)?([\w.]+)`(.*)", line)
        if item:
            name, when = item.group(1), item.group(2).strip().rstrip(".")
            snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_")
            snake = re.sub(r"(\d)d$", r"\1d", snake)
            found.append(Documented(snake, when.replace("``", "").replace("`", ""), raises))
    return tuple(found)


def _base(op: str) -> str:
    """``aten::index_add_`` → ``index_add``; ``aten::_adaptive_avg_pool2d_backward`` → ``adaptive_avg_pool2d``."""
    name = op.rpartition("::")[2].strip("_")
    for suffix in ("_backward", "_forward", "_out"):
        name = name.removesuffix(suffix)
    return name.strip("_")


def documented_as_nondeterministic(torch: ModuleType, op: str, device: str, backward: bool = True) -> Documented | None:
    """What torch documents about ``op`` on ``device`` (in backward, or not) as nondeterministic, or None."""
    base = _base(op)
    for entry in documented(torch.use_deterministic_algorithms.__doc__ or ""):
        name = _ALIASES.get(re.sub(r"\d+d$", "", entry.name), entry.name)
        wanted = name.strip("_")
        if not (base == wanted or (base.startswith(wanted + "_") and not base.startswith(wanted + "_select"))):
            continue
        if "CUDA" in entry.when and "CPU" not in entry.when and device != "cuda":
            continue
        if "differentiate" in entry.when and not backward:
            continue
        if "CPU" in entry.when and "CUDA" not in entry.when and device != "cpu":
            continue
        return entry
    return None


# -- recording -----------------------------------------------------------------------------------------------------


class Recorder:
    """Records one run (see the module's docstring); ``recording()`` installs the hooks and the mode, and removes
    them when the run ends."""

    def __init__(self, torch: ModuleType, namespace: dict[str, Any] | None = None) -> None:
        self.torch = torch
        self.namespace = namespace if namespace is not None else {}
        self.run = Run()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._pending: dict[Any, list[Tensor]] = {}  # per device: 0-d digests not yet stacked
        self._stacked: list[tuple[Any, Tensor]] = []  # (device, a batch of digests), in slot order per device
        self._slots: list[tuple[Any, int]] = []  # each slot's device and index among that device's digests
        self._per_device: dict[Any, int] = {}
        self._weights: dict[tuple[Any, bool], Tensor] = {}
        self._digested: dict[int, tuple[Any, int, int]] = {}  # id(tensor): (weak reference, version, slot)
        self._written: dict[tuple[str, int], int] = {}  # (device, storage pointer): version after a traced op
        self._kept_bytes = 0
        self._backward: list[str] = []  # the module scope of backward, pushed and popped by gradient hooks
        self._names: dict[int, str] = {}  # id(module): its name in the root module's tree
        self._random: dict[Any, bool] = {}
        self._handles: list[Any] = []  # the gradient hooks on tensors: removed when the run ends
        # The autograd node running in this thread: whether an operation is part of backward. Private, so read only
        # where this torch has it; else the gradient hooks' scope says.
        self._current_node = getattr(torch._C, "_current_autograd_node", None)
        self._listed: dict[tuple[Any, str, bool], bool] = {}  # (operation, device): documented as nondeterministic
        self._profile: Any = None  # the profile function threads got before the run

    # -- the hooks ---------------------------------------------------------------------------------------------

    @contextmanager
    def recording(self) -> Iterator[Run]:
        """The mode and hooks for one run; none is left installed when it ends, whatever ends it."""
        torch = self.torch
        module_hooks = torch.nn.modules.module
        stack = ExitStack()
        scope = _FORWARD.set(())
        try:
            stack.callback(_FORWARD.reset, scope)
            stack.callback(self._remove_gradient_hooks)
            stack.callback(module_hooks.register_module_forward_pre_hook(self._forward_pre).remove)
            stack.callback(module_hooks.register_module_forward_hook(self._forward_post, always_call=True).remove)
            optimizer = sys.modules.get("torch.optim.optimizer")
            if optimizer is not None:
                stack.callback(optimizer.register_optimizer_step_pre_hook(self._stepping).remove)
                stack.callback(optimizer.register_optimizer_step_post_hook(self._stepped).remove)
            self._profile = threading.getprofile()
            threading.setprofile(self._thread_started)
            stack.callback(threading.setprofile, self._profile)
            stack.enter_context(_mode(torch)(self))
            yield self.run
        finally:
            from .namespace import interrupts_deferred

            with interrupts_deferred():  # an interrupt never leaves a hook behind
                stack.close()
            self._finish()

    def _thread_started(self, frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(self._profile)  # once: the first event of a thread the run started; then as it would be
        with self._lock:
            self.run.threads.append(threading.current_thread().name)

    def _stepped(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.run.optimizer_steps += 1

    def _stepping(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        with self._lock:  # backward is over
            self._backward.clear()

    def _name(self, module: Any) -> str:
        name = self._names.get(id(module))
        return name or type(module).__name__  # the root, or a module outside its tree: its class

    def _learn_names(self, module: Any) -> None:
        """The names of ``module``'s tree, as the model that holds it names them: the notebook's models, as they
        are bound now (the cell may just have made one), and those the calling code holds, the largest first; else as
        ``module`` names its own."""
        nn = self.torch.nn
        models = [value for value in list(self.namespace.values()) if isinstance(value, nn.Module)]
        frame: FrameType | None = sys._getframe(1)
        for _ in range(_FRAMES):  # and the models that the code calling it holds (a function's locals)
            if frame is None:
                break
            models += [value for value in list(frame.f_locals.values()) if isinstance(value, nn.Module)]
            frame = frame.f_back
        trees = sorted((list(model.named_modules()) for model in models), key=len, reverse=True)
        for tree in trees:
            if any(sub is module for _, sub in tree):
                for name, sub in tree:
                    self._names.setdefault(id(sub), name)
                return
        for name, sub in module.named_modules():
            self._names.setdefault(id(sub), name)

    def _forward_pre(self, module: Any, args: Any) -> None:
        scope = _FORWARD.get()
        if not scope:  # called from outside any module
            if id(module) not in self._names:
                self._learn_names(module)
            if not self._names.get(id(module)):  # the model itself, not one of its parts called alone
                self.run.forwards += 1
            with self._lock:  # a call from outside any module: forward again
                self._backward.clear()
        name = self._name(module)
        _FORWARD.set((*scope, name))
        inputs = [a for a in _tensors(self.torch, args) if a.requires_grad]
        if inputs and self.torch.is_grad_enabled():
            self._on_gradients(inputs, name, push=False)

    def _forward_post(self, module: Any, args: Any, output: Any) -> None:
        scope = _FORWARD.get()
        if scope:
            _FORWARD.set(scope[:-1])
        outputs = [o for o in _tensors(self.torch, output) if o.requires_grad]
        if outputs and self.torch.is_grad_enabled():
            self._on_gradients(outputs, self._name(module), push=True)

    def _on_gradients(self, tensors: list[Tensor], name: str, push: bool) -> None:
        """In backward, ``name``'s scope starts when the gradient of one of its outputs is computed (``push``) and
        ends when that of one of its inputs is."""
        done = [False]
        recorder = weakref.ref(self)

        def hook(grad: Any) -> None:
            this = recorder()
            if this is None or done[0]:
                return
            done[0] = True
            with this._lock:
                if push:
                    this._backward.append(name)
                elif name in this._backward:
                    del this._backward[len(this._backward) - 1 - this._backward[::-1].index(name)]

        for tensor in tensors:
            self._handles.append(tensor.register_hook(hook))  # type: ignore[no-untyped-call]

    def _remove_gradient_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _module(self, backward: bool) -> str:
        if backward:
            with self._lock:
                return self._backward[-1] if self._backward else ""
        scope = _FORWARD.get()
        return scope[-1] if scope else ""

    # -- one operation -----------------------------------------------------------------------------------------

    def before(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What an operation reads, recorded before it runs (an in-place op changes its input)."""
        torch = self.torch
        inputs: list[int] = []
        outside: list[bool] = []
        arguments: list[Any] = []
        overwrites = _op_name(func) in _OVERWRITE  # its first argument is written, not read
        for position, value in enumerate(_leaves(args, kwargs)):
            if isinstance(value, torch.Tensor):
                if overwrites and position == 0:
                    continue
                slot, made_outside = self._input(value)
                inputs.append(slot)
                outside.append(made_outside)
            elif isinstance(value, torch.Generator):
                arguments.append(self._generator_state(value))
            elif isinstance(value, (int, float, complex, bool)) or value is None:
                arguments.append(value)
            elif isinstance(value, (str, torch.dtype, torch.device, torch.layout, torch.memory_format)):
                arguments.append(str(value))
            else:
                arguments.append(type(value).__name__)
        if self._draws(func) and not any(isinstance(v, torch.Generator) for v in _leaves(args, kwargs)):
            device = _device_of(torch, args, kwargs)
            arguments.append(self._default_generator_state(device))
        return tuple(inputs), tuple(outside), tuple(arguments)

    def after(self, func: Any, read: tuple[Any, ...], out: Any) -> None:
        """An operation that ran: its identity, where, and the digests of what it returned."""
        torch = self.torch
        inputs, outside, arguments = read
        name = _op_name(func)
        backward = self._in_backward()
        with self._lock:
            number = self._counts.get(name, 0)
            self._counts[name] = number + 1
        outputs: list[int] = []
        shapes: list[tuple[tuple[int, ...], str]] = []
        tensors = [o for o in _tensors(torch, out)]
        uninitialized = name in _UNINITIALIZED
        for tensor in tensors:
            slot = self._digest_of(tensor, uninitialized)
            outputs.append(slot)
            shapes.append((tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")))
            self._mark_written(tensor, slot)
        kept = -1
        if tensors and (
            any(outside)
            or self._draws(func)
            or self._documented(func, tensors, backward)
            or any(isinstance(a, float) for a in arguments)
        ):
            kept = self._keep(tensors)
        steps, forwards = self.run.optimizer_steps, self.run.forwards
        device = tensors[0].device.type if tensors else ""
        op = Op(
            name,
            number,
            self._module(backward),
            backward,
            steps,
            forwards,
            inputs,
            tuple(outputs),
            tuple(shapes),
            arguments,
            outside,
            kept,
            device,
        )
        with self._lock:
            self.run.ops.append(op)

    def _in_backward(self) -> bool:
        """Whether an operation runs in backward: torch's running autograd node where it tells, else the scope the
        gradient hooks on modules' outputs and inputs keep (cleared at each call from outside any module and each
        optimizer step, as the input of a network's first module has no gradient to pop it)."""
        if self._current_node is not None:
            try:
                return self._current_node() is not None
            except Exception:
                pass
        with self._lock:
            return bool(self._backward)

    def _draws(self, func: Any) -> bool:
        """Whether the operation draws random numbers (its schema takes a generator)."""
        draws = self._random.get(func)
        if draws is None:
            schema = getattr(func, "_schema", None)
            draws = schema is not None and any("Generator" in str(a.type) for a in schema.arguments)
            self._random[func] = draws
        return draws

    def _documented(self, func: Any, tensors: list[Tensor], backward: bool) -> bool:
        key = (func, tensors[0].device.type, backward)
        found = self._listed.get(key)
        if found is None:
            listed = documented_as_nondeterministic(self.torch, _op_name(func), key[1], backward)
            found = self._listed[key] = listed is not None
        return found

    def _generator_state(self, generator: Any) -> tuple[str, str]:
        state = generator.get_state()
        digest = hashlib.blake2b(bytes(state.tolist()), digest_size=8).hexdigest()
        return ("generator", digest)

    def _default_generator_state(self, device: Any) -> tuple[str, str]:
        torch = self.torch
        if device is not None and device.type == "cuda" and torch.cuda.is_initialized():
            index = device.index if device.index is not None else torch.cuda.current_device()
            return ("default generator", self._generator_state(torch.cuda.default_generators[index])[1])
        if device is None or device.type == "cpu":
            return ("default generator", self._generator_state(torch.default_generator)[1])
        return ("default generator", "")

    # -- digests -----------------------------------------------------------------------------------------------

    def _input(self, tensor: Tensor) -> tuple[int, bool]:
        """The slot of a tensor's digest as read now, and whether no traced operation made or last wrote it."""
        key = _storage_key(tensor)
        version = tensor._version
        outside = key is None or self._written.get(key) != version
        known = self._digested.get(id(tensor))
        if known is not None and known[0]() is tensor and known[1] == version:
            return known[2], outside
        return self._digest_of(tensor), outside

    def _mark_written(self, tensor: Tensor, slot: int) -> None:
        key = _storage_key(tensor)
        if key is not None:
            self._written[key] = tensor._version

    def _digest_of(self, tensor: Tensor, uninitialized: bool = False) -> int:
        """The slot of a new digest of ``tensor`` (of its shape alone where its memory was never written)."""
        if uninitialized:
            digest = self.torch.full((), tensor.numel(), dtype=self.torch.int64, device=tensor.device)
        else:
            digest = self._digest(tensor)
        device = digest.device
        with self._lock:
            pending = self._pending.setdefault(device, [])
            pending.append(digest)
            index = self._per_device.get(device, 0)
            self._per_device[device] = index + 1
            slot = len(self._slots)
            self._slots.append((device, index))
            if len(pending) >= _BATCH:
                self._stacked.append((device, self.torch.stack(pending)))
                pending.clear()
        with suppress(TypeError):  # a tensor without weak references: digested anew each time it is read
            self._digested[id(tensor)] = (weakref.ref(tensor), tensor._version, slot)
        return slot

    def _digest(self, tensor: Tensor) -> Tensor:
        """One int64 on the tensor's device that any change of its bits, order included, changes."""
        torch = self.torch
        x = tensor.detach()
        nothing: Tensor
        if x.layout != torch.strided or x.is_quantized or x.is_meta:  # no bits to read: their shape alone counts
            nothing = torch.zeros((), dtype=torch.int64, device=x.device if not x.is_meta else "cpu")
            return nothing
        if x.is_complex():
            x = torch.view_as_real(x)
        if x.dtype == torch.bool:
            x = x.view(torch.uint8)
        flat = x.reshape(-1)
        bits = flat.view(getattr(torch, _INTS[flat.element_size()])) if flat.is_floating_point() else flat
        n = bits.numel()
        if n == 0:
            nothing = torch.zeros((), dtype=torch.int64, device=x.device)
            return nothing
        # Products in 32 bits (wrapping, as 64 would) where the values fit: a third of the memory traffic.
        wide = bits.element_size() > 4
        key = (x.device, wide)
        weights = self._weights.get(key)
        if weights is None:
            values = _WEIGHTS if wide else [(w & 0xFFFF_FFFF) - ((w & 0x8000_0000) << 1) for w in _WEIGHTS]
            weights = self._weights[key] = torch.tensor(
                values, dtype=torch.int64 if wide else torch.int32, device=x.device
            )
        rows, rest = divmod(n, _COLUMNS)
        total: Tensor = torch.zeros((), dtype=torch.int64, device=x.device)
        if rows:
            sums = (bits[: rows * _COLUMNS].view(rows, _COLUMNS) * weights).sum(1, dtype=torch.int64)
            order = torch.arange(rows, dtype=torch.int64, device=x.device) * 2 + 1
            total = (sums * order).sum()
        if rest:
            tail = (bits[rows * _COLUMNS :] * weights[:rest]).sum(dtype=torch.int64)
            total = total + tail * (2 * rows + 3)
        return total + n

    def _keep(self, tensors: list[Tensor]) -> int:
        """The first values of an operation's outputs, on the host, for the excerpt; -1 past the budget."""
        kept = []
        for tensor in tensors:
            values = tensor.detach().reshape(-1)[:_KEPT_ELEMENTS]
            size = values.numel() * values.element_size()
            if self._kept_bytes + size > _KEPT_BYTES:
                return -1
            self._kept_bytes += size
            kept.append(values.to("cpu", copy=True))
        with self._lock:
            self.run.kept.append(kept)
            return len(self.run.kept) - 1

    def _finish(self) -> None:
        """Read every digest off its device, once."""
        torch = self.torch
        for device, pending in self._pending.items():
            if pending:
                self._stacked.append((device, torch.stack(pending)))
        self._pending.clear()
        per_device: dict[Any, list[int]] = {}
        for device, batch in self._stacked:
            per_device.setdefault(device, []).extend(batch.tolist())
        self.run.digests = [per_device[device][index] for device, index in self._slots]
        self._stacked.clear()
        self._digested.clear()
        self._written.clear()
        self._weights.clear()


#: The integer dtype of each width, whose view of a float tensor gives its bits.
_INTS = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def _weight(i: int) -> int:
    value = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFF_FFFF_FFFF_FFFF
    value ^= value >> 29
    value = (value * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    value |= 1
    return value - (1 << 64) if value >= 1 << 63 else value


_WEIGHTS = [_weight(i) for i in range(_COLUMNS)]


#: Operations whose output's memory is not written (its values are whatever was there): digested by their shape.
_UNINITIALIZED = frozenset(
    f"aten::{name}"
    for name in ("empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted", "resize_")
)
#: In-place operations that overwrite their first argument without reading it.
_OVERWRITE = frozenset(
    f"aten::{name}"
    for name in (
        "fill_",
        "zero_",
        "copy_",
        "uniform_",
        "normal_",
        "random_",
        "exponential_",
        "cauchy_",
        "log_normal_",
        "geometric_",
        "bernoulli_",
        "set_",
    )
)


@functools.lru_cache(maxsize=4096)
def _op_name(func: Any) -> str:
    """``aten::mul`` for ``aten.mul.Tensor``: the operation, as torch names it, without the overload."""
    schema = getattr(func, "_schema", None)
    return str(schema.name) if schema is not None else str(func)


def _storage_key(tensor: Tensor) -> tuple[str, int] | None:
    try:
        return (tensor.device.type, tensor.untyped_storage().data_ptr())
    except Exception:
        return None


def _leaves(args: Any, kwargs: dict[str, Any]) -> Iterator[Any]:
    for value in (*args, *kwargs.values()):
        if isinstance(value, (list, tuple)):
            yield from value
        else:
            yield value


def _tensors(torch: ModuleType, value: Any) -> list[Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, torch.Tensor)]
    if isinstance(value, dict):
        return [item for item in value.values() if isinstance(item, torch.Tensor)]
    return []


def _device_of(torch: ModuleType, args: Any, kwargs: dict[str, Any]) -> Any:
    device = kwargs.get("device")
    if device is not None:
        return torch.device(device)
    for value in _leaves(args, kwargs):
        if isinstance(value, torch.Tensor):
            return value.device
    return None


_MODE: type | None = None


def _mode(torch: ModuleType) -> type:
    """The dispatch mode that records each operation, defined once torch is imported."""
    global _MODE
    if _MODE is not None:
        return _MODE
    from torch.utils._python_dispatch import TorchDispatchMode

    class Trace(TorchDispatchMode):  # type: ignore[no-untyped-call]
        def __init__(self, recorder: Recorder) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.recorder = recorder

        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # As for writes.SeeWrites: else the first operation imports torch._dynamo (a second, 75 MB).
            return False

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            read = self.recorder.before(func, args, kwargs)
            out = func(*args, **kwargs)
            self.recorder.after(func, read, out)
            return out

    _MODE = Trace
    return _MODE


# -- comparing two runs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parting:
    """The first operation where two runs' records differ, what differs there, and how much differs after it."""

    op: str
    number: int
    module: str
    backward: bool
    #: "values": the same inputs gave other outputs; "input": an input differs; "order": the runs ran other ops.
    kind: str
    step: str
    device: str
    excerpt: str
    #: The non-tensor argument that differs, in each run (a Python number, or a generator's state).
    argument: tuple[Any, Any] | None = None
    #: A differing tensor input that no traced operation made or last wrote.
    from_outside: bool = False
    draws: bool = False
    documented: Documented | None = None
    threads: tuple[str, ...] = ()
    later: int = 0
    later_total: int = 0
    later_modules: int = 0

    @property
    def where(self) -> str:
        module = self.module or "outside any module"
        phase = "backward" if self.backward else "forward"
        return f"{module}, {self.op} (call {self.number + 1}), {phase}{self.step}"

    def cause(self, made_without_seed: tuple[Unseeded, ...] = ()) -> str:
        """The likely cause of the parting, with its fix where there is one."""
        made = sorted((m for m in made_without_seed if not m.for_its_own_use), key=lambda m: bool(m.via))
        if self.kind == "order":
            return (
                "the runs ran other operations from here: the cell's control flow depends on a value that differs "
                "(see the operations just before)"
            )
        if self.argument is not None and isinstance(self.argument[0], tuple):
            which = self.argument[0][0]
            if which == "default generator":
                return (
                    "torch's default generator was in another state in each run: something reseeded it from the OS or "
                    "the clock (torch.seed()), or drew from it outside the cell"
                )
            return (
                "the torch.Generator it draws from was in another state in each run: it was seeded from the OS "
                f"(g.seed()) or not from the cell's seed: make it with {FIXES['torch']}"
            )
        if self.argument is not None:
            first, second = self.argument
            python = [m for m in made if m.library == "random"]
            if python:
                return _made_without_seed(python)
            return (
                f"a Python number passed to it differs ({first!r} vs {second!r}): from the clock (time.time()) or "
                "Python randomness nothing seeded (random.Random(), os.urandom, uuid)"
            )
        if self.kind == "input":
            if made:
                return _made_without_seed(made)
            if self.threads:
                return (
                    f"threads: the run started {_threads(self.threads)}, and this input was made or written outside "
                    "torch's traced operations, in an order that varies"
                )
            return (
                "this input was made outside torch's operations and differs: from NumPy, a Python value "
                "(torch.tensor(time.time())), os.urandom, or another thread"
            )
        if self.documented is not None:
            entry = self.documented
            what = (
                f"torch documents {self.op} as nondeterministic ({entry.when})"
                if entry.when
                else (f"torch documents {self.op} as nondeterministic")
            )
            if entry.raises:
                return (
                    f"{what}: under %seed --deterministic it raises RuntimeError here, as it has no deterministic "
                    "implementation (--warn-only warns instead); compute it another way"
                )
            return f"{what}: %seed --deterministic makes torch use a deterministic implementation"
        if self.threads:
            return (
                f"threads: the run started {_threads(self.threads)}; the same inputs gave other values, as when "
                "threads write its memory or finish in another order"
            )
        if made:
            return _made_without_seed(made)
        if self.device == "cpu":
            return (
                "the same inputs gave other values: its memory was written outside torch's operations (another "
                "thread, NumPy), or it read memory nothing wrote (torch.empty)"
            )
        return (
            f"the same inputs gave other values: a kernel that is not deterministic on {self.device} "
            "(%seed --deterministic), or memory written by another thread"
        )

    def lines(self, made_without_seed: tuple[Unseeded, ...] = ()) -> list[str]:
        """The report's lines: where, the values, the cause, and the consequences in one line."""
        lines = [f"where the runs part: {self.where}"]
        if self.excerpt:
            lines.append(f"  {self.excerpt}")
        lines.append(f"  likely cause: {self.cause(made_without_seed)}")
        if self.later:
            modules = f"{self.later_modules} module{'s' if self.later_modules != 1 else ''}"
            lines.append(
                f"  after it, {self.later:,} of the {self.later_total:,} later operations differ, in {modules}: its "
                "consequences"
            )
        elif self.later_total:
            lines.append(f"  after it, none of the {self.later_total:,} later operations differs")
        return lines


def _made_without_seed(made: list[Unseeded]) -> str:
    first = made[0]
    places = f" (and {len(made) - 1} more)" if len(made) > 1 else ""
    what, fix = GENERATORS.get(first.library, first.library), FIXES.get(first.library, "a seed")
    if first.via:
        return (
            f"a {what} made without a seed inside {short_path(first.via, 40)}, called at {first.shown_where(30)}"
            f"{places}, gives this input another value in each run: pass it one ({fix})"
        )
    return (
        f"a {what} made without a seed at {first.shown_where(40)}{places} gives this input another value in each "
        f"run: make it with {fix}"
    )


def _threads(names: tuple[str, ...]) -> str:
    count = len(names)
    return f"{count} thread{'s' if count != 1 else ''} ({', '.join(dict.fromkeys(names[:3]))})"


@dataclass(frozen=True)
class Traced:
    """What ``--trace`` found: how many operations each run dispatched, and where they part (None: nowhere)."""

    operations: int
    parting: Parting | None = None
    #: Why nothing was traced ("" when it was).
    untraced: str = ""

    def lines(self, made_without_seed: tuple[Unseeded, ...] = (), same_end: bool = False) -> list[str]:
        """The report's lines; ``same_end``: what the cell left was the same in both runs."""
        if self.untraced:
            return [f"trace: {self.untraced}"]
        if self.parting is None:
            return [f"trace: the {self.operations:,} torch operations gave the same values in both runs"]
        lines = self.parting.lines(made_without_seed)
        if same_end:
            lines[0] = f"trace: the runs part inside torch, though what the cell left is the same; {lines[0]}"
        return lines


def compare(torch: ModuleType, first: Run, second: Run) -> Traced:
    """Where two runs part: the first operation of ``first`` whose record in ``second`` differs."""
    by_identity = {(op.name, op.number): op for op in second.ops}
    origin: tuple[int, Op, Op | None] | None = None
    for index, a in enumerate(first.ops):
        b = by_identity.get((a.name, a.number))
        if b is None or _differs(first, second, a, b):
            origin = (index, a, b)
            break
    if origin is None:
        seen = {(op.name, op.number) for op in first.ops}
        extra = next(((i, op) for i, op in enumerate(second.ops) if (op.name, op.number) not in seen), None)
        if extra is None:
            return Traced(len(first.ops))
        index, op = extra
        return Traced(len(first.ops), _parting(torch, first, second, op, None, index, "order"))
    index, a, b = origin
    if b is None:
        return Traced(len(first.ops), _parting(torch, first, second, a, None, index, "order"))
    kind = "input" if _inputs_differ(first, second, a, b) else "values"
    return Traced(len(first.ops), _parting(torch, first, second, a, b, index, kind))


def _differs(first: Run, second: Run, a: Op, b: Op) -> bool:
    return (
        _inputs_differ(first, second, a, b)
        or a.shapes != b.shapes
        or any(first.digests[x] != second.digests[y] for x, y in zip(a.outputs, b.outputs, strict=False))
    )


def _inputs_differ(first: Run, second: Run, a: Op, b: Op) -> bool:
    return (
        len(a.inputs) != len(b.inputs)
        or a.arguments != b.arguments
        or any(first.digests[x] != second.digests[y] for x, y in zip(a.inputs, b.inputs, strict=False))
    )


def _step(run: Run, op: Op) -> str:
    if run.optimizer_steps:
        if op.steps >= run.optimizer_steps:
            return f", after step {run.optimizer_steps}"
        return f", step {op.steps + 1} of {run.optimizer_steps}"
    if run.forwards > 1:
        return f", forward call {op.forwards} of {run.forwards}" if op.forwards else ", before the first forward call"
    return ""


def _parting(torch: ModuleType, first: Run, second: Run, a: Op, b: Op | None, index: int, kind: str) -> Parting:
    argument = None
    from_outside = False
    excerpt = ""
    draws = any(isinstance(x, tuple) and x and x[0] in ("generator", "default generator") for x in a.arguments)
    device = "cpu"
    if b is not None:
        if kind == "input":
            for x, y in zip(a.arguments, b.arguments, strict=False):
                if x != y:
                    argument = (x, y)
                    break
            from_outside = any(
                first.digests[x] != second.digests[y] and (outside_a or outside_b)
                for x, y, outside_a, outside_b in zip(a.inputs, b.inputs, a.outside, b.outside, strict=False)
            )
        excerpt = _excerpt(torch, first, second, a, b)
    device = a.device or device
    documented_entry = documented_as_nondeterministic(torch, a.name, device, a.backward) if kind == "values" else None
    later = later_total = 0
    modules: set[str] = set()
    by_identity = {(op.name, op.number): op for op in second.ops}
    for op in first.ops[index + 1 :]:
        later_total += 1
        other = by_identity.get((op.name, op.number))
        if other is None or _differs(first, second, op, other):
            later += 1
            modules.add(op.module)
    threads = tuple(first.threads)
    return Parting(
        a.name,
        a.number,
        a.module,
        a.backward,
        kind,
        _step(first, a),
        device,
        excerpt,
        argument,
        from_outside,
        draws,
        documented_entry,
        threads,
        later,
        later_total,
        len(modules),
    )


def _excerpt(torch: ModuleType, first: Run, second: Run, a: Op, b: Op) -> str:
    """Both runs' values where the first output that differs differs most (from the values kept)."""
    for position, (x, y) in enumerate(zip(a.outputs, b.outputs, strict=False)):
        if first.digests[x] == second.digests[y] and a.shapes[position] == b.shapes[position]:
            continue
        if a.kept < 0 or b.kept < 0:
            return "values: not kept (only their digests: past the 64 MB kept per run)"
        one, two = first.kept[a.kept][position], second.kept[b.kept][position]
        shape = a.shapes[position][0]
        if one.shape != two.shape:
            return f"shapes: {list(a.shapes[position][0])} vs {list(b.shapes[position][0])}"
        one_d, two_d = one.double(), two.double()
        gap = (one_d - two_d).abs()
        nan = one_d.isnan() != two_d.isnan()
        gap = torch.where(nan, torch.full_like(gap, float("inf")), torch.nan_to_num(gap, nan=0.0))
        bitwise = one.view(-1) != two.view(-1) if one.dtype == two.dtype else gap > 0
        if one.is_floating_point():
            bitwise = bitwise & ~(one_d.isnan() & two_d.isnan())
        count = int(bitwise.sum())
        if not count:
            return f"values: the first {one.numel():,} agree; they differ further on"
        gap = torch.where(bitwise, gap, torch.full_like(gap, -1.0))
        at = int(gap.argmax())
        where = _unravel(at, shape)
        of = f"{one.numel():,} kept" if one.numel() < _numel(shape) else f"{one.numel():,}"
        output = "" if len(a.outputs) == 1 else f" of output {position}"
        return (
            f"values{output} at {where or '[]'}: {_number(one[at])} in the first run, {_number(two[at])} in the "
            f"second (the largest of {count:,} differences in {of} values)"
        )
    return ""


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _unravel(index: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return ""
    place = []
    for size in reversed(shape):
        place.append(index % size if size else 0)
        index //= size if size else 1
    return f"[{', '.join(str(i) for i in reversed(place))}]"


def _number(value: Any) -> str:
    item = value.item()
    return f"{item:.6g}" if isinstance(item, float) else repr(item)


# -- for check.run_twice -------------------------------------------------------------------------------------------


class Tracer:
    """``--trace`` for ``run_twice``: ``traced(run)`` records each run anew (a run run again replaces its record);
    ``result()`` compares the last two."""

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.runs: list[Run] = []
        self.torch = sys.modules.get("torch")
        self.namespace = namespace

    def traced(self, run: Any, which: int) -> Any:
        """``run``, recorded as run ``which`` (0 or 1) whenever it is called."""

        def traced_run() -> Any:
            __tracebackhide__ = True
            torch = self.torch = sys.modules.get("torch")
            if torch is None or not hasattr(torch, "nn"):
                return run()
            recorder = Recorder(torch, self.namespace)
            del self.runs[which:]
            try:
                with recorder.recording():
                    return run()
            finally:
                if len(self.runs) == which:
                    self.runs.append(recorder.run)

        return traced_run

    def result(self) -> Traced:
        if self.torch is None:
            return Traced(0, untraced="torch was not imported: there was nothing to trace")
        if len(self.runs) < 2:
            return Traced(0, untraced="torch was imported by the cell itself: import it in a cell before, to trace")
        return compare(self.torch, self.runs[0], self.runs[1])
