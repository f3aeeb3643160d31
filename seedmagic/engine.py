"""The seeding engine: the session seed, and seeding every library with it, now, in a cell and at import.

Nothing here knows IPython. Everything is checked before anything is changed: a bad seed or an unknown library name
raises ``ValueError``/``TypeError`` and leaves every generator and flag as it was.

The ``Engine`` keeps the session and seeds; its collaborators keep the rest: what is accepted (``arguments.py``),
the running cells and their scopes (``cell_scopes.py``), seeding on import (``onimport.py``), the switches
(``modes.py``), snapshots (``snapshots.py``), which libraries are imported (``imported.py``) and reading them
(``readings.py``, ``marks.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from .arguments import (
    ALL,
    Selection,
    check_bool,
    check_deterministic,
    derive,
    derive_seed,
    resolve_selection,
    validate_seed,
)
from .cell_scopes import Cells
from .census import Census
from .determinism import DeterminismSwitch
from .errors import one_line
from .imported import ImportedLibraries
from .marks import Marks
from .modes import Modes
from .onimport import ImportSeeding
from .ranks import PerRank, current_rank
from .readings import Readings
from .session import Session
from .snapshots import Snapshot, restore_snapshot, take_snapshot
from .sources import SOURCES, Flag, Source
from .status import Seeding, SeedReport, Status

__all__ = ["ENGINE", "Engine"]


class Engine:
    """The session: which seed is in force, what it seeded, and what it seeds when imported.

    It keeps the session and seeds; it hands the running cells to ``cells``, seeding on import to ``imports`` (with
    its ``hook``), the switches to ``modes``, and reading the libraries to ``libraries`` and ``readings``."""

    def __init__(self, sources: Sequence[Source] = SOURCES) -> None:
        self.sources = tuple(sources)
        self.session = Session()
        #: The running cells, and the scope of the one running now (``%%seeded``, auto mode).
        self.cells = Cells(self)
        self.seedings: dict[str, Seeding] = {}
        self.failures: dict[str, str] = {}
        self.determinism = DeterminismSwitch(self.sources)
        #: Generators made without a seed, and ``--reach`` (see census.py).
        self.census = Census(self.current_seed, derive)
        #: The imported libraries, and what is bound for them, kept while nothing is imported.
        self.libraries = ImportedLibraries(self.sources)
        self.imports = ImportSeeding(self)
        self.hook = self.imports.hook
        #: Told ``(event, libraries, seed)`` when seedmagic itself changes generators: ``"seeded"`` (with the seed),
        #: ``"imported"``, ``"restoring"`` and ``"restored"``. A live panel reads them anew then, so that what
        #: seedmagic did is not counted as what the cell drew.
        self.listeners: list[Callable[[str, tuple[str, ...], int | None], None]] = []
        self.readings = Readings(self)
        #: Deterministic algorithms, auto mode and reach, switched without seeding.
        self.modes = Modes(self)

    # The session's fields, read-only: they change only as one value (see ``set_session``).

    @property
    def seed(self) -> int | None:
        """The session seed (None if unset)."""
        return self.session.seed

    @property
    def per_rank(self) -> PerRank | None:
        return self.session.per_rank

    @property
    def selection(self) -> frozenset[str]:
        return self.session.selection

    @property
    def auto(self) -> bool:
        return self.session.auto

    @property
    def last_cell_seed(self) -> int | None:
        """The seed the last cell that ended got, None where it got none: never a cell further back. An isolated
        cell leaves it as it was."""
        return self.cells.last_cell_seed

    @property
    def mode(self) -> str:
        """``none`` (no session seed), ``manual`` (``%seed N``) or ``auto`` (``%seed N --auto``)."""
        return self.session.mode

    def set_session(self, session: Session) -> None:
        """Replace the session, as one value; auto mode's cells are worked out anew."""
        self.session = session
        self.cells.forget_auto_cells()

    # -- seeding ---------------------------------------------------------------------------------------------------

    def seed_all(
        self,
        seed: int,
        *,
        deterministic: bool | None = None,
        warn_only: bool = False,
        only: Selection = None,
        skip: Selection = None,
        auto: bool | None = None,
        per_rank: bool = False,
        reach: bool | None = None,
    ) -> SeedReport:
        """Seed every selected library now, and each one imported later, with ``seed``; make it the session seed.

        ``only``/``skip`` name libraries (a list or a comma-separated string). ``deterministic=True`` also switches
        deterministic algorithms on (``warn_only`` makes torch warn instead of raise); ``False`` restores the flags
        from before. ``auto=True`` reseeds every cell (see ``begin_cell``), ``False`` stops it. ``per_rank=True``
        seeds this process with ``derive_seed(seed, "rank:R")`` for its rank R in a parallel job (torch.distributed,
        torchrun's RANK, an ipyparallel engine); without it every process gets ``seed``, as DDP's identical model
        initialisation wants. ``reach=True`` also seeds, from now on, the generators made without a seed
        (``np.random.default_rng()``, ``random.Random()``, ``torch.Generator()``: see ``set_reach``); ``False`` stops
        it. Returns a report of what was seeded; a library whose seeding failed is named there.
        """
        seed = validate_seed(seed)
        selection: frozenset[str] | None = None
        flags_changed: list[str] = []
        plain = deterministic is None and auto is None and reach is None and only is None and skip is None
        if not (plain and per_rank is False and warn_only is False):  # `%seed N` alone has nothing more to check
            check_bool("per_rank", per_rank)
            check_bool("reach", reach, none=True)
            selection = resolve_selection(only, skip)
            check_deterministic(deterministic, warn_only)
            check_bool("auto", auto, none=True)
            # The switch goes first: it is all or nothing, so if it fails, nothing at all has changed.
            flags_changed = self.modes.switch(deterministic, warn_only)
        # Inside a seeded cell, the new session seed is the seed in force for the rest of the cell: a library the
        # cell imports next gets it, as the report says. The cell's scope comes back for nothing after the cell.
        self.cells.scope = None
        given = None
        if per_rank:
            rank = current_rank()
            given = PerRank(seed, rank)
            seed = derive_seed(seed, f"rank:{rank.rank if rank else 0}")
        session = self.session
        selection = ALL if selection is None else selection
        auto_mode = session.auto if auto is None else auto
        if (seed, given, selection, auto_mode) != (session.seed, session.per_rank, session.selection, session.auto):
            self.set_session(Session(seed, given, selection, auto_mode))
        seeded, failed = self.seed_imported(seed, selection, by="session")
        self.census.restart()
        if reach is not None:
            self.census.set_reach(reach)
        self.refresh_hook()
        on_import = self.imports.on_import_names()
        report = SeedReport(seed, seeded, on_import, failed, deterministic, tuple(flags_changed), auto, given)
        return report if reach is None else self.modes.with_reach(report, reach)

    def reseed(self) -> None:
        """Seed again with the seed in force (the cell's, else the session's), as at the start of the cell."""
        self.census.restart()
        if self.cells.scope is not None:
            self.seed_imported(self.cells.scope.seed, self.cells.scope.selection, by="cell")
        elif self.seed is not None:
            self.seed_imported(self.seed, self.selection, by="session")

    def set_deterministic(self, enabled: bool, *, warn_only: bool = False) -> SeedReport:
        """Switch deterministic algorithms on (in libraries imported later too), or restore the flags from before."""
        check_bool("enabled", enabled)
        return self.set_modes(deterministic=enabled, warn_only=warn_only)

    def set_auto(self, enabled: bool) -> SeedReport:
        """Reseed before every cell (with a seed derived from the session seed and the cell), or stop doing so."""
        check_bool("enabled", enabled)
        return self.set_modes(auto=enabled)

    def set_reach(self, enabled: bool) -> SeedReport:
        """Seed every generator made without a seed from now on (``np.random.default_rng()``, any NumPy bit
        generator or ``RandomState()``, ``random.Random()``, ``torch.Generator()``), the n-th of each library in a
        cell (from 0) with ``(derive_seed(seed in force, "reach:<library>:<cell>") + n) % 2**32``; or stop, putting
        back exactly what was changed. ``secrets``, ``os.urandom`` and ``random.SystemRandom`` are never touched."""
        check_bool("enabled", enabled)
        return self.set_modes(reach=enabled)

    def set_modes(
        self,
        *,
        deterministic: bool | None = None,
        warn_only: bool = False,
        auto: bool | None = None,
        reach: bool | None = None,
    ) -> SeedReport:
        """Change the deterministic switch, auto mode and reach together, without seeding; None leaves one as is."""
        return self.modes.set_modes(deterministic=deterministic, warn_only=warn_only, auto=auto, reach=reach)

    def seeded(
        self, seed: int | None = None, *, only: Selection = None, skip: Selection = None, isolate: bool = False
    ) -> AbstractContextManager[SeedReport]:
        """Seed now and run the ``with`` block under that seed, as a ``%%seeded`` cell runs; libraries imported in
        the block get it too.

        Without a seed, the session seed. With ``isolate=True`` every generator, flag and the session are put back
        afterwards, also when the block raises or is interrupted. The session seed is unchanged. Checks everything
        before changing anything.
        """
        return self.cells.seeded(seed, only=only, skip=skip, isolate=isolate)

    def current_seed(self) -> int | None:
        """The seed in force: the cell's inside ``%%seeded``/``seeded()``, else the session seed (None if unset)."""
        scope = self.cells.scope
        return scope.seed if scope is not None else self.session.seed

    def seed_imported(
        self, seed: int, selection: frozenset[str], by: str | Seeding
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """Seed the imported libraries in ``selection``; ``by`` says what seeded them (or is the record itself)."""
        seeded: list[str] = []
        failed: dict[str, str] = {}
        record = by if isinstance(by, Seeding) else Seeding(seed, by)
        for source in self.libraries.seedable(selection):
            try:
                source.seed(seed)
            except Exception as exc:  # one library failing must leave the others seeded
                failed[source.name] = self.failures[source.name] = one_line(exc)
                continue
            if self.failures:
                self.failures.pop(source.name, None)
            self.seedings[source.name] = record
            seeded.append(source.name)
        if self.listeners and seeded:
            self.tell("seeded", tuple(seeded), seed)
        return tuple(seeded), failed

    def tell(self, event: str, libraries: tuple[str, ...] = (), seed: int | None = None) -> None:
        for listener in self.listeners:
            with contextlib.suppress(Exception):  # a listener (a panel) never stops seeding
                listener(event, libraries, seed)

    def reset(self) -> None:
        """Forget the session seed and what was seeded; put back the determinism flags. Generators stay as they are."""
        self.determinism.disable()
        self.set_session(Session())
        self.cells.clear()
        self.seedings.clear()
        self.failures.clear()
        self.census.set_reach(False)
        self.census.clear()
        self.refresh_hook()

    # -- cells (cell_scopes.py) ------------------------------------------------------------------------------------

    def begin_cell(self, cell: object, key: str | None, reach_key: str | Callable[[], str] | None = None) -> int | None:
        """A cell starts; in auto mode it is seeded for ``key`` (see ``Cells.begin_cell``). Returns its seed."""
        return self.cells.begin_cell(cell, key, reach_key)

    def auto_cells(self) -> dict[str, int]:
        """Auto mode's cells under the current session: each cell's key and seed (see ``Cells.auto_cells``)."""
        return self.cells.auto_cells()

    def in_cell(self) -> bool:
        """Whether a cell started by ``begin_cell`` is running."""
        return self.cells.in_cell()

    def innermost_cell(self) -> object | None:
        """What stands for the innermost running cell (see ``begin_cell``), None outside cells."""
        return self.cells.innermost_cell()

    def seed_cell(
        self, seed: int | None = None, *, only: Selection = None, skip: Selection = None, isolate: bool = False
    ) -> SeedReport:
        """Seed now, and run the rest of the running cell under ``seed`` (see ``Cells.seed_cell``)."""
        return self.cells.seed_cell(seed, only=only, skip=skip, isolate=isolate)

    def end_cell(self, cell: object) -> None:
        """The cell ``begin_cell`` started has finished (see ``Cells.end_cell``)."""
        self.cells.end_cell(cell)

    def at_isolated_cell_end(self, undo: Callable[[], object]) -> None:
        """Call ``undo`` when the running isolated cell ends (the generators the notebook holds, put back)."""
        self.cells.at_isolated_cell_end(undo)

    def end_cells(self) -> None:
        """End every cell still running, innermost first (the extension is unloaded inside one)."""
        self.cells.end_cells()

    # -- seeding on import (onimport.py) ----------------------------------------------------------------------------

    def refresh_hook(self) -> None:
        """Watch imports while anything waits for a library's import (see ``ImportSeeding.refresh_hook``)."""
        self.imports.refresh_hook()

    # -- snapshots (snapshots.py) ----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every imported library's generators (accelerators only once initialized), the flags and the session."""
        return take_snapshot(self)

    def restore(self, snapshot: Snapshot) -> None:
        """Put back everything ``snapshot`` saved; a generator or flag that fails does not stop the others.

        A library first imported after the snapshot is left as the restored session would have left it: seeded at
        import with the session seed where there is one, else with the state and flags it had right after its
        import, and switched to deterministic algorithms if the session's deterministic mode is on."""
        restore_snapshot(self, snapshot)

    @contextmanager
    def isolated(self) -> Iterator[Snapshot]:
        """Run the block, then put back every generator, flag and the session seed, even if it raises or is stopped."""
        __tracebackhide__ = True
        saved = self.snapshot()
        try:
            yield saved
        finally:
            self.restore(saved)

    # -- reading (readings.py) -------------------------------------------------------------------------------------

    def marks(self, libraries: Iterable[str] | None = None) -> Marks:
        """Cheap readings of the imported libraries' generators and of the flags (see ``Readings.marks``)."""
        return self.readings.marks(libraries)

    def shown_flags(self) -> tuple[Flag, ...]:
        """Every determinism flag as it is now, with its verdict (as in ``status``)."""
        return self.readings.shown_flags()

    def status(self) -> Status:
        """What every library and flag looks like now. Reads only; imports nothing and starts no device."""
        return self.readings.status()

    def library_seeds(self) -> dict[str, int]:
        """The seed each imported library says it was last seeded with (see ``Readings.library_seeds``)."""
        return self.readings.library_seeds()

    def reseeded_by_code(self, seeds: dict[str, int | None] | None = None) -> tuple[str, ...]:
        """The imported libraries the code seeded since seedmagic did (see ``Readings.reseeded_by_code``)."""
        return self.readings.reseeded_by_code(seeds)


ENGINE = Engine()
"""The process's one session, shared by the magics and the Python API."""
