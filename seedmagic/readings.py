"""Reading the libraries: what every library and flag looks like now, read without changing anything.

``status`` is the full reading that ``%seed`` and the unfolded panel show; ``marks`` the cheap one a live panel
compares after every cell (see ``marks.py``); ``library_seeds`` the seed each library says it was last seeded with.
Nothing here imports a library or starts a device.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import one_line
from .marks import Marks, read_marks, read_or_none
from .sources import Flag
from .status import LibraryStatus, Status

if TYPE_CHECKING:
    from .engine import Engine
    from .sources import Source
    from .status import Seeding


class Readings:
    """The engine's libraries and flags as they are now, read through the readers ``engine.libraries`` keeps."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.libraries = engine.libraries
        # The environment variables whose value can change a flag's verdict. Not PYTHONHASHSEED: the interpreter
        # reads it only as it starts, so setting it later changes no verdict (only a note the full status reads).
        self._flag_variables = tuple(var for s in engine.sources for var in s.deterministic_env)

    def marks(self, libraries: Iterable[str] | None = None) -> Marks:
        """Cheap readings of every imported library's generators and of the determinism flags, to compare with
        another reading: equal marks, same states and flags. Reads only, like ``status``. With ``libraries``, only
        those libraries' generators (and no flags).

        A live panel reads them after every cell: this is its hot path, kept to one call per reading."""
        readers = self.libraries.readers()
        if libraries is not None:
            wanted = set(libraries)
            return read_marks(tuple(reader for reader in readers if reader[0] in wanted), None)
        determinism = self.engine.determinism
        flags = (tuple(map(os.environ.get, self._flag_variables)), determinism.enabled, determinism.warn_only)
        return read_marks(readers, flags)

    def shown_flags(self) -> tuple[Flag, ...]:
        """Every determinism flag as it is now, with its verdict (as in ``status``)."""
        try:
            return tuple(self.engine.determinism.shown_flags())
        except Exception as exc:
            return (Flag("flags", "unreadable", None, one_line(exc)),)

    def status(self) -> Status:
        """What every library and flag looks like now. Reads only; imports nothing and starts no device."""
        on_import = set(self.engine.imports.on_import_names())
        libraries = []
        for source in self.engine.sources:
            imported = source.imported()
            streams, state_error = {}, ""
            seed_error = self.engine.failures.get(source.name, "")
            seeding = self.engine.seedings.get(source.name) if imported else None
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
        flags = self.engine.shown_flags()
        return Status(
            seed=self.engine.seed,
            per_rank=self.engine.per_rank,
            mode=self.engine.mode,
            cell_seed=self.engine.cells.scope.seed if self.engine.cells.scope is not None else None,
            last_cell_seed=self.engine.last_cell_seed,
            deterministic=self.engine.determinism.enabled,
            warn_only=self.engine.determinism.warn_only,
            libraries=tuple(libraries),
            flags=flags,
            reach=self.engine.census.reaching,
            unseeded=self.engine.census.unseeded(),
            not_reached=self.engine.census.not_reached(),
        )

    def library_seeds(self) -> dict[str, int]:
        """The seed each imported library says its global generator was last seeded with, where it can tell
        (torch: ``torch.initial_seed()``): what ``%%seeded --check`` compares between its two runs."""
        seeds = {}
        for name, readers in self.libraries.readers():  # the readings a live panel makes, bound once
            seed = None if readers.seed is None else read_or_none(readers.seed)
            if seed is not None:
                seeds[name] = seed
        return seeds

    def reseeded_by_code(self, seeds: dict[str, int | None] | None = None) -> tuple[str, ...]:
        """The imported libraries whose own reading of their last seed (torch: ``torch.initial_seed()``) is not the
        last seeding seedmagic did: the code seeded them since. Only libraries that can tell. ``seeds``: those
        readings, already taken (``Marks.seeds``): a live panel's folded line asks after every cell."""
        seedings = self.engine.seedings
        read: dict[str, int] | dict[str, int | None] = self.engine.library_seeds() if seeds is None else seeds
        return tuple(
            name for name, seed in read.items() if seed is not None and name in seedings and seed != seedings[name].seed
        )


def _seeded_outside(source: Source, seeding: Seeding | None) -> int | None:
    """The seed the library says it was last seeded with, where that is not seedmagic's last seeding of it (with
    none, not the seed the library starts from): the code seeded it since (``torch.manual_seed``, ``torch.seed``)."""
    library_seed = read_or_none(source.library_seed)
    if library_seed is None:
        return None
    expected = source.default_seed if seeding is None else seeding.seed
    return None if library_seed == expected else library_seed
