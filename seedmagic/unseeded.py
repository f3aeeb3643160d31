"""How a cause names the generators made without a seed: where the first of them was made, and the fix.

``%%seeded --check`` and ``--trace`` both end a report with such a cause; this is its one wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from .compare import FIXES, GENERATORS
from .places import short_path

if TYPE_CHECKING:
    from .census import Unseeded


class MadeWithoutSeed(NamedTuple):
    """The first of the generators made without a seed, as a cause names it: where, and the fix."""

    #: ``a NumPy Generator made without a seed at In [3], line 2 (and 1 more)``, or ``... inside LIBRARY, called at``
    where: str
    fix: str
    #: Made by a library's code for the user's: the fix is passing the library a seed.
    inside_a_library: bool


def made_without_seed(made: Sequence[Unseeded]) -> MadeWithoutSeed:
    """How ``--check`` and ``--trace`` name the generators made without a seed, the first of ``made`` first."""
    first = made[0]
    places = f" (and {len(made) - 1} more)" if len(made) > 1 else ""
    what, fix = GENERATORS.get(first.library, first.library), FIXES.get(first.library, "a seed")
    if first.via:
        where = f"a {what} made without a seed inside {short_path(first.via, 40)}, called at {first.shown_where(30)}"
        return MadeWithoutSeed(where + places, fix, True)
    return MadeWithoutSeed(f"a {what} made without a seed at {first.shown_where(40)}{places}", fix, False)


__all__ = ["MadeWithoutSeed", "made_without_seed"]
