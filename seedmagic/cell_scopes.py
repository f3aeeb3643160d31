"""The cell scopes: the seed each running cell is under, auto mode's seed per cell, and an isolated cell's undo.

A cell starts with ``begin_cell`` and ends with ``end_cell``; in between, ``seed_cell`` (what ``%%seeded`` does
before the cell's first line) puts the cell under a seed, and ``--isolate`` takes a snapshot that ``end_cell`` puts
back. Cells nest (a cell run inside another, a ``seeded()`` block inside a cell): each one ends with the scope of
the cell it ran in. The engine seeds for them; nothing here knows IPython.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, NamedTuple

from .arguments import InvalidArgument, Selection, check_bool, derive, resolve_selection, validate_seed
from .errors import one_line, warn_failures
from .session import Scope
from .status import Seeding, SeedReport

if TYPE_CHECKING:
    from .census import Counting
    from .engine import Engine
    from .snapshots import Snapshot


class _RunningCell:
    """A cell that has started and not yet ended: the token that stands for it, the scope from before it, with
    ``--isolate`` the snapshot to put back when it ends, and what reach counted under before it."""

    __slots__ = ("counting", "outer", "saved", "seed", "token", "undo")

    def __init__(self, token: object, outer: Scope | None, counting: Counting | None = None) -> None:
        self.token, self.outer, self.counting = token, outer, counting
        self.saved: Snapshot | None = None
        self.seed: int | None = None  # the seed the cell got (auto mode, %%seeded), if any
        self.undo: list[Callable[[], object]] = []  # what else an isolated cell puts back when it ends


class _AutoCell(NamedTuple):
    """What auto mode does for one cell under one session, worked out once: the cell's scope and the record of the
    seeding."""

    scope: Scope
    seeding: Seeding


#: Auto mode's cells worked out under the current session; forgotten when it changes, and past this many.
_AUTO_CELLS_KEPT = 4096


class Cells:
    """The cells that have begun and not ended, innermost last, the scope of the one running now, and auto mode's
    cells under the current session. ``engine`` seeds for them, takes their snapshots and puts them back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: The scope of the cell running now (``%%seeded``, auto mode), None outside one.
        self.scope: Scope | None = None
        self._auto_cells: dict[str, _AutoCell] = {}
        #: The cells that have begun and not ended, innermost last.
        self._cell_stack: list[_RunningCell] = []
        #: The seed the last cell that ended got (see ``Engine.last_cell_seed``).
        self.last_cell_seed: int | None = None

    def forget_auto_cells(self) -> None:
        """The session changed: auto mode's cells are worked out anew."""
        self._auto_cells.clear()

    def clear(self) -> None:
        """Forget every running cell, its scope and the last cell's seed (``Engine.reset``)."""
        self.scope = None
        self._cell_stack.clear()
        self.last_cell_seed = None

    def begin_cell(self, cell: object, key: str | None, reach_key: str | Callable[[], str] | None = None) -> int | None:
        """A cell starts (``cell`` stands for it until ``end_cell``). In auto mode, seed it for ``key`` (its id, or
        its source): the same seed whenever that cell runs, in any order, and a different one for every other cell;
        None skips it. ``reach_key`` (else ``key``): what reach derives the cell's generators' seeds from, also for a
        cell auto mode skips, or a call that gives it when first needed; with neither, the key of the cell this one
        runs in (a ``seeded()`` block). Returns the cell's seed (None if not reseeded)."""
        counting = self.engine.census.begin_cell(key if reach_key is None else reach_key)
        self._cell_stack.append(_RunningCell(cell, self.scope, counting))
        session = self.engine.session
        if key is None or not session.auto or session.seed is None:
            return None
        # Worked out once per cell and session: auto mode runs before every cell, and a notebook reruns its cells.
        auto = self._auto_cells.get(key)
        if auto is None:
            if len(self._auto_cells) >= _AUTO_CELLS_KEPT:
                self._auto_cells.clear()
            seed = derive(session.seed, key)  # the session seed was checked when it was set
            auto = _AutoCell(Scope(seed, session.selection), Seeding(seed, "auto"))
            self._auto_cells[key] = auto
        self.scope = auto.scope
        self._cell_stack[-1].seed = auto.scope.seed
        failed = self.engine.seed_imported(auto.scope.seed, session.selection, auto.seeding)[1]
        if failed:
            warn_failures("seed", failed)
        return auto.scope.seed

    def auto_cells(self) -> dict[str, int]:
        """Auto mode's cells under the current session, in the order they were first seeded: each cell's key and
        seed (what ``seedmagic.record()`` lists; forgotten when the session changes, and past 4096 cells)."""
        return {key: cell.scope.seed for key, cell in self._auto_cells.items()}

    def in_cell(self) -> bool:
        """Whether a cell started by ``begin_cell`` is running."""
        return bool(self._cell_stack)

    def innermost_cell(self) -> object | None:
        """What stands for the innermost running cell (see ``begin_cell``), None outside cells."""
        return self._cell_stack[-1].token if self._cell_stack else None

    def seed_cell(
        self, seed: int | None = None, *, only: Selection = None, skip: Selection = None, isolate: bool = False
    ) -> SeedReport:
        """Seed now, and run the rest of the running cell under ``seed``: what a ``%%seeded`` cell does before its
        first line. Libraries the cell imports get the seed too. Without a seed, the session seed. With
        ``isolate=True``, ``end_cell`` puts back every generator, flag and the session as they were before this
        call. Checks everything before changing anything; outside a cell (see ``begin_cell``) it refuses."""
        scope = self._scope_for(seed, only, skip)
        check_bool("isolate", isolate)
        if not self._cell_stack:
            raise InvalidArgument("no cell is running: use `with seedmagic.seeded(N):` outside a cell")
        running = self._cell_stack[-1]
        if isolate and running.saved is None:
            running.saved = self.engine.snapshot()
        seeded, failed = self._enter_scope(scope, by="cell")
        return SeedReport(scope.seed, seeded, self.engine.imports.on_import_names(), failed)

    def _scope_for(self, seed: int | None, only: Selection, skip: Selection) -> Scope:
        if seed is None:
            if self.engine.seed is None:
                raise InvalidArgument("no seed: give one (e.g. %%seeded 0) or set the session seed first with %seed N")
            seed = self.engine.seed
        seed = validate_seed(seed)
        selection = resolve_selection(only, skip)
        return Scope(seed, selection if selection is not None else self.engine.selection)

    def _enter_scope(self, scope: Scope, by: str) -> tuple[tuple[str, ...], dict[str, str]]:
        self.scope = scope
        if by == "cell" and self._cell_stack:
            self._cell_stack[-1].seed = scope.seed
        if self.engine.seed is None:  # a seed is in force now: what the cell imports gets it (a session seed has it so)
            self.engine.hook.install()
        seeded, failed = self.engine.seed_imported(scope.seed, scope.selection, by=by)
        if failed:
            warn_failures("seed", failed)
        return seeded, failed

    def end_cell(self, cell: object) -> None:
        """The cell ``begin_cell`` started has finished: the seed in force is again the one from before it, and an
        isolated cell's snapshot is put back. Ends the innermost running cell where ``cell`` is None (a front end
        that lost it, e.g. an interrupted asynchronous cell)."""
        if not self._cell_stack or (cell is not None and self._cell_stack[-1].token is not cell):
            return
        running = self._cell_stack.pop()
        if running.saved is None:  # a cell run inside another (run_cell) is the last cell until the outer ends
            self.last_cell_seed = running.seed
        if running.counting is not None:
            self.engine.census.end_cell(running.counting)
        if running.saved is not None:
            self.scope = running.outer
            self.engine.restore(running.saved)
            failed = {}
            for undo in running.undo:
                try:
                    undo()
                except Exception as exc:  # the rest is put back all the same, and the warning says what was not
                    failed[getattr(undo, "__qualname__", "an undo")] = one_line(exc)
            warn_failures("put back", failed)
        elif running.outer is not self.scope:  # most cells change nothing: keep the per-cell cost to a pop
            self.scope = running.outer
            if self.engine.session.seed is None:  # with a session seed, imports stay watched
                self.engine.refresh_hook()

    def at_isolated_cell_end(self, undo: Callable[[], object]) -> None:
        """Call ``undo`` when the running isolated cell ends (the generators the notebook holds, put back)."""
        if not self._cell_stack or self._cell_stack[-1].saved is None:
            raise InvalidArgument("no isolated cell is running")
        self._cell_stack[-1].undo.append(undo)

    def end_cells(self) -> None:
        """End every cell still running, innermost first (the extension is unloaded inside one)."""
        while self._cell_stack:
            self.end_cell(self._cell_stack[-1].token)

    def seeded(
        self, seed: int | None = None, *, only: Selection = None, skip: Selection = None, isolate: bool = False
    ) -> AbstractContextManager[SeedReport]:
        """``Engine.seeded``: the ``with`` block run as a cell under ``seed``, checked before anything changes."""
        self._scope_for(seed, only, skip)
        check_bool("isolate", isolate)
        return self._seeded(seed, only, skip, isolate)

    @contextmanager
    def _seeded(self, seed: int | None, only: Selection, skip: Selection, isolate: bool) -> Iterator[SeedReport]:
        __tracebackhide__ = True
        block = object()
        self.begin_cell(block, None)
        try:
            yield self.seed_cell(seed, only=only, skip=skip, isolate=isolate)
        finally:
            self.end_cell(block)
