"""One small unit per RNG library.

Each unit answers the same questions about one library: is it installed, is it imported, how is it seeded, how is its
state saved and put back, what does its state look like (a short fingerprint per stream), and which determinism flags
does it have. Adding a library means adding one class here and listing it in ``SOURCES``.

A unit imports its library only inside its methods, and the engine calls those methods only for a library that is
already in ``sys.modules``: nothing here imports a framework the user has not imported.
"""

from __future__ import annotations

# Only what IPython has imported already: `%load_ext seedmagic` must stay quick. zlib, ctypes and
# importlib.metadata are imported where they are first needed.
import contextlib
import functools
import importlib.util
import os
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

from .errors import one_line


class Flag(NamedTuple):
    """One setting that decides whether runs repeat, as read now.

    ``ok`` is the verdict for reproducibility: True (fine), False (can make runs differ) or None (does not apply here).
    """

    name: str
    value: Any
    ok: bool | None
    note: str


def set_environ(variable: str, value: str | None) -> None:
    """Put an environment variable back as it was: set to ``value``, or removed where it was unset (None)."""
    if value is None:
        os.environ.pop(variable, None)
    else:
        os.environ[variable] = value


class StateUnavailable(Exception):
    """The library keeps its random state where it cannot be saved or restored."""


def fingerprint(data: bytes) -> str:
    """A short digest of a random state: 8 hex digits that change whenever the stream advances.

    ``data`` is the state in a fixed byte encoding (explicit widths, little-endian), so that one state has one
    fingerprint in every process, Python version and platform.
    """
    # CRC-32 rather than a cryptographic hash: a few µs less per stream on a status redrawn after every cell, and a
    # change within 32 consecutive bits (a stream whose position alone moved) always shows.
    from zlib import crc32

    return f"{crc32(data):08x}"


def _array_bytes(array: Any) -> bytes:
    """A NumPy array's elements as little-endian bytes."""
    data: bytes = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return data


_MT_WORDS = struct.Struct("<625I")  # a Mersenne Twister's 624 words and its position


def _random_state_bytes(state: tuple[Any, ...]) -> bytes:
    """A ``random.Random`` state (what ``getstate()`` returns): its 32-bit words, then the cached ``gauss`` value."""
    _, words, gauss = state
    packed = _MT_WORDS.pack(*words) if len(words) == 625 else struct.pack(f"<{len(words)}I", *words)
    return packed + (b"\0" if gauss is None else b"\1" + struct.pack("<d", gauss))


class _SearchPath(NamedTuple):
    """``sys.path`` as read at one moment: each entry with its inode and modification time (None where there is no
    such directory or file), and whether all of them had been still for _SETTLED_NS."""

    read_at: int  # time.monotonic_ns()
    entries: tuple[tuple[str, int | None, int | None], ...]
    settled: bool


# Whether a library is installed, and its version, can change while the kernel runs (%pip install). Looking them up
# costs about 70 µs (find_spec) and 350 µs (package metadata), too much for a status redrawn after every cell, so the
# answers are kept while no sys.path directory changes: pip adds, removes or renames a package's directory and its
# .dist-info, which changes the mtime of the directory that holds them. One status asks a dozen times: sys.path is
# read (one stat per entry, 10 to 50 µs in all) at most once per _SEARCH_PATH_REUSE_NS.
_SEARCH_PATH_REUSE_NS = 5_000_000
# A directory changed this recently may change again within the same tick of its filesystem's clock (a few ms; HFS+
# keeps 1 s, FAT 2 s), which its mtime would not show: answers found then are not kept past the next reading.
_SETTLED_NS = 2_000_000_000
_search_path: _SearchPath | None = None
_Asked = TypeVar("_Asked")
_Answer = TypeVar("_Answer")
_installed_answers: dict[tuple[str, Any], Any] = {}


def _read_search_path(read_at: int) -> _SearchPath:
    now, settled = time.time_ns(), True
    entries: list[tuple[str, int | None, int | None]] = []
    for entry in sys.path:
        try:
            stat = os.stat(entry or ".")  # "" is the working directory
        except (OSError, TypeError, ValueError):
            entries.append((entry, None, None))
            continue
        entries.append((entry, stat.st_ino, stat.st_mtime_ns))
        settled = settled and now - stat.st_mtime_ns > _SETTLED_NS
    return _SearchPath(read_at, tuple(entries), settled)


