"""The session's memory of its best seeds: the last ``%%seeds`` sweeps, so that seeding with the seed that gave a
sweep's best (or worst) value says that the best of n seeds is not a result to report.

``%%seeds`` remembers each sweep it ran; ``%seed`` asks after every seed it seeds with, and prints the note where a
remembered sweep has one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sweeps import SeedSweep

_SWEEPS_KEPT = 20  # the %%seeds sweeps whose best seeds %seed knows


class BestSeeds:
    """The session's last ``%%seeds`` sweeps and their best (and worst) seeds, each with its note."""

    def __init__(self) -> None:
        # The session's last %%seeds sweeps: %seed with a best seed says that the best of n seeds is not a result.
        self._sweeps: list[SeedSweep] = []
        #: Their best (and worst) seeds, each with its note, the latest sweep's winning: looked up by every %seed.
        self.notes: dict[int, str] = {}

    def remember(self, result: SeedSweep) -> None:
        """A ``%%seeds`` sweep ran: its seeds' notes are kept, and win over an earlier sweep's."""
        self._sweeps = [*self._sweeps[-(_SWEEPS_KEPT - 1) :], result]
        self.notes = {seed: note for sweep in self._sweeps for seed, note in sweep.best_seed_notes.items()}

    def note_best_seed(self, seed: int) -> None:
        """Print the note for ``seed`` where a remembered sweep has one."""
        note = self.notes.get(seed)
        if note is not None:
            print(note)


__all__ = ["BestSeeds"]
