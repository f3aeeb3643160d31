"""The record of what a session's random numbers depend on, kept in the notebook beside its outputs, and what differs
between two records.

A record is a plain JSON object (``Record``, schema ``SCHEMA_VERSION``): the session's seed, mode and selection, auto
mode's seed for each cell, the determinism flags and the environment variables that matter, each imported library's
version, build and thread count, and the machine (its CPU; its GPUs only where CUDA has started: reading them would
start it). It is read from ``sys.modules`` only: nothing here imports a framework, or IPython. ``changes`` says, one
line each, how two records differ and which libraries each difference can change the results of.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import one_line, warn

if TYPE_CHECKING:
    from .engine import Engine

SCHEMA = "seedmagic.record"
SCHEMA_VERSION = 1
"""The record's schema version: a new version is one a reader of this one cannot read."""
MIME_TYPE = "application/vnd.seedmagic.record+json"
"""The output's mime type that holds the record, beside a short ``text/plain``."""
#: The variables that set how many threads the usual numeric libraries start.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: Libraries whose numbers depend on the CPU's float kernels and BLAS.
_NUMERIC = ("numpy", "torch", "tensorflow", "jax", "cupy")
_GPU_LIBRARIES = ("torch",)

JSON = str | int | float | bool | None


class SessionRecord(TypedDict):
    """``%seed``'s session: ``seed`` (None where unset), ``mode`` (``none``, ``manual``, ``auto``), ``per_rank``
    (``{"given": N, "rank": R}`` with ``--per-rank``, else None), the libraries it seeds, ``--reach`` and the
    deterministic switch."""

    seed: int | None
    mode: str
    per_rank: dict[str, int | None] | None
    selection: list[str]
    reach: bool
    deterministic: bool
    warn_only: bool


class CellRecord(TypedDict):
    """A cell auto mode seeded: its key (``cell-id:ID``, or ``source-blake2b:HEX`` for a cell known by its source, a
    digest of the stripped source) and the seed it got."""

    key: str
    seed: int


class LibraryRecord(TypedDict):
    """An imported library: its version, its build (torch: ``cuda``, ``cudnn``, ``hip``, ``cpu_capability``;
    NumPy: ``blas``, ``blas_kernel``, ``simd``), and the threads it computes with (None: not known)."""

    version: str | None
    build: dict[str, JSON]
    threads: int | None


class GpuRecord(TypedDict):
    name: str
    capability: str


class MachineRecord(TypedDict):
    """The machine: OS, architecture, CPU model, cores, and torch's GPUs (None: CUDA not started, so not read)."""

    system: str
    arch: str
    cpu: str | None
    cores: int | None
    gpus: list[GpuRecord] | None


class Record(TypedDict):
    """What a session's random numbers depend on, as saved in a notebook (``%seed --record``) and returned by
    ``seedmagic.record()``: a JSON object, schema ``seedmagic.record`` version 1."""

    schema: str
    version: int
    seedmagic: str
    python: str
    session: SessionRecord
    cells: list[CellRecord]
    flags: dict[str, JSON]
    environment: dict[str, str | None]
    libraries: dict[str, LibraryRecord]
    machine: MachineRecord


class RecordError(ValueError):
    """A record that cannot be read: its one-line reason."""


# -- reading a session ---------------------------------------------------------------------------------------------


def record_key(key: str) -> str:
    """The key a record stores for auto mode's key: a cell id as it is, a cell's source as a short digest."""
    if key.startswith("source:"):
        return source_key(key[len("source:") :])
    return key


def source_key(source: str) -> str:
    """The record's key for a cell known by its source (auto mode's ``source:`` key)."""
    from hashlib import blake2b

    return "source-blake2b:" + blake2b(source.strip().encode(), digest_size=8).hexdigest()


