"""torch's generators, on the CPU and on every accelerator that has started, and its determinism flags.

This module is ``seedmagic.sources.torch``: its ``import torch`` statements are absolute, and reach the real torch.
"""

from __future__ import annotations

# ctypes is imported where it is first needed: `%load_ext seedmagic` must stay quick.
import functools
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import one_line
from .base import Flag, Readers, Source
from .fingerprints import fingerprint


@functools.cache
def _string_at() -> Callable[[int, int], bytes]:
    """``ctypes.string_at``, imported on first use (``%load_ext seedmagic`` does not import ctypes)."""
    from ctypes import string_at

    return string_at


TORCH_DEFAULT_SEED = 67280421310721
"""What torch's generators start from until they are seeded (torch's ``default_rng_seed_val``)."""


@functools.cache
def _initialized_checks(torch: Any) -> tuple[tuple[str, Any, Callable[[], bool]], ...]:
    """The accelerator backends whose generators exist once they start (cuda, xpu), with their ``is_initialized``:
    looked up once, and called after every cell by a live panel."""
    checks = []
    for kind in ("cuda", "xpu"):
        backend = getattr(torch, kind, None)
        is_initialized = getattr(backend, "is_initialized", None)
        if is_initialized is not None:
            checks.append((kind, backend, is_initialized))
    return tuple(checks)


