"""One small unit per RNG library.

Each unit answers the same questions about one library: is it installed, is it imported, how is it seeded, how is its
state saved and put back, what does its state look like (a short fingerprint per stream), and which determinism flags
does it have. Adding a library means adding one class here and listing it in ``SOURCES``.

A unit imports its library only inside its methods, and the engine calls those methods only for a library that is
already in ``sys.modules``: nothing here imports a framework the user has not imported.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import struct
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Flag:
    """One setting that decides whether runs repeat, as read now.

    ``ok`` is the verdict for reproducibility: True (fine), False (can make runs differ) or None (does not apply here).
    """

    name: str
    value: Any
    ok: bool | None
    note: str


class StateUnavailable(Exception):
    """The library keeps its random state where it cannot be saved or restored."""


def fingerprint(data: bytes) -> str:
    """A short digest of a random state: 8 hex digits that change whenever the stream advances."""
    return hashlib.blake2b(data, digest_size=4).hexdigest()


@functools.cache
def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Source:
    """An RNG library: the interface every unit implements."""

    #: The name users write in ``--only`` / ``--skip``.
    name: str = ""
    #: The top-level module whose import makes the library present (and seeds it when a seed is pending).
    module: str = ""
    #: Distributions to ask for the version before the library is imported.
    distributions: tuple[str, ...] = ()
    #: Environment variables the library reads once, when its device starts, to be deterministic.
    deterministic_env: dict[str, str] = {}
    #: Whether the library has deterministic-algorithm flags (``flag_state`` / ``set_deterministic``).
    has_flags: bool = False

    def imported(self) -> bool:
        return self.module in sys.modules

    def installed(self) -> bool:
        return self.imported() or _installed(self.module)

    def version(self) -> str | None:
        module = sys.modules.get(self.module)
        if module is not None and isinstance(getattr(module, "__version__", None), str):
            return module.__version__
        for dist in self.distributions:
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    def seed(self, seed: int) -> None:
        """Seed the library exactly as its own seeding call does."""
        raise NotImplementedError

    def get_state(self) -> Any:
        """Everything needed to put the library's generators back; raises StateUnavailable if it cannot be read."""
        raise StateUnavailable(f"{self.name} has no state that can be saved")

    def set_state(self, state: Any) -> None:
        raise NotImplementedError

    def streams(self) -> dict[str, str]:
        """A fingerprint per stream (e.g. ``cpu``, ``cuda:0``), read without starting any device."""
        return {}

    def flags(self) -> list[Flag]:
        """The library's determinism settings, read without starting any device."""
        return []

    def device_started(self) -> bool:
        """Whether the library's accelerator is initialized (then ``deterministic_env`` comes too late)."""
        return False

    def flag_state(self) -> Any:
        """The determinism settings, in the form ``set_flag_state`` takes back."""
        return None

    def set_deterministic(self, warn_only: bool) -> None:
        """Switch the library's deterministic algorithms on."""

    def set_flag_state(self, state: Any) -> None:
        """Put back settings read by ``flag_state``."""


class PythonRandom(Source):
    name = "random"
    module = "random"

    def version(self) -> str | None:
        return platform.python_version()

    def seed(self, seed: int) -> None:
        import random

        random.seed(seed)

    def get_state(self) -> Any:
        import random

        return random.getstate()

    def set_state(self, state: Any) -> None:
        import random

        random.setstate(state)

    def streams(self) -> dict[str, str]:
        import random

        _, internal, gauss = random.getstate()
        return {"random": fingerprint(struct.pack(f"{len(internal)}I", *internal) + repr(gauss).encode())}


class NumPy(Source):
    """NumPy's legacy global generator (``np.random.seed``); ``default_rng()`` generators are independent of it."""

    name = "numpy"
    module = "numpy"
    distributions = ("numpy",)

    def seed(self, seed: int) -> None:
        import numpy.random

        numpy.random.seed(seed)

    def get_state(self) -> Any:
        import numpy.random

        return numpy.random.get_state()

    def set_state(self, state: Any) -> None:
        import numpy.random

        numpy.random.set_state(state)

    def streams(self) -> dict[str, str]:
        import numpy.random

        _, keys, pos, has_gauss, gauss = numpy.random.get_state()
        return {"numpy.random": fingerprint(keys.tobytes() + struct.pack("<iid", pos, has_gauss, gauss))}


def _tensor_fingerprint(tensor: Any) -> str:
    # RNG states are contiguous CPU byte tensors; reading the bytes directly avoids Tensor.numpy(), which would
    # import NumPy into a session that has not imported it.
    tensor = tensor.contiguous()
    return fingerprint(ctypes.string_at(tensor.data_ptr(), tensor.numel() * tensor.element_size()))


