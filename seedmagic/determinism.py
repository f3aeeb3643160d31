"""The deterministic switch: turn every library's deterministic algorithms on, and put back exactly what was there.

Switching on remembers, per library, the settings from before; a library imported later is switched on at import.
Switching off restores those settings and the environment variables the switch set. Environment variables such as
``CUBLAS_WORKSPACE_CONFIG`` are read once, when the device starts: set after that, they cannot take effect in this
process, and the switch says so.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from .errors import one_line, warn, warn_failures
from .sources import Flag, Source, set_environ


class DeterminismState(NamedTuple):
    """What ``DeterminismSwitch.save`` reads and ``load`` puts back: every flag and variable the switch governs, and
    the switch's own records."""

    #: Each imported library's settings, as its ``save_flags`` reads them.
    flags: dict[str, Any]
    #: The variables the switch may set (``CUBLAS_WORKSPACE_CONFIG``), None where unset.
    environ: dict[str, str | None]
    enabled: bool
    warn_only: bool
    #: What the switch will put back when turned off: the settings and variables from before it.
    saved_flags: dict[str, Any]
    saved_env: dict[str, str | None]
    #: Variables set after the device started (too late to be sure they take effect).
    late_env: frozenset[str]


class DeterminismSwitch:
    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = sources
        self.enabled = False
        self.warn_only = False
        self._saved_flags: dict[str, Any] = {}
        self._saved_env: dict[str, str | None] = {}
        self._late_env: set[str] = set()

    def save(self) -> DeterminismState:
        """Every flag and variable the switch governs, as they are now, and the switch's own records.

        A library whose flags cannot be read is left out (and so cannot be put back); the others are saved."""
        flags = {}
        for source in self.sources:
            if source.has_flags and source.imported():
                try:
                    flags[source.name] = source.save_flags()
                except Exception:  # that library's flags stay as they will be; the rest is saved
                    continue
        return DeterminismState(
            flags=flags,
            environ={var: os.environ.get(var) for source in self.sources for var in source.deterministic_env},
            enabled=self.enabled,
            warn_only=self.warn_only,
            saved_flags=dict(self._saved_flags),
            saved_env=dict(self._saved_env),
            late_env=frozenset(self._late_env),
        )

    def load(self, saved: DeterminismState) -> None:
        """Put back what ``save`` read; a library whose flags cannot be set does not stop the others."""
        failed = {}
        for source in self.sources:
            if source.name in saved.flags and source.imported():
                try:
                    source.restore_flags(saved.flags[source.name])
                except Exception as exc:
                    failed[source.name] = one_line(exc)
        for var, value in saved.environ.items():
            set_environ(var, value)
        self.enabled, self.warn_only = saved.enabled, saved.warn_only
        self._saved_flags, self._saved_env = dict(saved.saved_flags), dict(saved.saved_env)
        self._late_env = set(saved.late_env)
        warn_failures("put back the flags of", failed)

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """If switching fails part-way, put every flag, variable and record back as it was before the switch."""
        saved = self.save()
        try:
            yield
        except BaseException:
            self.load(saved)  # never raises: the user sees the error that stopped the switch
            raise

    def enable(self, warn_only: bool = False) -> list[str]:
        """Switch deterministic algorithms on in every imported library (and in the others at import)."""
        with self._all_or_nothing():
            return self._enable(warn_only)

    def _enable(self, warn_only: bool) -> list[str]:
        self.enabled, self.warn_only = True, warn_only
        changed = []
        for source in self.sources:
            for var, value in source.deterministic_env.items():
                if os.environ.get(var):
                    continue
                self._saved_env[var] = os.environ.get(var)
                os.environ[var] = value
                changed.append(f"{var}={value}")
                if source.device_started():
                    self._late_env.add(var)
                    warn(
                        f"{var} was set after {source.name} started its GPU, too late to be sure it takes effect: "
                        f"it is certain only in a new process "
                        f"(restart the kernel and run %seed --deterministic before the first GPU operation)"
                    )
            if source.has_flags and source.imported():
                self.apply(source)
                changed.append(source.name)
        return changed

    def apply(self, source: Source) -> None:
        """Switch one imported library on, remembering its settings from before the first switch."""
        if source.name not in self._saved_flags:
            self._saved_flags[source.name] = source.save_flags()
        source.set_deterministic(self.warn_only)

    def on_import(self, source: Source) -> None:
        if self.enabled and source.has_flags:
            self.apply(source)

    def on_restore(self, source: Source, flags_at_import: Any) -> None:
        """A library first imported after a snapshot that was just put back: give it the flags the restored switch
        would have given it at import (``flags_at_import`` are its own, read right after its import; None if
        unknown)."""
        if not source.has_flags:
            return
        if self.enabled:
            if flags_at_import is not None:
                self._saved_flags[source.name] = flags_at_import
            self.apply(source)
        elif flags_at_import is not None:
            source.restore_flags(flags_at_import)

    def disable(self) -> list[str]:
        """Put back the settings and environment variables from before ``enable``."""
        with self._all_or_nothing():
            return self._disable()

    def _disable(self) -> list[str]:
        restored = []
        for source in self.sources:
            if source.name in self._saved_flags and source.imported():
                source.restore_flags(self._saved_flags[source.name])
                restored.append(source.name)
        for var, previous in self._saved_env.items():
            set_environ(var, previous)
            restored.append(var)
        self._saved_flags.clear()
        self._saved_env.clear()
        self._late_env.clear()
        self.enabled = self.warn_only = False
        return restored

    def shown_flags(self) -> list[Flag]:
        """Every determinism setting as it is now, for the imported libraries and the process."""
        flags: list[Flag] = []
        for source in self.sources:
            if source.imported():
                try:
                    flags.extend(source.shown_flags())
                except Exception as exc:  # one library's unreadable flags hide no other flag
                    flags.append(Flag(f"{source.name} flags", "unreadable", None, one_line(exc)))
            for var, value in source.deterministic_env.items():
                current = os.environ.get(var)
                if current is None and not source.imported():
                    continue
                ok: bool | None
                if var in self._late_env:
                    ok, note = False, "set after the GPU started: certain to take effect only in a new process"
                elif current is None:
                    ok, note = (
                        (False if source.device_started() else None),
                        f"unset: cuBLAS may be nondeterministic (use {value})",
                    )
                else:
                    ok, note = True, "cuBLAS reads it when it starts"
                flags.append(Flag(var, current if current is not None else "unset", ok, note))
        flags.append(hash_seed_flag())
        return flags


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


