"""What the last cell drew from and which flags it changed: one engine's generators and flags, read after every cell
and compared with the reading before it.

The readings are cheap marks (``Engine.marks``); the flags are read in full only where their mark moved. The folded
panel reads nothing else: ``Watch.summary`` is its line. The watch knows no widget and no IPython.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from .engine import Engine
from .marks import Marks
from .sources import Flag
from .status import Summary, unseeded_count


def _changed_flags(before: Iterable[Flag], after: Iterable[Flag]) -> tuple[str, ...]:
    """The flags present before and after whose value or verdict differs (a flag that appears is not a change)."""
    old = {flag.name: (flag.value, flag.ok) for flag in before}
    return tuple(f.name for f in after if f.name in old and old[f.name] != (f.value, f.ok))


class Watch:
    """One engine's generators and flags, read after every cell and compared with the reading before it: what the
    last cell drew from, and which flags it changed.

    The reading before a cell is the one after the cell before, taken anew for the libraries seedmagic seeds,
    restores or sees imported (the engine tells its listeners), and after a control acted. Code that draws between
    cells, outside any cell (a widget's callback, a thread), counts for the next cell. A library's mark right after
    seeding depends only on the seed: it is kept, so that a cell run again under the same seed (``%%seeded N``,
    auto mode) costs one reading, not two.

    Nothing is read before a cell: what a cell did is gathered as it runs (an isolated cell's generators put back)
    and taken when it ends."""

    _KEPT = 256

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.before: Marks = engine.marks()
        self._read_flags(engine.shown_flags(), self.before.flags)
        #: What the last cell drew from and the flags it changed; None before a cell has been watched.
        self.drew: tuple[str, ...] | None = None
        self.changed: tuple[str, ...] = ()
        # Drawn from, and flags changed, in the running cell before an isolated cell's generators were put back.
        self._drawn: set[str] = set()
        self._changing: tuple[str, ...] = ()
        self._seeded: dict[tuple[str, int], Any] = {}
        self._seedable = frozenset(source.name for source in engine.sources if source.seedable)
        self.closed = False
        engine.listeners.append(self.heard)
        engine.refresh_hook()  # a library the next cell imports is read as it is imported

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self.heard)
        self.engine.refresh_hook()

    def heard(self, event: str, libraries: tuple[str, ...], seed: int | None) -> None:
        """The engine changed generators itself: read them anew (from what is kept, after a seeding)."""
        before = self.before
        if event == "seeded" and seed is not None:
            missing = [name for name in libraries if (name, seed) not in self._seeded]
            if missing:
                read = self.engine.marks(missing).states
                if len(self._seeded) > self._KEPT:
                    self._seeded.clear()
                self._seeded.update(((name, seed), mark) for name, mark in read.items())
            for name in libraries:
                if (name, seed) in self._seeded:
                    before.states[name] = self._seeded[name, seed]
                # Seeded by seedmagic just now, so not by the code: its own seed is read with the next marks.
                before.seeds.pop(name, None)
        elif event == "imported":
            marks = self.engine.marks(libraries)
            before.states.update(marks.states)
            before.seeds.update(marks.seeds)
        elif event == "restoring":
            now = self.engine.marks()
            self._drawn.update(self._drew(now))
            self._changing = (*self._changing, *self._new_flags(now))
        elif event == "restored":
            self.rebase()

    def _drew(self, now: Marks) -> list[str]:
        before = self.before.states
        return [name for name, mark in now.states.items() if name in before and before[name] != mark]

    def _new_flags(self, now: Marks) -> tuple[str, ...]:
        """The flags that differ from the last full reading, which is read anew (only where a mark moved)."""
        if now.flags == self._flags_mark:
            return ()
        flags = self.engine.shown_flags()
        changed = _changed_flags(self.flags, flags)
        self._read_flags(flags, now.flags)
        return changed

    def _read_flags(self, flags: tuple[Flag, ...], mark: tuple[Any, ...]) -> None:
        self.flags, self._flags_mark = flags, mark
        self._not_deterministic = sum(flag.ok is False for flag in flags)

    def cell_ended(self) -> None:
        """A cell ended (also when it raised): what it drew from and which flags it changed."""
        now = self.engine.marks()
        drew = self._drew(now)
        if self._drawn:  # an isolated cell's, drawn before its generators were put back
            drawn = self._drawn.union(drew)
            drew = [name for name in now.states if name in drawn]
            self._drawn.clear()
        self.drew = tuple(drew)
        changed = self._changing
        if now.flags != self._flags_mark:
            changed = (*changed, *self._new_flags(now))
        if changed:
            self._changing = ()
            changed = tuple(dict.fromkeys(changed))
        self.changed = changed
        self.before = now

    def rebase(self) -> None:
        """Read everything anew (a control acted): what follows is compared with now."""
        self.before = self.engine.marks()
        self._new_flags(self.before)

    def summary(self) -> Summary:
        """The folded line, from the engine and what this watch read: no generator state is read for it."""
        engine = self.engine
        session, seedings, census = engine.session, engine.seedings, engine.census
        seedable = self._seedable
        imported = seeded = 0
        for name in self.before.states:
            if name in seedable:
                imported += 1
                seeded += name in seedings
        if seeded and self.before.seeds:  # a library the code seeded since (torch.manual_seed) is not seedmagic's
            seeded -= len(engine.reseeded_by_code(self.before.seeds))
        return Summary(
            session.seed,
            session.mode,
            engine.last_cell_seed,
            seeded,
            imported,
            self._not_deterministic,
            self.drew,
            self.changed,
            # The census is off by default: then this reads nothing.
            unseeded_count(census.unseeded()) if census.enabled or census.reaching else 0,
            census.reaching,
            () if session.seed is not None else tuple(name for name in self.drew or () if name not in seedings),
        )


__all__ = ["Watch"]