def build(engine: Engine) -> Record:
    """The record of ``engine``'s session now. Reads only; imports nothing and starts no device."""
    from . import __version__

    session = engine.session
    per_rank = None
    if session.per_rank is not None:
        rank = session.per_rank.rank
        per_rank = {"given": session.per_rank.given, "rank": None if rank is None else rank.rank}
    flags: dict[str, JSON] = {flag.name: _json(flag.value) for flag in engine.shown_flags()}
    imported = tuple((source.name, source.module) for source in engine.sources if source.imported())
    libraries: dict[str, LibraryRecord] = {}
    for name, library in _libraries(imported, _modules_key()):  # copied: the record is the caller's to change
        libraries[name] = {"version": library["version"], "build": dict(library["build"]), "threads": _threads(name)}
    machine = _machine(_cuda_started())
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "seedmagic": __version__,
        "python": platform.python_version(),
        "session": {
            "seed": session.seed,
            "mode": session.mode,
            "per_rank": per_rank,
            "selection": sorted(session.selection),
            "reach": bool(engine.census.reaching),
            "deterministic": bool(engine.determinism.enabled),
            "warn_only": bool(engine.determinism.warn_only),
        },
        "cells": [{"key": record_key(key), "seed": seed} for key, seed in engine.auto_cells().items()],
        "flags": flags,
        "environment": {var: os.environ.get(var) for var in THREAD_VARIABLES},
        "libraries": libraries,
        "machine": _copied(machine),
    }


def _copied(machine: MachineRecord) -> MachineRecord:
    gpus = machine["gpus"]
    shown: list[GpuRecord] | None = (
        None if gpus is None else [{"name": gpu["name"], "capability": gpu["capability"]} for gpu in gpus]
    )
    return {**machine, "gpus": shown}


def _json(value: Any) -> JSON:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _modules_key() -> tuple[int, ...]:
    modules = sys.modules
    return tuple(id(modules.get(name)) for name in ("torch", "numpy", "tensorflow", "keras", "jax", "cupy"))


def _cuda_started() -> bool:
    torch = sys.modules.get("torch")
    try:
        return torch is not None and bool(torch.cuda.is_initialized())
    except Exception:
        return False


@functools.lru_cache(maxsize=8)
def _libraries(imported: tuple[tuple[str, str], ...], key: tuple[int, ...]) -> tuple[tuple[str, LibraryRecord], ...]:
    """Each imported library's version and build, kept while the same modules are imported (``key``)."""
    found = []
    for name, module in imported:
        library = sys.modules.get(module)
        reader = _BUILDS.get(name)
        try:
            build_info = reader(library) if reader is not None and library is not None else {}
        except Exception as exc:  # an odd build: said, never raised
            build_info = {"unreadable": one_line(exc)}
        version = platform.python_version() if name == "random" else getattr(library, "__version__", None)
        shown: LibraryRecord = {
            "version": version if isinstance(version, str) else None,
            "build": build_info,
            "threads": None,
        }
        found.append((name, shown))
    return tuple(found)


def _torch_build(torch: Any) -> dict[str, JSON]:
    cudnn = None
    if torch.version.cuda:
        cudnn = _cudnn_version(torch.backends.cudnn.version())  # the library's version: starts no GPU
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return {
        "cuda": torch.version.cuda,
        "cudnn": cudnn,
        "hip": getattr(torch.version, "hip", None),
        "cpu_capability": capability() if capability is not None else None,
    }


def _cudnn_version(number: int | None) -> str | None:
    """cuDNN's version number as its release: 90100 is 9.1.0 (cuDNN 9 and later), 8902 is 8.9.2."""
    if number is None:
        return None
    major, rest = (number // 10000, number % 10000) if number >= 90000 else (number // 1000, number % 1000)
    return f"{major}.{rest // 100}.{rest % 100}"


def _numpy_build(numpy: Any) -> dict[str, JSON]:
    found: dict[str, JSON] = {"blas": None, "blas_kernel": None, "simd": None}
    try:
        config = numpy.show_config(mode="dicts")
    except Exception:  # NumPy < 1.25 prints it only
        config = None
    if isinstance(config, Mapping):
        blas = config.get("Build Dependencies", {}).get("blas", {})
        if blas.get("name"):
            found["blas"] = f"{blas['name']} {blas.get('version', '')}".strip()
        simd = config.get("SIMD Extensions", {}).get("found")
        if simd:
            found["simd"] = " ".join(simd)
    for pool in _thread_pools():
        if pool.get("user_api") == "blas" and pool.get("architecture"):
            found["blas_kernel"] = str(pool["architecture"])
            break
    return found


def _tensorflow_build(tf: Any) -> dict[str, JSON]:
    info = tf.sysconfig.get_build_info()
    return {"cuda": info.get("cuda_version"), "cudnn": info.get("cudnn_version")}


_BUILDS: dict[str, Callable[[Any], dict[str, JSON]]] = {
    "torch": _torch_build,
    "numpy": _numpy_build,
    "tensorflow": _tensorflow_build,
}


def _thread_pools() -> list[dict[str, Any]]:
    """threadpoolctl's view of the BLAS and OpenMP libraries loaded (where it is installed; it loads none)."""
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped]
    except ImportError:
        return []
    try:
        return list(threadpool_info())
    except Exception:
        return []


