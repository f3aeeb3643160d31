"""The recorder of one traced run: a ``TorchDispatchMode`` and hooks that record every operation torch dispatches.

What it records of each operation is in the package's docstring. Every hook is removed when the run ends, also when
it raises or is interrupted.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from .digest import Digests
from .nondeterministic import documented_as_nondeterministic
from .ops import Op, Run

if TYPE_CHECKING:
    from torch import Tensor

_KEPT_ELEMENTS = 1 << 16  # values kept of an output that may start a difference
_KEPT_BYTES = 64 << 20  # and at most this much of them per run
_FRAMES = 30  # the calling frames searched for the model that holds a module called alone

#: The module scope of forward code: a ContextVar, not a global (backward runs in autograd's threads).
_FORWARD: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("seedmagic_trace_forward", default=())


class Recorder:
    """Records one run (see the package's docstring); ``recording()`` installs the hooks and the mode, and removes
    them when the run ends."""

    def __init__(self, torch: ModuleType, namespace: dict[str, Any] | None = None) -> None:
        self.torch = torch
        self.namespace = namespace if namespace is not None else {}
        self.run = Run()
        self._lock = threading.Lock()
        self.digests = Digests(torch, self._lock)
        self._counts: dict[str, int] = {}
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
            from ..namespace import interrupts_deferred

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
                slot, made_outside = self.digests.input(value)
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
            slot = self.digests.digest_of(tensor, uninitialized)
            outputs.append(slot)
            shapes.append((tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")))
            self.digests.mark_written(tensor, slot)
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

    # -- values kept -------------------------------------------------------------------------------------------

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
        self.run.digests = self.digests.finish()


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
