"""Gathering the record of a running session: its seed and mode, auto mode's cells, the flags, each imported library's
version, build and threads, and the machine.

It is read from ``sys.modules`` only: nothing here imports a framework, or IPython, or starts a device (the GPUs are
read only where CUDA has started).
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import one_line
from .schema import (
    JSON,
    SCHEMA,
    SCHEMA_VERSION,
    THREAD_VARIABLES,
    GpuRecord,
    LibraryRecord,
    MachineRecord,
    Record,
    record_key,
)

if TYPE_CHECKING:
    from ..engine import Engine


def build(engine: Engine) -> Record:
    """The record of ``engine``'s session now. Reads only; imports nothing and starts no device."""
    from .. import __version__

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