@functools.cache
def _mps_available(torch: Any) -> bool:
    """Whether torch has Apple's MPS device here: fixed for the process, and a live panel asks after every cell."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available() and hasattr(torch, "mps"))


def _tensor_fingerprint(tensor: Any) -> str:
    # RNG states are contiguous CPU byte tensors: torch's own serialized form of a generator, the same bytes on every
    # platform torch publishes builds for (all little-endian). Reading the bytes directly avoids Tensor.numpy(),
    # which would import NumPy into a session that has not imported it.
    if tensor.element_size() != 1:
        raise TypeError(f"an RNG state is a byte tensor, not {tensor.dtype}")
    tensor = tensor.contiguous()
    from ctypes import string_at

    return fingerprint(string_at(tensor.data_ptr(), tensor.numel() * tensor.element_size()))


class TorchState(NamedTuple):
    """torch's generators as saved: the CPU generator, the seed torch was last seeded with, and the generators of
    the accelerators that have started, per kind (``cuda``: one state per device)."""

    cpu: Any
    initial_seed: int
    accelerators: dict[str, list[Any]]


class Torch(Source):
    """torch's CPU generator and the generator of every accelerator device, seeded as ``torch.manual_seed`` does.

    Accelerator states are read only once that accelerator is initialized: reading them earlier would start it.
    """

    name = "torch"
    module = "torch"
    distributions = ("torch",)
    deterministic_env = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    has_flags = True
    seed_reader = "torch.initial_seed()"
    default_seed = TORCH_DEFAULT_SEED

    def library_seed(self) -> int | None:
        # torch.manual_seed(N) and torch.seed() (a seed from the OS) both set it, and restoring a state puts it back.
        return int(sys.modules["torch"].initial_seed())

    def seed(self, seed: int) -> None:
        sys.modules["torch"].manual_seed(seed)  # torch's own call, looked up now: a wrapper of it is what runs

    @staticmethod
    def _started_accelerators() -> dict[str, Any]:
        """The accelerator modules (cuda, xpu, mps) whose generators exist now."""
        torch = sys.modules["torch"]  # imported (the engine reads imported libraries only): no import statement
        started = {kind: backend for kind, backend, is_initialized in _initialized_checks(torch) if is_initialized()}
        if _mps_available(torch):
            started["mps"] = torch.mps
        return started

    def get_state(self) -> TorchState:
        import torch

        accelerators = {}
        for kind, backend in self._started_accelerators().items():
            accelerators[kind] = [backend.get_rng_state()] if kind == "mps" else backend.get_rng_state_all()
        return TorchState(torch.get_rng_state(), torch.initial_seed(), accelerators)

    def set_state(self, state: TorchState) -> None:
        import torch

        if torch.initial_seed() != state.initial_seed:
            # torch was seeded since the save. torch.manual_seed queues the seeding of accelerators that have not
            # started (CUDA, XPU, MTIA) until they start, where no state can be read or set: queue the saved seed
            # again, through torch's own call, so that a GPU that starts later gets the seed it had before.
            torch.manual_seed(state.initial_seed)
        torch.set_rng_state(state.cpu)
        started = self._started_accelerators()
        for kind, states in state.accelerators.items():
            if kind not in started:
                continue
            if kind == "mps":
                started[kind].set_rng_state(states[0])
            else:
                started[kind].set_rng_state_all(states)

    def shown_streams(self) -> dict[str, str]:
        state = self.get_state()
        result = {"cpu": _tensor_fingerprint(state.cpu)}
        for kind, states in state.accelerators.items():
            for index, device_state in enumerate(states):
                result[f"{kind}:{index}"] = _tensor_fingerprint(device_state)
        return result

    def mark(self) -> Any:
        return self.readers().mark()

    def device_started(self) -> bool:
        return self.imported() and "cuda" in self._started_accelerators()

    def shown_flags(self) -> list[Flag]:
        import torch

        enabled = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        cudnn = torch.backends.cudnn

        def tf32(name: str, legacy: Any, precisions: dict[str, Any], what: str) -> Flag:
            # These reads touch only settings: they start no GPU. torch >= 2.9 refuses the legacy read once its newer
            # fp32_precision API has set a different value; that value is then the one in force.
            value: object
            try:
                value = bool(legacy())
                on: bool | None = bool(value)
            except RuntimeError:
                try:
                    settings = {key: str(read()) for key, read in precisions.items()}
                except Exception as exc:
                    return Flag(name, "unreadable", None, one_line(exc))
                value = ", ".join(f"{key}={setting}" for key, setting in settings.items())
                on = True if "tf32" in settings.values() else False if set(settings.values()) == {"ieee"} else None
            if on is None:
                note = f"{what}: precision left to the wider fp32_precision setting"
            elif on:
                note = (
                    f"{what} run in TF32 on Ampere and newer GPUs: results differ from float32, "
                    "and between GPU generations"
                )
            else:
                note = f"{what} run in full float32"
            # TF32 only matters once a GPU computes: until CUDA has started in this process, the verdict is "-".
            applies = on is not None and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
            return Flag(name, value, (not on) if applies else None, note)

        return [
            Flag(
                "torch.use_deterministic_algorithms",
                f"{enabled} (warn_only)" if enabled and warn_only else enabled,
                enabled and not warn_only,
                "raises on ops with no deterministic implementation"
                if enabled and not warn_only
                else "only warns on nondeterministic ops"
                if enabled
                else "nondeterministic kernels are allowed",
            ),
            Flag(
                "torch.backends.cudnn.deterministic",
                cudnn.deterministic,
                bool(cudnn.deterministic),
                "cuDNN uses deterministic convolutions"
                if cudnn.deterministic
                else "cuDNN may pick nondeterministic convolutions",
            ),
            Flag(
                "torch.backends.cudnn.benchmark",
                cudnn.benchmark,
                not cudnn.benchmark,
                "kernels are chosen by timing, so the choice (and its rounding) can change from run to run"
                if cudnn.benchmark
                else "kernel choice does not depend on timing",
            ),
            tf32(
                "torch.backends.cuda.matmul.allow_tf32",
                lambda: torch.backends.cuda.matmul.allow_tf32,
                {"fp32_precision": lambda: torch.backends.cuda.matmul.fp32_precision},
                "float32 matmuls",
            ),
            tf32(
                "torch.backends.cudnn.allow_tf32",
                lambda: cudnn.allow_tf32,
                # Set by torch >= 2.9 at import, unknown to its type hints.
                {"conv": lambda: cudnn.conv.fp32_precision, "rnn": lambda: cudnn.rnn.fp32_precision},  # type: ignore[attr-defined]
                "cuDNN convolutions and RNNs",
            ),
        ]

    def flags_mark(self) -> Any:
        flags_mark = self.readers().flags_mark
        assert flags_mark is not None
        return flags_mark()

    def readers(self) -> Readers:
        # Read after every cell by a live panel, with torch's objects looked up once: the settings objects and the
        # accelerator checks are made once, at torch's import, and torch.default_generator is the one CPU generator.
        torch = sys.modules["torch"]
        generator, string_at = torch.default_generator, _string_at()
        get_state, initial_seed = generator.get_state, generator.initial_seed  # what torch.initial_seed() returns
        # A torch built without CUDA (the CPU wheels) never starts it: nothing to ask after each cell.
        cuda_built = bool(torch.backends.cuda.is_built())
        checks = tuple(check for kind, _, check in _initialized_checks(torch) if kind != "cuda" or cuda_built)
        mps = _mps_available(torch)
        enabled = torch.are_deterministic_algorithms_enabled
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled
        cuda_initialized = torch.cuda.is_initialized
        cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
        shown_streams, shown_flags = self.shown_streams, self.shown_flags

        def mark() -> Any:
            # The CPU generator's raw bytes (what torch.get_rng_state() returns): comparing them is cheaper than
            # fingerprinting them. Accelerators, once started, by their fingerprints.
            cpu = get_state()
            started = mps
            for is_initialized in checks:
                started = started or is_initialized()
            return string_at(cpu.data_ptr(), cpu.numel()), shown_streams() if started else None

        def flags_mark() -> Any:
            # What save_flags() reads, and the TF32 settings, in one call.
            try:
                tf32: Any = (matmul.allow_tf32, cudnn.allow_tf32)
            except RuntimeError:  # torch >= 2.9, with a different fp32_precision set: what shown_flags() shows then
                tf32 = tuple(shown_flags()[3:])
            started = cuda_built and cuda_initialized()
            return (enabled(), warn_only(), cudnn.deterministic, cudnn.benchmark, tf32, started)

        return Readers(mark, flags_mark, initial_seed)

    def save_flags(self) -> Any:
        import torch

        return (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )

    def set_deterministic(self, warn_only: bool) -> None:
        self.restore_flags((True, warn_only, True, False))

    def restore_flags(self, state: Any) -> None:
        import torch

        enabled, warn_only, cudnn_deterministic, cudnn_benchmark = state
        # Only where they change: torch.use_deterministic_algorithms imports torch._inductor (in torch 2.13; and
        # with it torch._dynamo: about a second and 75 MB, and a slower torch.manual_seed from then on), also to set
        # the flags they already hold.
        if (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()) != (
            enabled,
            warn_only,
        ):
            torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark
