"""What every library's unit answers: the ``Source`` interface, with the ``Flag``, ``Readers`` and
``StateUnavailable`` its answers are made of."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from .installed import distribution_version, is_installed


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
        return self.imported() or is_installed(self.module)

    def version(self) -> str | None:
        version = getattr(sys.modules.get(self.module), "__version__", None)
        return version if isinstance(version, str) else distribution_version(self.distributions)

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