def _threads(name: str) -> int | None:
    if name == "torch":
        try:
            return int(sys.modules["torch"].get_num_threads())
        except Exception:
            return None
    if name == "numpy":
        # BLAS threads, as threadpoolctl reads them: kept with the build (3 ms), read anew when a library is imported.
        return _blas_threads(_modules_key())
    return None


@functools.lru_cache(maxsize=8)
def _blas_threads(key: tuple[int, ...]) -> int | None:
    for pool in _thread_pools():
        if pool.get("user_api") == "blas" and isinstance(pool.get("num_threads"), int):
            return int(pool["num_threads"])
    return None


@functools.lru_cache(maxsize=2)
def _machine(cuda: bool) -> MachineRecord:
    gpus: list[GpuRecord] | None = None
    if cuda:
        torch = sys.modules["torch"]
        try:
            gpus = []
            for index in range(torch.cuda.device_count()):
                major, minor = torch.cuda.get_device_capability(index)
                gpus.append({"name": str(torch.cuda.get_device_name(index)), "capability": f"{major}.{minor}"})
        except Exception:
            gpus = None
    return {
        "system": platform.system(),
        "arch": platform.machine(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpus": gpus,
    }


@functools.cache
def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("model name", "Model", "cpu model")):
                    return " ".join(line.split(":", 1)[1].split()) or None
    except OSError:
        pass
    return platform.processor() or None


# -- its text form ---------------------------------------------------------------------------------------------------


