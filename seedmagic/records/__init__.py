"""The record of what a session's random numbers depend on, kept in the notebook beside its outputs, and what differs
between two records.

A record is a plain JSON object (``Record``, schema ``SCHEMA_VERSION``): the session's seed, mode and selection, auto
mode's seed for each cell, the determinism flags and the environment variables that matter, each imported library's
version, build and thread count, and the machine (its CPU; its GPUs only where CUDA has started: reading them would
start it). It is read from ``sys.modules`` only: nothing here imports a framework, or IPython. ``changes`` says, one
line each, how two records differ and which libraries each difference can change the results of.

The package, one module per part: ``schema`` (``Record``, ``MIME_TYPE``, ``RecordError``, ``read``, the version),
``gather`` (``build``: the record of a running session), ``text`` (``summary``, ``bundle``), ``differences``
(``Change``, ``changes``, ``cell_seed_change``) and ``shown`` (``live``: the record a notebook shows).
"""

from __future__ import annotations

from .differences import Change, cell_seed_change, changes
from .gather import build
from .schema import (
    JSON,
    MIME_TYPE,
    SCHEMA,
    SCHEMA_VERSION,
    THREAD_VARIABLES,
    CellRecord,
    GpuRecord,
    LibraryRecord,
    MachineRecord,
    Record,
    RecordError,
    SessionRecord,
    read,
    record_key,
    source_key,
)
from .shown import LiveRecord, Publish, live, stop_live
from .text import bundle, summary

__all__ = [
    "JSON",
    "MIME_TYPE",
    "SCHEMA",
    "SCHEMA_VERSION",
    "THREAD_VARIABLES",
    "CellRecord",
    "Change",
    "GpuRecord",
    "LibraryRecord",
    "LiveRecord",
    "MachineRecord",
    "Publish",
    "Record",
    "RecordError",
    "SessionRecord",
    "build",
    "bundle",
    "cell_seed_change",
    "changes",
    "live",
    "read",
    "record_key",
    "source_key",
    "stop_live",
    "summary",
]
