"""The deterministic switch: turn every library's deterministic algorithms on, and put back exactly what was there.

Switching on remembers, per library, the settings from before; a library imported later is switched on at import.
Switching off restores those settings and the environment variables the switch set. Environment variables such as
``CUBLAS_WORKSPACE_CONFIG`` are read once, when the device starts: set after that, they cannot take effect in this
process, and the switch says so.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .sources import Flag, Source, hash_seed_flag


class SeedmagicWarning(UserWarning):
    """Something seedmagic cannot do in this process, said instead of pretending."""


_OWN_FILES = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: Where else a warning never points: the IPython connection adds IPython's magic machinery, so that a warning from
#: ``%seed`` points at the user's cell.
WARNING_SKIPS: list[str] = []


def warn(message: str) -> None:
    """Warn with a SeedmagicWarning that points at the code that called seedmagic (the user's cell or script), not at
    seedmagic's own files: what ``skip_file_prefixes`` does on Python 3.12, done by hand for 3.10 and 3.11."""
    prefixes = (_OWN_FILES, *WARNING_SKIPS)
    # As warnings.warn counts levels: one per frame, the import machinery's own frames not counted.
    level, frame = 1, sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):
            level += 1
            if not name.startswith(prefixes):
                break
        frame = frame.f_back
    warnings.warn(message, SeedmagicWarning, stacklevel=level)


class DeterminismSwitch:
    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = sources
        self.enabled = False
        self.warn_only = False
        self._saved_flags: dict[str, Any] = {}
        self._saved_env: dict[str, str | None] = {}
        self._late_env: set[str] = set()

    def save(self) -> Any:
        """Every flag and variable the switch governs, as they are now, and the switch's own records.

        A library whose flags cannot be read is left out (and so cannot be put back); the others are saved."""
        flags = {}
        for source in self.sources:
            if source.has_flags and source.imported():
                try:
                    flags[source.name] = source.flag_state()
                except Exception:  # that library's flags stay as they will be; the rest is saved
                    continue
        environ = {var: os.environ.get(var) for source in self.sources for var in source.deterministic_env}
        records = (self.enabled, self.warn_only, dict(self._saved_flags), dict(self._saved_env), set(self._late_env))
        return flags, environ, records

    def load(self, saved: Any) -> None:
        """Put back what ``save`` read; a library whose flags cannot be set does not stop the others."""
        flags, environ, records = saved
        failed = {}
        for source in self.sources:
            if source.name in flags and source.imported():
                try:
                    source.set_flag_state(flags[source.name])
                except Exception as exc:
                    failed[source.name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        for var, value in environ.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        self.enabled, self.warn_only, saved_flags, saved_env, late_env = records
        self._saved_flags, self._saved_env, self._late_env = dict(saved_flags), dict(saved_env), set(late_env)
        if failed:
            detail = "; ".join(f"{name}: {error}" for name, error in failed.items())
            warn(f"seedmagic could not put back the flags of {detail}")

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
            self._saved_flags[source.name] = source.flag_state()
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
            source.set_flag_state(flags_at_import)

    def disable(self) -> list[str]:
        """Put back the settings and environment variables from before ``enable``."""
        with self._all_or_nothing():
            return self._disable()

    def _disable(self) -> list[str]:
        restored = []
        for source in self.sources:
            if source.name in self._saved_flags and source.imported():
                source.set_flag_state(self._saved_flags[source.name])
                restored.append(source.name)
        for var, previous in self._saved_env.items():
            if previous is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = previous
            restored.append(var)
        self._saved_flags.clear()
        self._saved_env.clear()
        self._late_env.clear()
        self.enabled = self.warn_only = False
        return restored

    def flags(self) -> list[Flag]:
        """Every determinism setting as it is now, for the imported libraries and the process."""
        flags: list[Flag] = []
        for source in self.sources:
            if source.imported():
                try:
                    flags.extend(source.flags())
                except Exception as exc:  # one library's unreadable flags hide no other flag
                    error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    flags.append(Flag(f"{source.name} flags", "unreadable", None, error))
            for var, value in source.deterministic_env.items():
                current = os.environ.get(var)
                if current is None and not source.imported():
                    continue
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