def summary(record: Record) -> str:
    """The record in a few short lines: what a notebook shows of it."""
    session = record["session"]
    if session["seed"] is None:
        head = "no session seed"
    else:
        head = f"seed {session['seed']}, {session['mode']} mode"
        if session["mode"] == "auto":
            head += f" ({_plural(len(record['cells']), 'cell')} seeded)"
    libraries = record["libraries"]
    shown = []
    for name, library in libraries.items():
        if name == "random":
            continue
        details = [str(value) for key, value in library["build"].items() if key in ("blas", "blas_kernel") and value]
        if name == "torch":
            cuda = library["build"].get("cuda")
            details.insert(0, f"CUDA {cuda}" if cuda else "CPU build")
        if library["threads"] is not None:
            details.append(_plural(library["threads"], "thread"))
        shown.append(f"{name} {library['version']}" + (f" ({', '.join(details)})" if details else ""))
    shown.append(f"Python {record['python']}")
    flags = record["flags"]
    deterministic = "on" if session["deterministic"] else "off"
    variables = [f"{name} {flags[name]}" for name in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED") if name in flags]
    machine = record["machine"]
    gpus = machine["gpus"]
    gpu = "CUDA not started" if gpus is None else "no GPU" if not gpus else _gpus(gpus)
    cpu = ", ".join(str(part) for part in (machine["arch"], machine["cpu"]) if part)
    return "\n".join(
        [
            f"seedmagic record (schema {record['version']}): {head}",
            "  " + ", ".join(shown),
            "  " + "; ".join([f"deterministic mode {deterministic}", *variables]),
            f"  {cpu}, {_plural(machine['cores'] or 0, 'core')}; {gpu}",
        ]
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _gpus(gpus: list[GpuRecord]) -> str:
    first = gpus[0]
    many = f"{len(gpus)} x " if len(gpus) > 1 else ""
    return f"{many}{first['name']} (compute capability {first['capability']})"


def bundle(record: Record) -> dict[str, Any]:
    """The output's mime bundle: the record beside its text form."""
    return {"text/plain": summary(record), MIME_TYPE: record}


# -- reading a saved one ---------------------------------------------------------------------------------------------


def read(data: object) -> Record:
    """The record in ``data`` (an output's value for ``MIME_TYPE``), checked; RecordError with one line where it is
    not one this seedmagic can read."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise RecordError("not JSON") from None
    if not isinstance(data, dict):
        raise RecordError(f"a {type(data).__name__}, not a JSON object")
    if data.get("schema") != SCHEMA:
        raise RecordError(f"its schema is {_what(data.get('schema'))}, not {SCHEMA!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(f"its version is {_what(version)}, not a number")
    if version > SCHEMA_VERSION:
        raise RecordError(f"written by a newer seedmagic: record schema {version}, this one reads {SCHEMA_VERSION}")
    if version < 1:
        raise RecordError(f"its version is {version}: no seedmagic wrote it")
    for field, kind in _FIELDS.items():
        if not isinstance(data.get(field), kind):
            raise RecordError(f"{field!r} is {_what(data.get(field))}, not {_KINDS[kind]}")
    session = data["session"]
    if not (session.get("seed") is None or _integer(session.get("seed"))):
        raise RecordError(f"session.seed is {_what(session.get('seed'))}, not an integer")
    if not isinstance(session.get("mode"), str) or not isinstance(session.get("selection"), list):
        raise RecordError("session has no mode or selection")
    for cell in data["cells"]:
        if not (isinstance(cell, dict) and isinstance(cell.get("key"), str) and _integer(cell.get("seed"))):
            raise RecordError(f"a cell is {_what(cell)}, not a key and a seed")
    for name, library in data["libraries"].items():
        if not (isinstance(library, dict) and isinstance(library.get("build"), dict)):
            raise RecordError(f"libraries.{name} is {_what(library)}, not a version and a build")
    machine = data["machine"]
    if not (machine.get("gpus") is None or isinstance(machine.get("gpus"), list)):
        raise RecordError(f"machine.gpus is {_what(machine.get('gpus'))}, not a list")
    record: Record = data  # type: ignore[assignment]  # checked above, field by field
    return record


_FIELDS: dict[str, type] = {
    "seedmagic": str,
    "python": str,
    "session": dict,
    "cells": list,
    "flags": dict,
    "environment": dict,
    "libraries": dict,
    "machine": dict,
}
_KINDS: dict[type, str] = {str: "a string", dict: "an object", list: "a list"}


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _what(value: object) -> str:
    if value is None:
        return "missing"
    text = json.dumps(value, default=str)
    return text if len(text) <= 30 else f"a {type(value).__name__}"


# -- what differs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One way two records differ that can change a notebook's results: what it is (``kind``), one line saying it,
    and the libraries whose results it can change (empty: every cell's; ``hash``: Python's str hashes)."""

    kind: str
    text: str
    libraries: tuple[str, ...] = ()

    def concerns(self, libraries: Iterable[str]) -> bool:
        """Whether this change can explain a cell that uses ``libraries``."""
        return not self.libraries or bool(set(self.libraries) & set(libraries))


_RELEASES = {
    "torch": "torch does not promise the same random numbers across releases",
    "numpy": "NumPy promises only its legacy np.random.seed stream across releases",
    "tensorflow": "TensorFlow does not promise the same random numbers across releases",
}
_BUILD_WORDS = {
    "cuda": "CUDA",
    "cudnn": "cuDNN",
    "hip": "ROCm",
    "cpu_capability": "CPU kernels",
    "blas": "BLAS",
    "blas_kernel": "BLAS kernels",
    "simd": "SIMD extensions",
}


def changes(saved: Record, now: Record) -> tuple[Change, ...]:
    """How the run's record (``now``) differs from the saved one, each difference once, in the order: session,
    versions, builds, GPU, CPU, threads, flags, environment."""
    found: list[Change] = []
    before, after = saved["session"], now["session"]
    if before["seed"] != after["seed"]:
        found.append(Change("session", f"the session seed was {before['seed']} when saved, {after['seed']} now"))
    if before["mode"] != after["mode"]:
        found.append(Change("session", f"{before['mode']} mode when saved, {after['mode']} now"))
    if sorted(before["selection"]) != sorted(after["selection"]):
        found.append(
            Change(
                "session", f"%seed seeded {_names(before['selection'])} when saved, {_names(after['selection'])} now"
            )
        )
    for switch, words in (("reach", "--reach"), ("deterministic", "deterministic mode")):
        if bool(before.get(switch)) != bool(after.get(switch)):
            found.append(
                Change("session", f"{words} {_on(before.get(switch))} when saved, {_on(after.get(switch))} now")
            )
    if saved["python"] != now["python"]:
        found.append(
            Change(
                "version",
                f"Python {saved['python']} then {now['python']}: random promises only random()'s sequence across "
                "versions",
                ("random",),
            )
        )
    if saved["seedmagic"] != now["seedmagic"]:
        found.append(Change("version", f"seedmagic {saved['seedmagic']} then {now['seedmagic']}", ("seedmagic",)))
    libraries_before, libraries_now = saved["libraries"], now["libraries"]
    common = [name for name in libraries_before if name in libraries_now and name != "random"]
    for name in common:
        old, new = libraries_before[name].get("version"), libraries_now[name].get("version")
        if old != new:
            why = _RELEASES.get(name, f"{name} may draw other random numbers in another release")
            found.append(Change("version", f"{name} {old} then {new}: {why}", (name,)))
    machine = _machine_changes(saved, now)
    cpu_changed = any(change.kind == "cpu" for change in machine)
    for name in common:
        old_build, new_build = libraries_before[name]["build"], libraries_now[name]["build"]
        for key in sorted(set(old_build) | set(new_build), key=_build_order):
            if key in _FOLLOW_THE_CPU and cpu_changed:
                continue  # what the build chose for the CPU: the CPU's change says it
            if key == "cudnn" and old_build.get("cuda") != new_build.get("cuda"):
                continue  # another CUDA build: its cuDNN goes with it
            if key in _BUILD_WORDS and old_build.get(key) != new_build.get(key):
                old_value, new_value = old_build.get(key) or "none", new_build.get(key) or "none"
                found.append(
                    Change("build", f"{name}'s {_BUILD_WORDS[key]}: {old_value} when saved, {new_value} now", (name,))
                )
    found.extend(machine)
    threads_changed = False
    for name in common:
        old_threads, new_threads = libraries_before[name].get("threads"), libraries_now[name].get("threads")
        if old_threads is not None and new_threads is not None and old_threads != new_threads:
            threads_changed = True
            found.append(
                Change(
                    "threads",
                    f"{name} used {_plural(old_threads, 'thread')} when saved, {new_threads} now: a sum split over "
                    "other threads can round differently",
                    (name,),
                )
            )
    flags_before, flags_now = saved["flags"], now["flags"]
    on_gpus = bool(saved["machine"].get("gpus")) and bool(now["machine"].get("gpus"))
    for name in flags_before:
        if name not in flags_now or flags_before[name] == flags_now[name]:
            continue
        if _gpu_only(name) and not on_gpus:
            continue  # it matters only where both runs computed on a GPU: the GPU's change says the rest
        old_flag, new_flag = flags_before[name], flags_now[name]
        if name.isupper():  # an environment variable
            text = f"{name} was {old_flag}, now {new_flag}"
        else:
            text = f"{name} was {old_flag} when saved, {new_flag} now"
        found.append(Change("flag", text, _flag_libraries(name)))
    if not threads_changed:
        env_before, env_now = saved["environment"], now["environment"]
        for var in sorted(set(env_before) | set(env_now)):
            if env_before.get(var) != env_now.get(var):
                old_var, new_var = env_before.get(var) or "unset", env_now.get(var) or "unset"
                found.append(Change("environment", f"{var} was {old_var}, now {new_var}", _NUMERIC))
    return tuple(found)


_FOLLOW_THE_CPU = ("cpu_capability", "blas_kernel", "simd")


def _build_order(key: str) -> int:
    words = list(_BUILD_WORDS)
    return words.index(key) if key in words else len(words)


def _gpu_only(flag: str) -> bool:
    """A setting that changes only what a GPU computes (cuDNN, cuBLAS, TF32 matmuls)."""
    return "cudnn" in flag or ".cuda." in flag or flag == "CUBLAS_WORKSPACE_CONFIG"


def _machine_changes(saved: Record, now: Record) -> list[Change]:
    found = []
    before, after = saved["machine"], now["machine"]
    gpus_before, gpus_now = before.get("gpus") or [], after.get("gpus") or []
    if [dict(gpu) for gpu in gpus_before] != [dict(gpu) for gpu in gpus_now]:
        old = _article(_gpus(gpus_before)) + _tf32(saved) if gpus_before else "a CPU"
        new = _article(_gpus(gpus_now)) + _tf32(now) if gpus_now else "a CPU"
        found.append(Change("gpu", f"saved on {old}, run on {new}", _GPU_LIBRARIES))
    same_arch = before.get("arch") == after.get("arch")
    cpu_before, cpu_now = _cpu(before, not same_arch), _cpu(after, not same_arch)
    if cpu_before != cpu_now:
        found.append(
            Change(
                "cpu",
                f"saved on {cpu_before}, run on {cpu_now}: float kernels chosen for a CPU can round differently",
                _NUMERIC,
            )
        )
    return found


def _cpu(machine: MachineRecord, arch: bool) -> str:
    name = machine.get("cpu") or "an unknown CPU"
    shown = _article(name) if machine.get("cpu") else name
    return f"{shown} ({machine.get('arch')})" if arch else shown


def _tf32(record: Record) -> str:
    """`` with TF32 allowed`` where the record's GPU computes float32 in TF32 (compute capability 8.0 and newer)."""
    gpus = record["machine"].get("gpus") or []
    try:
        ampere = bool(gpus) and float(gpus[0]["capability"]) >= 8.0
    except (TypeError, ValueError, KeyError):
        ampere = False
    flags = record["flags"]
    allowed = any(
        value is True or (isinstance(value, str) and "tf32" in value)
        for name, value in flags.items()
        if name.endswith("allow_tf32")
    )
    return " with TF32 allowed" if ampere and allowed else ""


def _article(name: str) -> str:
    first = name.split()[0] if name.split() else ""
    vowel = first[:1] in tuple("AEIOUaeiou") or (first.isupper() and first[:1] in tuple("AEFHILMNORSX"))
    return f"{'an' if vowel else 'a'} {name}"


def _flag_libraries(name: str) -> tuple[str, ...]:
    if name.startswith("torch") or name == "CUBLAS_WORKSPACE_CONFIG":
        return ("torch",)
    if name.startswith("tf"):
        return ("tensorflow",)
    if name == "PYTHONHASHSEED":
        return ("hash",)
    return ()


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "nothing"


def _on(value: object) -> str:
    return "on" if value else "off"


def cell_seed_change(saved: Record, now: Record, key: str) -> Change | None:
    """Where auto mode gave the cell known by ``key`` (a record key) another seed in the run than when saved."""
    before = {cell["key"]: cell["seed"] for cell in saved["cells"]}
    after = {cell["key"]: cell["seed"] for cell in now["cells"]}
    if key in before and key in after and before[key] != after[key]:
        return Change("cell-seed", f"auto mode seeded this cell with {before[key]} when saved, {after[key]} now")
    if key in before and key not in after and now["session"]["mode"] != "auto":
        return Change("cell-seed", f"auto mode seeded this cell with {before[key]} when saved, not now")
    if key in after and key not in before and saved["session"]["mode"] == "auto" and saved["cells"]:
        return Change(
            "cell-seed", f"auto mode seeded this cell with {after[key]} now; the saved record has no seed for it"
        )
    return None


# -- the record a notebook shows -------------------------------------------------------------------------------------

#: ``publish(bundle, display_id, update)``: show the bundle as a new output, or update the outputs shown with that id.
Publish = Callable[[dict[str, Any], str, bool], None]


class LiveRecord:
    """The record ``%seed --record`` shows, published again after any cell that changed it (an import, a cell auto
    mode seeded, a flag), under one display id for the whole kernel: every record output of the notebook shows the
    last state, which is what the saved file holds. Knows no IPython: the magic gives it ``publish``."""

    def __init__(self, engine: Engine, publish: Publish) -> None:
        self.engine = engine
        self.publish = publish
        self.display_id = f"seedmagic-record-{os.urandom(8).hex()}"
        self.shown: Record | None = None
        self._warned = False

    def show(self) -> Record:
        record = build(self.engine)
        self.publish(bundle(record), self.display_id, False)
        self.shown = record
        return record

    def after_cell(self, result: object = None) -> None:
        """IPython's post_run_cell: update the shown record where it changed. Never breaks the user's cell."""
        if self.shown is None:
            return
        try:
            record = build(self.engine)
            if record != self.shown:
                self.publish(bundle(record), self.display_id, True)
                self.shown = record
        except Exception as exc:
            if not self._warned:
                self._warned = True
                warn(f"seedmagic could not update the record: {one_line(exc)}")


_live: LiveRecord | None = None


def live(engine: Engine, publish: Publish) -> tuple[LiveRecord, bool]:
    """The kernel's one live record, and whether it was made now (its ``after_cell`` is then to be registered)."""
    global _live
    if _live is not None and _live.engine is engine:
        _live.publish = publish
        return _live, False
    _live = LiveRecord(engine, publish)
    return _live, True


def stop_live(events: Any) -> None:
    """Stop updating the live record (``%unload_ext``): ``events`` is the shell's ``EventManager``."""
    global _live
    if _live is not None:
        if _live.after_cell in events.callbacks.get("post_run_cell", []):
            events.unregister("post_run_cell", _live.after_cell)
        _live = None
