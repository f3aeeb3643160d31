"""The record's schema: its JSON shape (``Record`` and its parts), version and mime type, the keys it gives cells, and
reading a saved one (``read``)."""

from __future__ import annotations

import json
from typing import TypedDict

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


def record_key(key: str) -> str:
    """The key a record stores for auto mode's key: a cell id as it is, a cell's source as a short digest."""
    if key.startswith("source:"):
        return source_key(key[len("source:") :])
    return key


def source_key(source: str) -> str:
    """The record's key for a cell known by its source (auto mode's ``source:`` key)."""
    from hashlib import blake2b

    return "source-blake2b:" + blake2b(source.strip().encode(), digest_size=8).hexdigest()


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
