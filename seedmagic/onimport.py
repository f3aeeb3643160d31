"""Seeding on import: a library imported while a seed is in force is seeded as its import finishes.

The engine's import hook watches the libraries' modules (and those the census patches) while a seed, the
deterministic switch, the census, a seeding record or a live panel waits for one. As a watched library's import
finishes, it is seeded with the seed in force and switched to deterministic algorithms where the switch is on; an
import that draws from another library's generator (TensorFlow's draws from Python's ``random``) leaves that one as
it was. Nothing here knows IPython.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import one_line, warn, warn_failures
from .importhook import ImportHook
from .marks import read_or_none
from .snapshots import restore_generators, save_generators

if TYPE_CHECKING:
    from .engine import Engine
    from .sources import Source

_ON_IMPORT_KEPT_S = 1.0


class _Imported(NamedTuple):
    """A library as it was when its import finished, before seedmagic seeded it or switched its flags: what an
    isolated cell that imported it puts back when no session seed would have seeded it."""

    state: Any
    flags: Any


class ImportSeeding:
    """What the engine does as a library is imported: the hook that watches imports, the record of each library as
    its import left it, and which libraries an import would seed now."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._by_module = {source.module: source for source in engine.sources}
        self.hook = ImportHook({*self._by_module, *engine.census.watched}, self._import_started, self._import_finished)
        self._importing: list[dict[str, Any] | None] = []
        self._imported: dict[str, _Imported] = {}
        self._on_import_kept: tuple[tuple[Any, ...], float, tuple[str, ...]] | None = None

    def refresh_hook(self) -> None:
        """Watch imports while a seed or the deterministic switch waits for a library, while the census or reach is
        on, while a library is recorded as seeded (run anew, ``importlib.reload``, it is seeded again or its record
        dropped), and while a listener (a live panel) reads a library as it is imported."""
        if (
            self.engine.seed is not None
            or self.engine.cells.scope is not None
            or self.engine.determinism.enabled
            or self.engine.census.active
            or self.engine.seedings
            or self.engine.listeners
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
        in_force = self.engine.current_seed() is not None
        guard = save_generators(self.engine.sources)[0] if outermost and in_force else None
        if guard is not None:
            # The library being imported is in sys.modules from the start of its import, its state not yet: what
            # get_state reads now must not be put back over the seeding at the end of the import.
            guard.pop(self._by_module[module].name, None)
        self._importing.append(guard)

    def _import_finished(self, module: str, loaded: bool) -> None:
        if module in self.engine.census.watched:
            try:
                self.engine.census.imported(module, loaded)
            except Exception as exc:  # never break the user's import
                warn(f"seedmagic: {module} imported, but: {one_line(exc)}")
        if module not in self._by_module:
            return
        guard = self._importing.pop()
        source = self._by_module[module]
        try:
            self._forget_kept()  # also after a reload that raised part way: what it rebound is what is there now
            if loaded:
                self._imported[source.name] = _Imported(read_or_none(source.get_state), read_or_none(source.save_flags))
                seed = self._seed_for_import(source.name)
                if seed is not None:
                    warn_failures("seed", self.engine.seed_imported(seed, frozenset({source.name}), by="import")[1])
                else:  # run anew (importlib.reload): seedmagic did not seed what its code just made
                    self.engine.seedings.pop(source.name, None)
                    self.engine.failures.pop(source.name, None)
                self.engine.determinism.on_import(source)
            if guard is not None:
                restore_generators(self.engine.sources, guard)
            if loaded and self.engine.listeners:
                self.engine.tell("imported", (source.name,))
        except Exception as exc:  # never break the user's import
            warn(f"seedmagic: {source.name} imported, but: {one_line(exc)}")

    def _seed_for_import(self, name: str) -> int | None:
        if self.engine.cells.scope is not None and name in self.engine.cells.scope.selection:
            return self.engine.cells.scope.seed
        if self.engine.seed is not None and name in self.engine.selection:
            return self.engine.seed
        return None

    def on_import_names(self) -> tuple[str, ...]:
        """The libraries an import would seed now: not imported yet, installed, selected, with a seed in force."""
        if not self.hook.installed:
            return ()
        # Every %seed reports these, and asking whether a library is installed is the slow part: the answer is kept
        # while nothing was imported (see ImportedLibraries.key) and the seed in force is the same, for at most
        # _ON_IMPORT_KEPT_S, so that a library installed since (%pip install takes longer) is seen.
        key = (self.engine.libraries.key(), self.engine.cells.scope, self.engine.seed is None, self.engine.selection)
        now = time.monotonic()
        kept = self._on_import_kept
        if kept is not None and kept[0] == key and now - kept[1] < _ON_IMPORT_KEPT_S:
            blocked = {s.name for s in self.engine.sources if s.blocked()}
            return tuple(name for name in kept[2] if name not in blocked)
        names = tuple(
            s.name
            for s in self.engine.sources
            if not s.imported()
            and not s.blocked()  # sys.modules[name] = None: an import raises, and seeds nothing
            and self._seed_for_import(s.name) is not None
            and s.seedable
            and s.installed()
        )
        self._on_import_kept = (key, now, names)
        return names

    def as_if_imported_now(self, source: Source) -> None:
        """Leave a library imported inside an isolated block as its import under the current session would have."""
        imported = self._imported.get(source.name)
        seed = self.engine.seed if source.name in self.engine.selection else None
        failed = {}
        if seed is not None and source.seedable:
            failed = self.engine.seed_imported(seed, frozenset({source.name}), by="import")[1]
        elif imported is not None and imported.state is not None:
            try:
                source.set_state(imported.state)
            except Exception as exc:
                failed[source.name] = one_line(exc)
        try:
            self.engine.determinism.on_restore(source, None if imported is None else imported.flags)
        except Exception as exc:
            failed[f"{source.name} flags"] = one_line(exc)
        warn_failures("restore", failed)

    def _forget_kept(self) -> None:
        """Forget every answer kept about the imported libraries: one was imported, or its module ran anew."""
        self._on_import_kept = None
        self.engine.libraries.forget()