def _installed_answer(question: tuple[str, _Asked], answer: Callable[[_Asked], _Answer]) -> _Answer:
    """``answer(argument)`` for a question ``(kind, argument)`` about installed packages: kept until a sys.path
    directory changes."""
    global _search_path
    now = time.monotonic_ns()
    previous = _search_path
    if previous is None or now - previous.read_at > _SEARCH_PATH_REUSE_NS:
        _search_path = _read_search_path(now)
        if previous is not None and (_search_path.entries != previous.entries or not previous.settled):
            # importlib keeps directory listings and package metadata too, checked against the same mtimes: make it
            # read them again, and forget sys.path directories that did not exist.
            importlib.invalidate_caches()
            _installed_answers.clear()
    try:
        return cast(_Answer, _installed_answers[question])  # kept by this function, for this question's kind
    except KeyError:
        value = _installed_answers[question] = answer(question[1])
        return value


def _find_distribution_version(distributions: tuple[str, ...]) -> str | None:
    from importlib import metadata

    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _find_module(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _distribution_version(distributions: tuple[str, ...]) -> str | None:
    """The installed version of the first of ``distributions`` that is installed, as the package metadata says now."""
    return _installed_answer(("version", distributions), _find_distribution_version)


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported now."""
    return _installed_answer(("module", module), _find_module)


class Readers(NamedTuple):
    """A library's cheap readings, bound once it is imported (``Source.readers``)."""

    mark: Callable[[], Any]
    flags_mark: Callable[[], Any] | None
    seed: Callable[[], int | None] | None


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
    #: Whether the library has deterministic-algorithm flags (``save_flags`` / ``set_deterministic``).
    has_flags: bool = False
    #: False for a library that has no global generator to seed (JAX): the status lists it, the engine never seeds
    #: it, and no report says it was seeded.
    seedable: bool = True
    #: What the status shows for the library in place of a fingerprint (e.g. why there is nothing to seed).
    note: str = ""

    def imported(self) -> bool:
        # None in sys.modules blocks the import (`import torch` raises ImportError): not imported.
        return sys.modules.get(self.module) is not None

    def blocked(self) -> bool:
        """Whether its import is blocked: ``sys.modules[module]`` is None, so that importing it raises ImportError."""
        return self.module in sys.modules and sys.modules[self.module] is None

    def installed(self) -> bool:
        return self.imported() or _installed(self.module)

    def version(self) -> str | None:
        version = getattr(sys.modules.get(self.module), "__version__", None)
        return version if isinstance(version, str) else _distribution_version(self.distributions)

    def seed(self, seed: int) -> None:
        """Seed the library exactly as its own seeding call does."""
        raise NotImplementedError

    def get_state(self) -> Any:
        """Everything needed to put the library's generators back; raises StateUnavailable if it cannot be read."""
        raise StateUnavailable(f"{self.name} has no state that can be saved")

    def set_state(self, state: Any) -> None:
        raise NotImplementedError

    def unsaved(self) -> str | None:
        """What a successful ``get_state`` still leaves out, said in ``Snapshot.unavailable`` (None: nothing)."""
        return None

    #: How the library reads the seed its global generator was last seeded with (empty: it cannot tell).
    seed_reader: str = ""
    #: That seed before any seeding, where the library starts from a fixed one.
    default_seed: int | None = None

    def library_seed(self) -> int | None:
        """The seed the library says its global generator was last seeded with, by anyone (``torch.initial_seed()``);
        None where the library cannot tell (``random``, NumPy)."""
        return None

    def shown_streams(self) -> dict[str, str]:
        """For display: a fingerprint per stream (e.g. ``cpu``, ``cuda:0``), read without starting any device."""
        return {}

    def mark(self) -> Any:
        """A cheap reading of the generators, for comparing with another: it differs whenever ``shown_streams`` does.

        A live panel reads it before and after every cell; by default, the fingerprints themselves."""
        return self.shown_streams()

    def shown_flags(self) -> list[Flag]:
        """For display: the library's determinism settings with their verdicts, read without starting any device."""
        return []

    def flags_mark(self) -> Any:
        """A cheap reading of what ``shown_flags`` reports, for comparing with another; by default the flags."""
        return tuple(self.shown_flags())

    def readers(self) -> Readers:
        """The cheap readings, ``mark``, ``flags_mark`` (where the library has flags) and ``library_seed`` (where it
        can tell), as calls bound once the library is imported. A live panel makes them after every cell: a library
        whose readings look up much on each call binds what they use here."""
        return Readers(
            self.mark,
            self.flags_mark if self.has_flags else None,
            self.library_seed if self.seed_reader else None,
        )

    def device_started(self) -> bool:
        """Whether the library's accelerator is initialized (then ``deterministic_env`` comes too late)."""
        return False

    def save_flags(self) -> Any:
        """For restore: the determinism settings, in the form ``restore_flags`` takes back."""
        return None

    def set_deterministic(self, warn_only: bool) -> None:
        """Switch the library's deterministic algorithms on."""

    def restore_flags(self, state: Any) -> None:
        """Put back settings read by ``save_flags``."""


class PythonRandom(Source):
    name = "random"
    module = "random"

    def version(self) -> str | None:
        return "{}.{}.{}".format(*sys.version_info[:3])

    def seed(self, seed: int) -> None:
        # As in the other units' seed(): the module is imported, and an import statement costs on the hot path.
        sys.modules["random"].seed(seed)

    def get_state(self) -> Any:
        import random

        return random.getstate()

    def set_state(self, state: Any) -> None:
        import random

        random.setstate(state)

    def shown_streams(self) -> dict[str, str]:
        import random

        # Not hash(): before Python 3.12 hash(None) is an address, different in every process, and tuples hash
        # differently on 32- and 64-bit builds.
        return {"random": fingerprint(_random_state_bytes(random.getstate()))}

    def mark(self) -> Any:
        return self.readers().mark()

    def readers(self) -> Readers:
        random = sys.modules["random"]

        def mark() -> Any:
            # The position, the cached gauss and three words: the position moves with every draw but a whole number
            # of turns of the twister, and each turn rewrites every word. Comparing all 625 words costs as much again.
            _, words, gauss = random.getstate()
            return words[-1], words[0], words[311], words[623], gauss

        return Readers(mark, None, None)


class NumPy(Source):
    """NumPy's legacy global generator (``np.random.seed``); ``default_rng()`` generators are independent of it."""

    name = "numpy"
    module = "numpy"
    distributions = ("numpy",)

    def seed(self, seed: int) -> None:
        # Imported already (the engine seeds only imported libraries): no import statement on the hot path, where
        # auto mode seeds before every cell.
        sys.modules["numpy"].random.seed(seed)

    def get_state(self) -> Any:
        import numpy.random

        # The legacy tuple for NumPy's own MT19937; for another global bit generator (np.random.set_bit_generator),
        # its state as a dict, which the legacy form would return too, with a warning.
        return numpy.random.get_state() if _legacy_mt19937(numpy.random) else numpy.random.get_state(legacy=False)

    def set_state(self, state: Any) -> None:
        import numpy.random

        numpy.random.set_state(state)

    def shown_streams(self) -> dict[str, str]:
        state = self.get_state()
        if isinstance(state, dict):  # another bit generator than NumPy's own MT19937
            return {"numpy.random": fingerprint(_nested_state_bytes(state))}
        _, keys, pos, has_gauss, gauss = state
        return {"numpy.random": fingerprint(_array_bytes(keys) + struct.pack("<iid", pos, has_gauss, gauss))}

    def mark(self) -> Any:
        return self.readers().mark()

    def readers(self) -> Readers:
        # numpy.random.get_state() copies the 624 words one by one (about 80 µs, twice per cell for a live panel).
        # The bit generator's documented ctypes interface gives the address of the same Mersenne Twister state: its
        # words and position are copied from there at once, once checked against get_state(). The legacy cached
        # normal deviate is not there: a cell that only takes that cached value leaves this mark unchanged.
        get_bit_generator = getattr(sys.modules["numpy"].random, "get_bit_generator", None)
        shown_streams = self.shown_streams
        if get_bit_generator is None:  # NumPy before 1.25 tells no bit generator: its state the slow way
            return Readers(shown_streams, None, None)
        kept: list[Any] = [None, None]  # the global bit generator, and a view of its state (made again for a new one)

        def mark() -> Any:
            generator = get_bit_generator()
            if generator is not kept[0]:  # np.random.set_bit_generator
                kept[:] = generator, _numpy_state_view(generator)
            view = kept[1]
            return shown_streams() if view is None else view.tobytes()

        return Readers(mark, None, None)


@functools.cache
def _string_at() -> Callable[[int, int], bytes]:
    """``ctypes.string_at``, imported on first use (``%load_ext seedmagic`` does not import ctypes)."""
    from ctypes import string_at

    return string_at


TORCH_DEFAULT_SEED = 67280421310721
"""What torch's generators start from until they are seeded (torch's ``default_rng_seed_val``)."""

_MT_STATE_BYTES = 624 * 4 + 4  # NumPy's MT19937 state: 624 uint32 words, then the int position


def _legacy_mt19937(nprandom: Any) -> bool:
    """Whether NumPy's global generator draws from an MT19937, whose state ``get_state()`` gives in its legacy form;
    ``np.random.set_bit_generator`` can put any bit generator there."""
    get_bit_generator = getattr(nprandom, "get_bit_generator", None)  # NumPy >= 1.25, with set_bit_generator
    return get_bit_generator is None or isinstance(get_bit_generator(), nprandom.MT19937)


def _nested_state_bytes(state: Any) -> bytes:
    """A bit generator's state (nested dicts of names, ints, floats and arrays, as ``BitGenerator.state`` gives it) in
    a fixed byte encoding: keys sorted, ints in decimal, floats as little-endian doubles, arrays as their type and
    little-endian elements."""
    if isinstance(state, dict):
        items = (str(key).encode() + b"=" + _nested_state_bytes(state[key]) for key in sorted(state, key=str))
        return b"{" + b";".join(items) + b"}"
    if isinstance(state, str):
        return b"'" + state.encode() + b"'"
    if hasattr(state, "dtype") and hasattr(state, "astype"):  # an array, or a NumPy scalar
        kind: str = state.dtype.str.lstrip("<>=|")
        return kind.encode() + b":" + _array_bytes(state)
    if isinstance(state, float):
        return struct.pack("<d", state)
    return str(state).encode()  # ints (of any size), bools, None


def _numpy_state_view(generator: Any) -> memoryview | None:
    """A view of ``generator``'s (an MT19937) words and position, once its ``state`` has confirmed that they are
    there; None where they are not (another bit generator, another layout). Kept with the generator, which keeps the
    memory alive."""
    view = None
    with contextlib.suppress(Exception):
        state = generator.state
        if state.get("bit_generator") == "MT19937":
            from ctypes import c_char

            words, pos = state["state"]["key"], state["state"]["pos"]
            expected = words.astype("=u4").tobytes() + struct.pack("=i", pos)
            candidate = memoryview((c_char * _MT_STATE_BYTES).from_address(generator.ctypes.state_address))
            if len(expected) == _MT_STATE_BYTES and candidate.tobytes() == expected:
                view = candidate
    return view


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


_TF_KERNELS = "TensorFlow keeps the state of its random ops inside their kernels, where it cannot be saved"


class TensorFlow(Source):
    """TensorFlow's global seed (``tf.random.set_seed``), from which every op without its own seed derives one, and
    its global ``tf.random.Generator`` once the session has made one.

    The global generator is created by the first ``tf.random.get_global_generator()``, from OS entropy; this unit only
    ever uses one that exists: creating it would make a variable, and so start TensorFlow's devices.
    """

    name = "tensorflow"
    module = "tensorflow"
    distributions = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    has_flags = True

    @staticmethod
    def _global_generator() -> Any:
        """The global ``tf.random.Generator`` if one exists, else None; never creates it."""
        # TensorFlow keeps it in this module variable, None until get_global_generator() or set_global_generator().
        module = sys.modules.get("tensorflow.python.ops.stateful_random_ops")
        return getattr(module, "global_generator", None)

    def seed(self, seed: int) -> None:
        import tensorflow as tf

        tf.random.set_seed(seed)
        generator = self._global_generator()
        if generator is not None:
            # set_seed leaves the global generator alone. Reset in place: the same draws as TF's documented
            # tf.random.set_global_generator(tf.random.Generator.from_seed(seed)) (with the generator's algorithm),
            # and tf.functions that captured the generator see the reset too, which a new object would escape.
            generator.reset_from_seed(seed)

    def get_state(self) -> Any:
        generator = self._global_generator()
        if generator is None:
            raise StateUnavailable(_TF_KERNELS)
        # A copy: the array .numpy() returns can share memory with the variable, which the next draw changes.
        return generator, generator.state.numpy().copy()

    def set_state(self, state: Any) -> None:
        generator, value = state
        module = sys.modules.get("tensorflow.python.ops.stateful_random_ops")
        if module is not None:
            # The object too: a cell may have replaced it with tf.random.set_global_generator.
            module.global_generator = generator  # type: ignore[attr-defined]
        generator.reset(value)

    def unsaved(self) -> str | None:
        return f"{_TF_KERNELS} (its global tf.random.Generator is saved)"

    def shown_streams(self) -> dict[str, str]:
        from tensorflow.python.eager import context

        ctx = context.context()
        seed, rng = getattr(ctx, "_seed", None), getattr(ctx, "_rng", None)
        # The op-seed sequence moves with every random op that has no seed of its own.
        state = None if rng is None else repr(seed).encode() + _random_state_bytes(rng.getstate())
        result = {"global seed": "unset" if state is None else fingerprint(state)}
        generator = self._global_generator()
        if generator is not None:
            result["global generator"] = fingerprint(_array_bytes(generator.state.numpy()))
        return result

    def shown_flags(self) -> list[Flag]:
        enabled = self.save_flags()
        return [
            Flag(
                "tf op determinism",
                enabled,
                enabled,
                "ops run deterministically or raise" if enabled else "some GPU ops are nondeterministic",
            )
        ]

    def save_flags(self) -> Any:
        from tensorflow.python.framework import config

        return bool(config.is_op_determinism_enabled())

    def set_deterministic(self, warn_only: bool) -> None:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    def restore_flags(self, state: Any) -> None:
        from tensorflow.python.framework import config

        if state:
            config.enable_op_determinism()
            return
        # TensorFlow has no public call to switch determinism off again; this is its own internal one.
        disable = getattr(config, "disable_op_determinism", None)
        if disable is None:
            raise RuntimeError(f"TensorFlow {self.version()} has no call that switches op determinism off again")
        disable()


class Keras(Source):
    """Keras 3's own seed state, the part of ``keras.utils.set_random_seed`` that is not random/NumPy/TF/torch.

    ``set_random_seed(N)`` records N as Keras' global seed and drops the global ``SeedGenerator`` that unseeded
    ``keras.random`` calls draw from; Keras then makes a new one from Python's ``random`` (as it makes layers' initial
    weights), which the ``random`` unit seeds. The other libraries it seeds have units of their own.

    Keras 2 (with TensorFlow <= 2.15) is listed but not seeded: only Keras 3's state is known here.
    """

    name = "keras"
    module = "keras"
    distributions = ("keras",)

    def _is_keras2(self) -> bool:
        major = (self.version() or "3").split(".")[0]
        return major.isdigit() and int(major) < 3

    @property
    def seedable(self) -> bool:  # type: ignore[override]  # a class attribute in other units
        return not self._is_keras2()

    @property
    def note(self) -> str:  # type: ignore[override]  # a class attribute in other units
        if self._is_keras2():
            return "Keras 2: its own seed generator is not seeded (random, NumPy and TensorFlow are)"
        return ""

    @staticmethod
    def _modules() -> tuple[Any, Any, Any]:
        # Keras 3 imports these with `import keras`; reading them from sys.modules imports nothing.
        names = (
            "keras.src.backend.common.global_state",
            "keras.src.random.seed_generator",
            "keras.src.utils.rng_utils",
        )
        modules = tuple(sys.modules.get(name) for name in names)
        if None in modules:
            raise RuntimeError(f"Keras {Keras().version()} is not Keras 3: seedmagic seeds Keras 3's global seed")
        return modules  # type: ignore[return-value]

    def seed(self, seed: int) -> None:
        global_state, seed_generator, rng_utils = self._modules()
        # Exactly what keras.utils.set_random_seed does to Keras' own state.
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)

    def _generator_state(self, generator: Any) -> Any:
        import numpy
        from keras.src import backend

        return numpy.array(backend.convert_to_numpy(generator.state.value), copy=True)

    def get_state(self) -> Any:
        if self._is_keras2():
            raise StateUnavailable("Keras 2's own seed generator is not saved")
        global_state, seed_generator, rng_utils = self._modules()
        seed = global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)
        generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
        return seed, generator, None if generator is None else self._generator_state(generator)

    def set_state(self, state: Any) -> None:
        global_state, seed_generator, rng_utils = self._modules()
        seed, generator, value = state
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)
        if generator is not None:
            generator.state.assign(value)

    def shown_streams(self) -> dict[str, str]:
        if self._is_keras2():
            return {}
        seed, _, value = self.get_state()
        # Until the first unseeded keras.random call, there is no global SeedGenerator.
        state = b"none" if value is None else _array_bytes(value)
        return {"keras.random": fingerprint(repr(seed).encode() + b"\0" + state)}