class Torch(Source):
    """torch's CPU generator and the generator of every accelerator device, seeded as ``torch.manual_seed`` does.

    Accelerator states are read only once that accelerator is initialized: reading them earlier would start it.
    """

    name = "torch"
    module = "torch"
    distributions = ("torch",)
    deterministic_env = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    has_flags = True

    def seed(self, seed: int) -> None:
        import torch

        # manual_seed seeds the CPU generator now and queues the seeding of every CUDA/XPU device until it starts.
        torch.manual_seed(seed)

    @staticmethod
    def _started_accelerators() -> dict[str, Any]:
        """The accelerator modules (cuda, xpu, mps) whose generators exist now."""
        import torch

        started = {}
        for kind in ("cuda", "xpu"):
            backend = getattr(torch, kind, None)
            is_initialized = getattr(backend, "is_initialized", None)
            if is_initialized is not None and is_initialized():
                started[kind] = backend
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available() and hasattr(torch, "mps"):
            started["mps"] = torch.mps
        return started

    def get_state(self) -> Any:
        import torch

        state: dict[str, Any] = {"cpu": torch.get_rng_state()}
        for kind, backend in self._started_accelerators().items():
            if kind == "mps":
                state[kind] = [backend.get_rng_state()]
            else:
                state[kind] = backend.get_rng_state_all()
        return state

    def set_state(self, state: Any) -> None:
        import torch

        torch.set_rng_state(state["cpu"])
        started = self._started_accelerators()
        for kind, states in state.items():
            if kind == "cpu" or kind not in started:
                continue
            if kind == "mps":
                started[kind].set_rng_state(states[0])
            else:
                started[kind].set_rng_state_all(states)

    def streams(self) -> dict[str, str]:
        state = self.get_state()
        result = {"cpu": _tensor_fingerprint(state.pop("cpu"))}
        for kind, states in state.items():
            for index, device_state in enumerate(states):
                result[f"{kind}:{index}"] = _tensor_fingerprint(device_state)
        return result

    def device_started(self) -> bool:
        return "torch" in sys.modules and "cuda" in self._started_accelerators()

    def flags(self) -> list[Flag]:
        import torch

        enabled = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        cudnn = torch.backends.cudnn
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
        ]

    def flag_state(self) -> Any:
        import torch

        return (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )

    def set_deterministic(self, warn_only: bool) -> None:
        self.set_flag_state((True, warn_only, True, False))

    def set_flag_state(self, state: Any) -> None:
        import torch

        enabled, warn_only, cudnn_deterministic, cudnn_benchmark = state
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark


class TensorFlow(Source):
    """TensorFlow's global seed (``tf.random.set_seed``), from which every op without its own seed derives one."""

    name = "tensorflow"
    module = "tensorflow"
    distributions = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    has_flags = True

    def seed(self, seed: int) -> None:
        import tensorflow as tf

        tf.random.set_seed(seed)

    def get_state(self) -> Any:
        raise StateUnavailable(
            "TensorFlow keeps the state of its random ops inside their kernels, where it cannot be saved"
        )

    def streams(self) -> dict[str, str]:
        from tensorflow.python.eager import context

        ctx = context.context()
        seed, rng = getattr(ctx, "_seed", None), getattr(ctx, "_rng", None)
        if rng is None:
            return {"global seed": "unset"}
        # The op-seed sequence moves with every random op that has no seed of its own.
        return {"global seed": fingerprint(repr((seed, rng.getstate())).encode())}

    def flags(self) -> list[Flag]:
        enabled = self.flag_state()
        return [
            Flag(
                "tf op determinism",
                enabled,
                enabled,
                "ops run deterministically or raise" if enabled else "some GPU ops are nondeterministic",
            )
        ]

    def flag_state(self) -> Any:
        from tensorflow.python.framework import config

        return bool(config.is_op_determinism_enabled())

    def set_deterministic(self, warn_only: bool) -> None:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    def set_flag_state(self, state: Any) -> None:
        from tensorflow.python.framework import config

        if state:
            config.enable_op_determinism()
        else:
            # TensorFlow has no public call to switch determinism off again; this is its own internal one.
            config.disable_op_determinism()


SOURCES: tuple[Source, ...] = (PythonRandom(), NumPy(), Torch(), TensorFlow())
NAMES: tuple[str, ...] = tuple(source.name for source in SOURCES)


@functools.cache
def _startup_hash_seed() -> str | None:
    """PYTHONHASHSEED as the interpreter saw it at start (Linux keeps that environment in /proc)."""
    try:
        with open("/proc/self/environ", "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return os.environ.get("PYTHONHASHSEED")
    for entry in entries:
        if entry.startswith(b"PYTHONHASHSEED="):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def hash_seed_flag() -> Flag:
    """Python's str/bytes hashing: fixed only when PYTHONHASHSEED was set before the interpreter started."""
    value = _startup_hash_seed()
    fixed = value is not None and value != "random"
    if fixed:
        note = "hash randomization is off" if value == "0" else "str/bytes hashes are the same in every run"
    else:
        note = "str hashes (and set order) differ between processes; a running process cannot change that"
    if os.environ.get("PYTHONHASHSEED") != value:
        note += "; changing it in a running process has no effect"
    return Flag("PYTHONHASHSEED", value if value is not None else "unset", fixed, note)
