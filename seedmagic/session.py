"""The seed in force, as values: the session's between cells (``Session``) and a running cell's (``Scope``).

Both are replaced whole, never changed in place: ``%seed`` makes a new session, a ``%%seeded`` cell a new scope.
"""

from __future__ import annotations

from typing import NamedTuple

from .arguments import ALL
from .ranks import PerRank


class Session(NamedTuple):
    """The session as one value: the seed in force between cells, how it was given, what it seeds and whether every
    cell is reseeded. ``%seed`` replaces it; a snapshot keeps it as it is; ``reset`` goes back to ``Session()``."""

    seed: int | None = None
    #: With ``%seed N --per-rank``: N and the rank ``seed`` was derived for.
    per_rank: PerRank | None = None
    selection: frozenset[str] = ALL
    #: Auto mode: every cell reseeded with a seed derived from ``seed`` and the cell.
    auto: bool = False

    @property
    def mode(self) -> str:
        """``none`` (no session seed), ``manual`` (``%seed N``) or ``auto`` (``%seed N --auto``)."""
        return "auto" if self.auto else "manual" if self.seed is not None else "none"


class Scope(NamedTuple):
    """The seed a running cell is under (``%%seeded``, auto mode), and the libraries that seed reaches."""

    seed: int
    selection: frozenset[str]