@functools.cache
def _interpreter_options() -> str:
    """The one-letter options the interpreter was started with (``python -E -R ...``), from ``sys.orig_argv``."""
    letters: list[str] = []
    arguments = iter(getattr(sys, "orig_argv", [])[1:])
    for argument in arguments:
        if argument in ("-", "--") or not argument.startswith("-"):
            break  # the script: what follows is its own
        if argument.startswith("--"):
            if argument == "--check-hash-based-pycs":
                next(arguments, None)
            continue
        for index, letter in enumerate(argument[1:], 1):
            if letter in "cm":
                return "".join(letters)  # -c command, -m module: the rest is theirs
            if letter in "WX":
                if index == len(argument) - 1:
                    next(arguments, None)  # -W arg, -X arg
                break
            letters.append(letter)
    return "".join(letters)


def _hash_seed_number(value: str) -> int | None:
    """The seed a PYTHONHASHSEED value fixes, as Python reads it (strtoul); None for any other value."""
    digits = value.lstrip(" \t\n\v\f\r").removeprefix("+")
    if digits.isascii() and digits.isdigit() and int(digits) <= 0xFFFFFFFF:
        return int(digits)
    return None


def hash_seed_flag() -> Flag:
    """Python's str/bytes hashing: fixed only when the interpreter took a seed from PYTHONHASHSEED as it started.

    The verdict is what the interpreter does: ``sys.flags`` (PYTHONHASHSEED=0 turns randomization off), -E and -I
    (PYTHONHASHSEED is ignored), -R (randomization on, whatever it says), an empty value (unset) and "random".
    """
    value = _startup_hash_seed()
    randomized = "str hashes (and set order) differ between processes"
    if not sys.flags.hash_randomization:
        shown, fixed, note = value or "0", True, "hash randomization is off"
    elif value is None or value == "" or value == "random":
        shown = "unset" if value is None else "'' (empty: unset)" if value == "" else value
        fixed, note = False, f"{randomized}; a running process cannot change that"
    elif sys.flags.ignore_environment:
        option = "-I" if sys.flags.isolated else "-E"
        shown, fixed = f"{value} (ignored: {option})", False
        note = f"Python was started with {option}, which ignores PYTHON* variables: {randomized}"
    elif "R" in _interpreter_options():
        shown, fixed = f"{value} (ignored: -R)", False
        note = f"Python was started with -R, which randomizes hashes whatever PYTHONHASHSEED says: {randomized}"
    elif _hash_seed_number(value) is None:
        # Python refuses to start with such a value: it was set later (read from os.environ, where /proc is missing),
        # and what the interpreter took cannot be read.
        shown, fixed = f"{value} (invalid)", None
        note = "not a value Python starts with (a number up to 4294967295, or random): set after the start"
    elif _hash_seed_number(value) == 0:
        # A 0 the interpreter took turns sys.flags.hash_randomization off.
        shown, fixed, note = f"{value} (not in force)", False, f"{randomized}: sys.flags shows it was not taken"
    else:
        shown, fixed, note = value, True, "str/bytes hashes are the same in every run"
    if os.environ.get("PYTHONHASHSEED") != value:
        note += "; changing it in a running process has no effect"
    return Flag("PYTHONHASHSEED", shown, fixed, note)