class JAX(Source):
    """JAX has no global generator: every random function takes a key. Listed in the status, never seeded."""

    name = "jax"
    module = "jax"
    distributions = ("jax",)
    seedable = False
    note = "no global generator: pass keys, e.g. seedmagic.jax_key(), which is jax.random.key(the seed in force)"

    def seed(self, seed: int) -> None:
        """Nothing to seed (the engine does not call this)."""

    def get_state(self) -> Any:
        return None  # no global random state: nothing to save

    def set_state(self, state: Any) -> None:
        pass


class CuPy(Source):
    """CuPy's global generator per GPU, seeded as ``cupy.random.seed`` does, without starting a GPU.

    ``cupy.random.seed`` creates the current device's generator, and so starts the GPU. This unit reseeds the
    generators that exist (every device that has drawn), and sets ``CUPY_SEED``, from which CuPy seeds the generator
    of each device when it first draws: the same numbers as ``cupy.random.seed(N)``. cuRAND keeps the generators'
    state where it cannot be read.
    """

    name = "cupy"
    module = "cupy"
    distributions = ("cupy", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy-rocm-6-0", "cupy-rocm-5-0")
    note = "cuRAND state cannot be read; devices that start later are seeded through CUPY_SEED"

    @staticmethod
    def _generators() -> Any:
        """CuPy's module that holds the global generators (``cupy.random.generator`` before CuPy 8), or None."""
        return sys.modules.get("cupy.random._generator") or sys.modules.get("cupy.random.generator")

    def _started(self) -> dict[int, Any]:
        """The generators that exist, by device id; reading them starts nothing."""
        return dict(getattr(self._generators(), "_random_states", None) or {})

    def seed(self, seed: int) -> None:
        os.environ["CUPY_SEED"] = str(seed)
        started = self._started()
        if started:
            import cupy

            for device, generator in started.items():
                with cupy.cuda.Device(device):
                    generator.seed(seed)

    def get_state(self) -> Any:
        if self._generators() is None:
            # `cupy` is in sys.modules from the moment its import starts: its state is not there yet.
            raise StateUnavailable("CuPy is not fully imported")
        return os.environ.get("CUPY_SEED")

    def set_state(self, state: Any) -> None:
        set_environ("CUPY_SEED", state)

    def unsaved(self) -> str | None:
        if self._started():
            return "cuRAND keeps the state of CuPy's generators inside the GPU library, where it cannot be saved"
        return None

    def device_started(self) -> bool:
        return bool(self._started())


SOURCES: tuple[Source, ...] = (PythonRandom(), NumPy(), Torch(), TensorFlow(), Keras(), JAX(), CuPy())
NAMES: tuple[str, ...] = tuple(source.name for source in SOURCES)
