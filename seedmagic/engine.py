"""The seeding engine: the session seed, seeding every library, seeding on later import, snapshots and status.

Nothing here knows IPython. Everything is checked before anything is changed: a bad seed or an unknown library name
raises ``ValueError``/``TypeError`` and leaves every generator and flag as it was.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    import hashlib

from .census import Census, Counting
from .determinism import DeterminismState, DeterminismSwitch
from .errors import cell_traceback, one_line, shown, warn, warn_failures
from .importhook import ImportHook
from .ranks import PerRank, current_rank
from .sources import NAMES, SOURCES, Flag, Readers, Source, StateUnavailable
from .status import LibraryStatus, Seeding, SeedReport, Status

_ON_IMPORT_KEPT_S = 1.0
SEED_LIMIT = 2**32
"""Seeds are integers in ``[0, 2**32)``, the range every library accepts (NumPy's legacy seed is the narrowest)."""

Selection = str | Iterable[str] | None
_Value = TypeVar("_Value")
ALL = frozenset(NAMES)
_SEED_TEXT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)", re.ASCII)


class InvalidArgument(ValueError):
    """A seed, library name or option seedmagic refuses: a ``ValueError``, raised before anything is changed. In a
    cell, IPython shows it as one line (``ValueError: ...``), without seedmagic's own frames."""

    __module__ = "seedmagic"  # as a traceback names it: seedmagic.InvalidArgument, which seedmagic exports

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return cell_traceback(self)


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of the wrong type: a ``TypeError`` (and an ``InvalidArgument``)."""

    __module__ = "seedmagic"


def validate_seed(seed: Any) -> int:
    """Return ``seed`` as an int, or raise TypeError/ValueError naming what is wrong with it."""
    if type(seed) is int and 0 <= seed < SEED_LIMIT:
        return seed
    if isinstance(seed, bool):
        raise InvalidArgumentType(f"seed must be an integer, got {seed!r}")
    try:
        value = operator.index(seed)
    except TypeError:
        raise InvalidArgumentType(f"seed must be an integer, got {shown(seed)}") from None
    if not 0 <= value < SEED_LIMIT:
        raise InvalidArgument(f"seed must be between 0 and 2**32 - 1 = {SEED_LIMIT - 1}, got {value}")
    return value


def parse_seed(text: str) -> int:
    """A seed written as text: decimal (``2023``, ``1_000``) or hex (``0x7e7``), validated."""
    text = text.strip()
    if _SEED_TEXT.fullmatch(text):
        try:
            return validate_seed(int(text, 16 if text.lstrip("+-")[:2] in ("0x", "0X") else 10))
        except InvalidArgument:
            raise
        except ValueError:  # misplaced underscores
            pass
    hint = " (write {expression} to have IPython evaluate it)" if any(op in text for op in "+-*/") else ""
    raise InvalidArgument(f"seed must be an integer, got {text!r}{hint}")


def random_seed() -> int:
    """A fresh seed from OS entropy, for ``%seed --random``."""
    import secrets

    return secrets.randbits(SEED_LIMIT.bit_length() - 1)


def derive_seed(base: int, key: int | str) -> int:
    """A seed in ``[0, 2**32)`` derived from ``base`` and ``key``, the same on every platform and Python version.
    ``key`` is an int (``np.int64(7)`` and ``torch.tensor(7)`` are 7) or a str."""
    base = validate_seed(base)
    if isinstance(key, str):
        return _derive(base, str(key))
    if not isinstance(key, bool):
        with contextlib.suppress(TypeError):
            return _derive(base, operator.index(key))
    raise InvalidArgumentType(f"key must be an int or a str, got {shown(key)}")


def _derive(base: int, key: int | str) -> int:
    digest = _blake2b()(f"seedmagic:{base}:{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


@functools.cache
def _blake2b() -> type[hashlib.blake2b]:
    # hashlib is imported on first use, not with the extension; auto mode derives a seed before every cell.
    from hashlib import blake2b

    return blake2b


def _names(value: str | Iterable[str], option: str) -> list[str]:
    try:
        parts: list[object] = [value] if isinstance(value, str) else list(value)
    except TypeError:
        parts = [value]
    if not all(isinstance(part, str) for part in parts):
        raise InvalidArgumentType(
            f"{option} takes library names ('torch,numpy' or ['torch', 'numpy']), got {shown(value)}"
        )
    names = [name.strip() for part in parts for name in str(part).split(",")]
    if not any(names):
        raise InvalidArgument(f"{option} needs at least one library name (known: {', '.join(NAMES)})")
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise InvalidArgument(f"{option}: unknown library {unknown[0]!r} (known: {', '.join(NAMES)})")
    return names


def resolve_selection(only: Selection = None, skip: Selection = None) -> frozenset[str] | None:
    """The library names ``only``/``skip`` select, or None when neither is given."""
    if only is not None and skip is not None:
        raise InvalidArgument("give only or skip, not both")
    if only is not None:
        return frozenset(_names(only, "only"))
    if skip is not None:
        selection = ALL - frozenset(_names(skip, "skip"))
        if not selection:
            raise InvalidArgument("skip leaves no library to seed")
        return selection
    return None


def check_bool(name: str, value: object, *, none: bool = False) -> None:
    """Refuse anything but ``True`` and ``False`` (and None where ``none``): not ``1``, ``np.True_`` or ``"no"``."""
    if isinstance(value, bool) or (none and value is None):
        return
    allowed = "True, False or None" if none else "True or False"
    raise InvalidArgumentType(f"{name} must be {allowed}, got {shown(value)}")


class Marks(NamedTuple):
    """What ``Engine.marks`` read: a mark per imported library's generators, one for all the flags, and the seed each
    library that can tell says it was last seeded with (torch: ``torch.initial_seed()``)."""

    states: dict[str, Any]
    flags: tuple[Any, ...]
    seeds: dict[str, int | None]


class Scope(NamedTuple):
    """The seed a running cell is under (``%%seeded``, auto mode), and the libraries that seed reaches."""

    seed: int
    selection: frozenset[str]


class _RunningCell:
    """A cell that has started and not yet ended: the token that stands for it, the scope from before it, with
    ``--isolate`` the snapshot to put back when it ends, and what reach counted under before it."""

    __slots__ = ("counting", "outer", "saved", "seed", "token", "undo")

    def __init__(self, token: object, outer: Scope | None, counting: Counting | None = None) -> None:
        self.token, self.outer, self.counting = token, outer, counting
        self.saved: Snapshot | None = None
        self.seed: int | None = None  # the seed the cell got (auto mode, %%seeded), if any
        self.undo: list[Callable[[], object]] = []  # what else an isolated cell puts back when it ends


class _Imported(NamedTuple):
    """A library as it was when its import finished, before seedmagic seeded it or switched its flags: what an
    isolated cell that imported it puts back when no session seed would have seeded it."""

    state: Any
    flags: Any


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


class Snapshot(NamedTuple):
    """Everything about randomness that ``restore`` puts back: the imported libraries' generator states, the
    determinism flags, the session, and what the status reports of it (what was seeded, what failed, reach).
    ``unavailable`` names the libraries whose state cannot be saved, and why."""

    states: dict[str, Any]
    unavailable: dict[str, str]
    session: Session
    seedings: dict[str, Seeding]
    failures: dict[str, str]
    reach: bool
    determinism: DeterminismState

    @property
    def imported(self) -> frozenset[str]:
        """The libraries that were imported when the snapshot was taken."""
        return frozenset(self.states) | frozenset(self.unavailable)


class _AutoCell(NamedTuple):
    """What auto mode does for one cell under one session, worked out once: the cell's scope and the record of the
    seeding."""

    scope: Scope
    seeding: Seeding


#: Auto mode's cells worked out under the current session; forgotten when it changes, and past this many.
_AUTO_CELLS_KEPT = 4096


class Engine:
    """The session: which seed is in force, what it seeded, and what it seeds when imported."""

    def __init__(self, sources: Sequence[Source] = SOURCES) -> None:
        self.sources = tuple(sources)
        self._by_module = {source.module: source for source in self.sources}
        self.session = Session()
        #: The scope of the cell running now (``%%seeded``, auto mode), None outside one.
        self._scope: Scope | None = None
        self._auto_cells: dict[str, _AutoCell] = {}
        self.seedings: dict[str, Seeding] = {}
        self.failures: dict[str, str] = {}
        self.determinism = DeterminismSwitch(self.sources)
        #: Generators made without a seed, and ``--reach`` (see census.py).
        self.census = Census(self.current_seed, _derive)
        self.hook = ImportHook({*self._by_module, *self.census.watched}, self._import_started, self._import_finished)
        self._importing: list[dict[str, Any] | None] = []
        #: The cells that have begun and not ended, innermost last.
        self._cell_stack: list[_RunningCell] = []
        self._last_cell_seed: int | None = None
        self._imported: dict[str, _Imported] = {}
        self._on_import_kept: tuple[tuple[Any, ...], float, tuple[str, ...]] | None = None
        self._seedable_kept: tuple[tuple[Any, ...], tuple[Source, ...]] | None = None
        self._module_names = tuple(source.module for source in self.sources)
        #: Told ``(event, libraries, seed)`` when seedmagic itself changes generators: ``"seeded"`` (with the seed),
        #: ``"imported"``, ``"restoring"`` and ``"restored"``. A live panel reads them anew then, so that what
        #: seedmagic did is not counted as what the cell drew.
        self.listeners: list[Callable[[str, tuple[str, ...], int | None], None]] = []
        # The environment variables whose value can change a flag's verdict. Not PYTHONHASHSEED: the interpreter
        # reads it only as it starts, so setting it later changes no verdict (only a note the full status reads).
        self._flag_variables = tuple(var for s in self.sources for var in s.deterministic_env)
        self._imported_kept: tuple[tuple[object, ...], tuple[Source, ...]] | None = None
        self._readers_kept: tuple[tuple[object, ...], tuple[tuple[str, Readers], ...]] | None = None

    # The session's fields, read-only: they change only as one value (see ``_set_session``).

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
        return self._last_cell_seed

    @property
    def mode(self) -> str:
        """``none`` (no session seed), ``manual`` (``%seed N``) or ``auto`` (``%seed N --auto``)."""
        return self.session.mode

    def _set_session(self, session: Session) -> None:
        self.session = session
        self._auto_cells.clear()

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
            self._check_deterministic(deterministic, warn_only)
            check_bool("auto", auto, none=True)
            # The switch goes first: it is all or nothing, so if it fails, nothing at all has changed.
            flags_changed = self._switch(deterministic, warn_only)
        # Inside a seeded cell, the new session seed is the seed in force for the rest of the cell: a library the
        # cell imports next gets it, as the report says. The cell's scope comes back for nothing after the cell.
        self._scope = None
        given = None
        if per_rank:
            rank = current_rank()
            given = PerRank(seed, rank)
            seed = derive_seed(seed, f"rank:{rank.rank if rank else 0}")
        session = self.session
        selection = ALL if selection is None else selection
        auto_mode = session.auto if auto is None else auto
        if (seed, given, selection, auto_mode) != (session.seed, session.per_rank, session.selection, session.auto):
            self._set_session(Session(seed, given, selection, auto_mode))
        seeded, failed = self._seed_imported(seed, selection, by="session")
        self.census.restart()
        if reach is not None:
            self.census.set_reach(reach)
        self.refresh_hook()
        on_import = self._on_import_names()
        report = SeedReport(seed, seeded, on_import, failed, deterministic, tuple(flags_changed), auto, given)
        return report if reach is None else self._with_reach(report, reach)

    # -- cells -----------------------------------------------------------------------------------------------------

    def begin_cell(self, cell: object, key: str | None, reach_key: str | Callable[[], str] | None = None) -> int | None:
        """A cell starts (``cell`` stands for it until ``end_cell``). In auto mode, seed it for ``key`` (its id, or
        its source): the same seed whenever that cell runs, in any order, and a different one for every other cell;
        None skips it. ``reach_key`` (else ``key``): what reach derives the cell's generators' seeds from, also for a
        cell auto mode skips, or a call that gives it when first needed; with neither, the key of the cell this one
        runs in (a ``seeded()`` block). Returns the cell's seed (None if not reseeded)."""
        counting = self.census.begin_cell(key if reach_key is None else reach_key)
        self._cell_stack.append(_RunningCell(cell, self._scope, counting))
        session = self.session
        if key is None or not session.auto or session.seed is None:
            return None
        # Worked out once per cell and session: auto mode runs before every cell, and a notebook reruns its cells.
        auto = self._auto_cells.get(key)
        if auto is None:
            if len(self._auto_cells) >= _AUTO_CELLS_KEPT:
                self._auto_cells.clear()
            seed = _derive(session.seed, key)  # the session seed was checked when it was set
            auto = _AutoCell(Scope(seed, session.selection), Seeding(seed, "auto"))
            self._auto_cells[key] = auto
        self._scope = auto.scope
        self._cell_stack[-1].seed = auto.scope.seed
        failed = self._seed_imported(auto.scope.seed, session.selection, auto.seeding)[1]
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
            running.saved = self.snapshot()
        seeded, failed = self._enter_scope(scope, by="cell")
        return SeedReport(scope.seed, seeded, self._on_import_names(), failed)

    def _scope_for(self, seed: int | None, only: Selection, skip: Selection) -> Scope:
        if seed is None:
            if self.seed is None:
                raise InvalidArgument("no seed: give one (e.g. %%seeded 0) or set the session seed first with %seed N")
            seed = self.seed
        seed = validate_seed(seed)
        selection = resolve_selection(only, skip)
        return Scope(seed, selection if selection is not None else self.selection)

    def _enter_scope(self, scope: Scope, by: str) -> tuple[tuple[str, ...], dict[str, str]]:
        self._scope = scope
        if by == "cell" and self._cell_stack:
            self._cell_stack[-1].seed = scope.seed
        if self.seed is None:  # a seed is in force now: what the cell imports gets it (a session seed has it so)
            self.hook.install()
        seeded, failed = self._seed_imported(scope.seed, scope.selection, by=by)
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
            self._last_cell_seed = running.seed
        if running.counting is not None:
            self.census.end_cell(running.counting)
        if running.saved is not None:
            self._scope = running.outer
            self.restore(running.saved)
            failed = {}
            for undo in running.undo:
                try:
                    undo()
                except Exception as exc:  # the rest is put back all the same, and the warning says what was not
                    failed[getattr(undo, "__qualname__", "an undo")] = one_line(exc)
            warn_failures("put back", failed)
        elif running.outer is not self._scope:  # most cells change nothing: keep the per-cell cost to a pop
            self._scope = running.outer
            if self.session.seed is None:  # with a session seed, imports stay watched
                self.refresh_hook()

    def at_isolated_cell_end(self, undo: Callable[[], object]) -> None:
        """Call ``undo`` when the running isolated cell ends (the generators the notebook holds, put back)."""
        if not self._cell_stack or self._cell_stack[-1].saved is None:
            raise InvalidArgument("no isolated cell is running")
        self._cell_stack[-1].undo.append(undo)

    def end_cells(self) -> None:
        """End every cell still running, innermost first (the extension is unloaded inside one)."""
        while self._cell_stack:
            self.end_cell(self._cell_stack[-1].token)

    def reseeded_by_code(self, seeds: dict[str, int | None] | None = None) -> tuple[str, ...]:
        """The imported libraries whose own reading of their last seed (torch: ``torch.initial_seed()``) is not the
        last seeding seedmagic did: the code seeded them since. Only libraries that can tell. ``seeds``: those
        readings, already taken (``Marks.seeds``): a live panel's folded line asks after every cell."""
        seedings = self.seedings
        read: dict[str, int] | dict[str, int | None] = self.library_seeds() if seeds is None else seeds
        return tuple(
            name for name, seed in read.items() if seed is not None and name in seedings and seed != seedings[name].seed
        )

    def library_seeds(self) -> dict[str, int]:
        """The seed each imported library says its global generator was last seeded with, where it can tell
        (torch: ``torch.initial_seed()``): what ``%%seeded --check`` compares between its two runs."""
        seeds = {}
        for name, readers in self._readers_now():  # the readings a live panel makes, bound once
            seed = None if readers.seed is None else _read(readers.seed)
            if seed is not None:
                seeds[name] = seed
        return seeds

    def reseed(self) -> None:
        """Seed again with the seed in force (the cell's, else the session's), as at the start of the cell."""
        self.census.restart()
        if self._scope is not None:
            self._seed_imported(self._scope.seed, self._scope.selection, by="cell")
        elif self.seed is not None:
            self._seed_imported(self.seed, self.selection, by="session")

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
        """Change the deterministic switch, auto mode and reach together, without seeding; None leaves one as it
        is."""
        self._check_deterministic(deterministic, warn_only)
        check_bool("auto", auto, none=True)
        check_bool("reach", reach, none=True)
        if auto and self.seed is None:
            raise InvalidArgument("auto mode needs a session seed: %seed N --auto")
        if reach and self.seed is None:
            raise InvalidArgument("reach needs a session seed: %seed N --reach")
        flags_changed = self._switch(deterministic, warn_only)
        if auto is not None and auto != self.session.auto:
            self._set_session(self.session._replace(auto=auto))
        if reach is not None:
            self.census.set_reach(reach)
        self.refresh_hook()
        report = SeedReport(None, deterministic=deterministic, flags_changed=tuple(flags_changed), auto=auto)
        return report if reach is None else self._with_reach(report, reach)

    def _with_reach(self, report: SeedReport, reach: bool) -> SeedReport:
        return report._replace(reach=reach, not_reached=self.census.not_reached() if reach else ())

    def current_seed(self) -> int | None:
        """The seed in force: the cell's inside ``%%seeded``/``seeded()``, else the session seed (None if unset)."""
        return self._scope.seed if self._scope is not None else self.session.seed

    def seeded(
        self, seed: int | None = None, *, only: Selection = None, skip: Selection = None, isolate: bool = False
    ) -> AbstractContextManager[SeedReport]:
        """Seed now and run the ``with`` block under that seed, as a ``%%seeded`` cell runs; libraries imported in
        the block get it too.

        Without a seed, the session seed. With ``isolate=True`` every generator, flag and the session are put back
        afterwards, also when the block raises or is interrupted. The session seed is unchanged. Checks everything
        before changing anything.
        """
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

    def _check_deterministic(self, deterministic: bool | None, warn_only: bool) -> None:
        check_bool("deterministic", deterministic, none=True)
        check_bool("warn_only", warn_only)
        if warn_only and deterministic is not True:
            raise InvalidArgument("warn_only applies only when switching deterministic mode on")

    def _switch(self, deterministic: bool | None, warn_only: bool) -> list[str]:
        if deterministic is True:
            return self.determinism.enable(warn_only)
        if deterministic is False:
            return self.determinism.disable()
        return []

    def _seed_imported(
        self, seed: int, selection: frozenset[str], by: str | Seeding
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """Seed the imported libraries in ``selection``; ``by`` says what seeded them (or is the record itself)."""
        seeded: list[str] = []
        failed: dict[str, str] = {}
        record = by if isinstance(by, Seeding) else Seeding(seed, by)
        for source in self._seedable_now(selection):
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
            self._tell("seeded", tuple(seeded), seed)
        return tuple(seeded), failed

    def _tell(self, event: str, libraries: tuple[str, ...] = (), seed: int | None = None) -> None:
        for listener in self.listeners:
            with contextlib.suppress(Exception):  # a listener (a panel) never stops seeding
                listener(event, libraries, seed)

    def _seedable_now(self, selection: frozenset[str]) -> tuple[Source, ...]:
        """The imported libraries in ``selection`` that have a global generator, in seeding order. Kept while
        nothing is imported (see ``_modules_key``): auto mode asks before every cell."""
        key = (self._modules_key(), selection)
        kept = self._seedable_kept
        if kept is not None and kept[0] == key:
            return kept[1]
        sources = tuple(s for s in self.sources if s.name in selection and s.imported() and s.seedable)
        self._seedable_kept = (key, sources)
        return sources

    def _seed_for_import(self, name: str) -> int | None:
        if self._scope is not None and name in self._scope.selection:
            return self._scope.seed
        if self.seed is not None and name in self.selection:
            return self.seed
        return None

    def _on_import_names(self) -> tuple[str, ...]:
        """The libraries an import would seed now: not imported yet, installed, selected, with a seed in force."""
        if not self.hook.installed:
            return ()
        # Every %seed reports these, and asking whether a library is installed is the slow part: the answer is kept
        # while nothing was imported (see _modules_key) and the seed in force is the same, for at most
        # _ON_IMPORT_KEPT_S, so that a library installed since (%pip install takes longer) is seen.
        key = (self._modules_key(), self._scope, self.seed is None, self.selection)
        now = time.monotonic()
        kept = self._on_import_kept
        if kept is not None and kept[0] == key and now - kept[1] < _ON_IMPORT_KEPT_S:
            blocked = {s.name for s in self.sources if s.blocked()}
            return tuple(name for name in kept[2] if name not in blocked)
        names = tuple(
            s.name
            for s in self.sources
            if not s.imported()
            and not s.blocked()  # sys.modules[name] = None: an import raises, and seeds nothing
            and self._seed_for_import(s.name) is not None
            and s.seedable
            and s.installed()
        )
        self._on_import_kept = (key, now, names)
        return names

    def reset(self) -> None:
        """Forget the session seed and what was seeded; put back the determinism flags. Generators stay as they are."""
        self.determinism.disable()
        self._set_session(Session())
        self._scope = None
        self._cell_stack.clear()
        self._last_cell_seed = None
        self.seedings.clear()
        self.failures.clear()
        self.census.set_reach(False)
        self.census.clear()
        self.refresh_hook()

    # -- seeding on import -----------------------------------------------------------------------------------------

    def refresh_hook(self) -> None:
        """Watch imports while a seed or the deterministic switch waits for a library, while the census or reach is
        on, while a library is recorded as seeded (run anew, ``importlib.reload``, it is seeded again or its record
        dropped), and while a listener (a live panel) reads a library as it is imported."""
        if (
            self.seed is not None
            or self._scope is not None
            or self.determinism.enabled
            or self.census.active
            or self.seedings
            or self.listeners
        ):
            self.hook.install()
        else:
            self.hook.uninstall()

    def _import_started(self, module: str) -> None:
        # A library's import can draw from another library's generator (TensorFlow's draws from Python's random):
        # while a seed is in force, the outermost watched import puts the others back afterwards, so that
        # `%seed 0` then `import tensorflow` leaves `random` exactly where `random.seed(0)` puts it.
        if module not in self._by_module:  # watched by the census only (numpy.random)
            return
        outermost = not self._importing
        in_force = self.current_seed() is not None
        guard = self._save_generators()[0] if outermost and in_force else None
        if guard is not None:
            # The library being imported is in sys.modules from the start of its import, its state not yet: what
            # get_state reads now must not be put back over the seeding at the end of the import.
            guard.pop(self._by_module[module].name, None)
        self._importing.append(guard)

    def _import_finished(self, module: str, loaded: bool) -> None:
        if module in self.census.watched:
            try:
                self.census.imported(module, loaded)
            except Exception as exc:  # never break the user's import
                warn(f"seedmagic: {module} imported, but: {one_line(exc)}")
        if module not in self._by_module:
            return
        guard = self._importing.pop()
        source = self._by_module[module]
        try:
            self._forget_kept()  # also after a reload that raised part way: what it rebound is what is there now
            if loaded:
                self._imported[source.name] = _Imported(_read(source.get_state), _read(source.save_flags))
                seed = self._seed_for_import(source.name)
                if seed is not None:
                    warn_failures("seed", self._seed_imported(seed, frozenset({source.name}), by="import")[1])
                else:  # run anew (importlib.reload): seedmagic did not seed what its code just made
                    self.seedings.pop(source.name, None)
                    self.failures.pop(source.name, None)
                self.determinism.on_import(source)
            if guard is not None:
                self._restore_generators(guard)
            if loaded and self.listeners:
                self._tell("imported", (source.name,))
        except Exception as exc:  # never break the user's import
            warn(f"seedmagic: {source.name} imported, but: {one_line(exc)}")

    # -- snapshots -------------------------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Every imported library's generators (accelerators only once initialized), the flags and the session."""
        states, unavailable = self._save_generators()
        return Snapshot(
            states,
            unavailable,
            session=self.session,
            seedings=dict(self.seedings),
            failures=dict(self.failures),
            reach=self.census.reaching,
            determinism=self.determinism.save(),
        )

    def restore(self, snapshot: Snapshot) -> None:
        """Put back everything ``snapshot`` saved; a generator or flag that fails does not stop the others.

        A library first imported after the snapshot is left as the restored session would have left it: seeded at
        import with the session seed where there is one, else with the state and flags it had right after its
        import, and switched to deterministic algorithms if the session's deterministic mode is on."""
        if not isinstance(snapshot, Snapshot):  # a tuple of the same length is not one: nothing is changed
            raise InvalidArgumentType(
                f"restore takes a Snapshot (from seedmagic.snapshot()), not {type(snapshot).__name__}"
            )
        if self.listeners:
            self._tell("restoring")
        self._restore_generators(snapshot.states)
        self._set_session(snapshot.session)
        self.seedings, self.failures = dict(snapshot.seedings), dict(snapshot.failures)
        if self.census.reaching != snapshot.reach:
            self.census.set_reach(snapshot.reach)
        self.determinism.load(snapshot.determinism)
        newcomers = [s for s in self.sources if s.imported() and s.name not in snapshot.imported]
        for source in newcomers:
            self._as_if_imported_now(source)
        self.refresh_hook()
        if self.listeners:
            self._tell("restored")

    def _as_if_imported_now(self, source: Source) -> None:
        """Leave a library imported inside an isolated block as its import under the current session would have."""
        imported = self._imported.get(source.name)
        seed = self.seed if source.name in self.selection else None
        failed = {}
        if seed is not None and source.seedable:
            failed = self._seed_imported(seed, frozenset({source.name}), by="import")[1]
        elif imported is not None and imported.state is not None:
            try:
                source.set_state(imported.state)
            except Exception as exc:
                failed[source.name] = one_line(exc)
        try:
            self.determinism.on_restore(source, None if imported is None else imported.flags)
        except Exception as exc:
            failed[f"{source.name} flags"] = one_line(exc)
        warn_failures("restore", failed)

    def _save_generators(self) -> tuple[dict[str, Any], dict[str, str]]:
        states, unavailable = {}, {}
        for source in self.sources:
            if not source.imported():
                continue
            try:
                states[source.name] = source.get_state()
            except StateUnavailable as exc:
                unavailable[source.name] = str(exc)
            except Exception as exc:
                unavailable[source.name] = one_line(exc)
            else:
                # What the saved state leaves out (TensorFlow's op kernels, cuRAND): said, not pretended.
                left_out = source.unsaved()
                if left_out:
                    unavailable[source.name] = left_out
        return states, unavailable

    def _restore_generators(self, states: dict[str, Any]) -> None:
        failed = {}
        for source in self.sources:
            if source.name in states:
                try:
                    source.set_state(states[source.name])
                except Exception as exc:
                    failed[source.name] = one_line(exc)
        warn_failures("restore", failed)

    @contextmanager
    def isolated(self) -> Iterator[Snapshot]:
        """Run the block, then put back every generator, flag and the session seed, even if it raises or is stopped."""
        __tracebackhide__ = True
        saved = self.snapshot()
        try:
            yield saved
        finally:
            self.restore(saved)

    # -- status ----------------------------------------------------------------------------------------------------

    def marks(self, libraries: Iterable[str] | None = None) -> Marks:
        """Cheap readings of every imported library's generators and of the determinism flags, to compare with
        another reading: equal marks, same states and flags. Reads only, like ``status``. With ``libraries``, only
        those libraries' generators (and no flags).

        A live panel reads them after every cell: this is its hot path, kept to one call per reading."""
        kept = self._readers_kept
        readers = kept[1] if kept is not None and kept[0] == self._modules_key() else self._readers_now()
        if libraries is not None:
            wanted = set(libraries)
            return _read_marks(tuple(reader for reader in readers if reader[0] in wanted), None)
        determinism = self.determinism
        flags = (tuple(map(os.environ.get, self._flag_variables)), determinism.enabled, determinism.warn_only)
        return _read_marks(readers, flags)

    def _readers_now(self) -> tuple[tuple[str, Readers], ...]:
        """Per imported library: its name and its readers (``Source.readers``), bound once while nothing is
        imported."""
        kept = self._readers_kept
        modules = self._modules_key()
        if kept is not None and kept[0] == modules:  # the usual case, after every cell
            return kept[1]
        readers, bound = [], True
        for source in self._imported_now():
            try:
                readers.append((source.name, source.readers()))
            except Exception as exc:  # its error is its mark, and it is bound again next time
                readers.append((source.name, Readers(_raiser(exc), None, None)))
                bound = False
        if bound:
            self._readers_kept = (modules, tuple(readers))
        return tuple(readers)

    def _imported_now(self) -> tuple[Source, ...]:
        """The imported libraries, kept while nothing is imported (see ``_modules_key``): a live panel asks after
        every cell."""
        modules = self._modules_key()
        kept = self._imported_kept
        if kept is not None and kept[0] == modules:
            return kept[1]
        sources = tuple(source for source in self.sources if source.imported())
        self._imported_kept = (modules, sources)
        return sources

    def _modules_key(self) -> tuple[object, ...]:
        """What the answers kept about the imported libraries depend on: how many modules there are, and the module
        each library's name holds now. A library blocked (``sys.modules["torch"] = None``) or replaced in
        ``sys.modules`` leaves the count as it was; its module does not. (About 0.5 µs.)"""
        modules = sys.modules
        return (len(modules), *map(modules.get, self._module_names))

    def _forget_kept(self) -> None:
        """Forget every answer kept about the imported libraries: one was imported, or its module ran anew."""
        self._seedable_kept = self._on_import_kept = self._imported_kept = self._readers_kept = None

    def shown_flags(self) -> tuple[Flag, ...]:
        """Every determinism flag as it is now, with its verdict (as in ``status``)."""
        try:
            return tuple(self.determinism.shown_flags())
        except Exception as exc:
            return (Flag("flags", "unreadable", None, one_line(exc)),)

    def status(self) -> Status:
        """What every library and flag looks like now. Reads only; imports nothing and starts no device."""
        on_import = set(self._on_import_names())
        libraries = []
        for source in self.sources:
            imported = source.imported()
            streams, state_error = {}, ""
            seed_error = self.failures.get(source.name, "")
            seeding = self.seedings.get(source.name) if imported else None
            seeded_outside = None
            if imported:
                try:
                    streams = source.shown_streams()
                except Exception as exc:
                    state_error = f"state unreadable: {one_line(exc)}"
                seeded_outside = _seeded_outside(source, seeding)
            blocked = source.blocked()
            installed = source.installed()
            note = source.note if installed else ""
            if blocked:  # importlib finds nothing then; pip's record still tells the version installed
                note = f"sys.modules[{source.module!r}] is None: import {source.module} raises ImportError"
            libraries.append(
                LibraryStatus(
                    name=source.name,
                    installed=installed,
                    imported=imported,
                    version=source.version() if installed or blocked else None,
                    seeding=seeding,
                    on_import=source.name in on_import,
                    streams=streams,
                    note=note,
                    seedable=source.seedable,
                    seed_error=f"seeding failed: {seed_error}" if seed_error else "",
                    state_error=state_error,
                    seeded_outside=seeded_outside,
                    seed_reader=source.seed_reader,
                    blocked=blocked,
                )
            )
        flags = self.shown_flags()
        return Status(
            seed=self.seed,
            per_rank=self.per_rank,
            mode=self.mode,
            cell_seed=self._scope.seed if self._scope is not None else None,
            last_cell_seed=self.last_cell_seed,
            deterministic=self.determinism.enabled,
            warn_only=self.determinism.warn_only,
            libraries=tuple(libraries),
            flags=flags,
            reach=self.census.reaching,
            unseeded=self.census.unseeded(),
            not_reached=self.census.not_reached(),
        )


def _seeded_outside(source: Source, seeding: Seeding | None) -> int | None:
    """The seed the library says it was last seeded with, where that is not seedmagic's last seeding of it (with
    none, not the seed the library starts from): the code seeded it since (``torch.manual_seed``, ``torch.seed``)."""
    library_seed = _read(source.library_seed)
    if library_seed is None:
        return None
    expected = source.default_seed if seeding is None else seeding.seed
    return None if library_seed == expected else library_seed


def _read_marks(readers: tuple[tuple[str, Readers], ...], flags: tuple[Any, ...] | None) -> Marks:
    """The marks of ``readers``, with ``flags`` and each library's flags mark appended (None: no flags). A reading
    that raises makes its error its mark."""
    states: dict[str, Any] = {}
    seeds: dict[str, int | None] = {}
    read = flags
    try:
        for name, (mark, flags_mark, seed) in readers:
            states[name] = mark()
            if read is not None and flags_mark is not None:
                read += (flags_mark(),)
            if seed is not None:
                seeds[name] = seed()
    except Exception:  # a library's reading failed: its error is its mark
        return _read_marks(tuple((name, _guarded(bound)) for name, bound in readers), flags)
    return Marks(states, read or (), seeds)


def _guarded(readers: Readers) -> Readers:
    """Readers that never raise: a mark's error is its mark, a seed that cannot be read is None."""
    mark, flags_mark, seed = readers
    return Readers(
        functools.partial(_mark, mark),
        None if flags_mark is None else functools.partial(_mark, flags_mark),
        None if seed is None else functools.partial(_read, seed),
    )


def _raiser(exc: Exception) -> Callable[[], Any]:
    def read() -> Any:
        raise exc

    return read


def _mark(read: Callable[[], Any]) -> Any:
    """A mark (``Source.mark``, ``Source.flags_mark``), or the one-line error that reading it raised: compared like
    any mark, an error that changes shows as a change."""
    try:
        return read()
    except Exception as exc:
        return one_line(exc)


def _read(read: Callable[[], _Value]) -> _Value | None:
    """What ``read()`` returns, or None where it cannot be read."""
    try:
        return read()
    except Exception:
        return None


ENGINE = Engine()
"""The process's one session, shared by the magics and the Python API."""
