"""The imported libraries, and what seedmagic binds for them, each kept while nothing is imported.

Auto mode seeds before every cell, every ``%seed`` names what an import would seed, and a live panel reads the
libraries after every cell: each asks which libraries are imported. The answers are kept under ``key()``, which
changes when a module is imported, and when a library's module is blocked or replaced in ``sys.modules``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from .marks import raiser
from .sources import Readers, Source


class ImportedLibraries:
    """Which of ``sources`` are imported, which of those can be seeded, and their readers, each kept under ``key()``
    until ``forget()``."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = tuple(sources)
        self._module_names = tuple(source.module for source in self.sources)
        self._imported_kept: tuple[tuple[object, ...], tuple[Source, ...]] | None = None
        self._seedable_kept: tuple[tuple[Any, ...], tuple[Source, ...]] | None = None
        self._readers_kept: tuple[tuple[object, ...], tuple[tuple[str, Readers], ...]] | None = None

    def key(self) -> tuple[object, ...]:
        """What the answers kept about the imported libraries depend on: how many modules there are, and the module
        each library's name holds now. A library blocked (``sys.modules["torch"] = None``) or replaced in
        ``sys.modules`` leaves the count as it was; its module does not. (About 0.5 µs.)"""
        modules = sys.modules
        return (len(modules), *map(modules.get, self._module_names))

    def imported(self) -> tuple[Source, ...]:
        """The imported libraries, kept while nothing is imported (see ``key``): a live panel asks after
        every cell."""
        modules = self.key()
        kept = self._imported_kept
        if kept is not None and kept[0] == modules:
            return kept[1]
        sources = tuple(source for source in self.sources if source.imported())
        self._imported_kept = (modules, sources)
        return sources

    def seedable(self, selection: frozenset[str]) -> tuple[Source, ...]:
        """The imported libraries in ``selection`` that have a global generator, in seeding order. Kept while
        nothing is imported (see ``key``): auto mode asks before every cell."""
        key = (self.key(), selection)
        kept = self._seedable_kept
        if kept is not None and kept[0] == key:
            return kept[1]
        sources = tuple(s for s in self.sources if s.name in selection and s.imported() and s.seedable)
        self._seedable_kept = (key, sources)
        return sources

    def readers(self) -> tuple[tuple[str, Readers], ...]:
        """Per imported library: its name and its readers (``Source.readers``), bound once while nothing is
        imported."""
        kept = self._readers_kept
        modules = self.key()
        if kept is not None and kept[0] == modules:  # the usual case, after every cell
            return kept[1]
        readers, bound = [], True
        for source in self.imported():
            try:
                readers.append((source.name, source.readers()))
            except Exception as exc:  # its error is its mark, and it is bound again next time
                readers.append((source.name, Readers(raiser(exc), None, None)))
                bound = False
        if bound:
            self._readers_kept = (modules, tuple(readers))
        return tuple(readers)

    def forget(self) -> None:
        """Forget every answer kept: a library was imported, or its module ran anew."""
        self._seedable_kept = self._imported_kept = self._readers_kept = None
