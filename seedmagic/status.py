"""What ``%seed`` prints and the panel draws: the status of the session, each library and each flag, the report of
one seeding, and their text form, which fits in 80 columns."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from .census import Unseeded
from .places import short_path
from .ranks import PerRank
from .sources import Flag

WIDTH = 80
"""The text form fits in this many columns: a terminal's, and a notebook's output at 400 px or so."""
_INDENT = "    "
VERDICTS = {True: "ok", False: "NOT DETERMINISTIC", None: "-"}


class Seeding(NamedTuple):
    """The last seeding of one library: with what seed, and by what (``session``, ``cell``, ``auto``, ``import``)."""

    seed: int
    by: str


class SeedReport(NamedTuple):
    """What one seeding did."""

    seed: int | None
    seeded: tuple[str, ...] = ()
    on_import: tuple[str, ...] = ()
    failed: Mapping[str, str] = MappingProxyType({})
    deterministic: bool | None = None
    flags_changed: tuple[str, ...] = ()
    auto: bool | None = None
    #: With ``per_rank``: the seed given, and the rank whose seed was derived from it.
    per_rank: PerRank | None = None
    #: ``--reach`` switched on (True) or off (False); with it on, the names bound before it that it cannot reach.
    reach: bool | None = None
    not_reached: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = []
        if self.seed is not None:
            seeded = ", ".join(self.seeded) or "nothing imported yet"
            parts.append(f"seeded {seeded} with {self.seed}")
        if self.per_rank is not None:
            parts.append(str(self.per_rank))
        if self.on_import:
            verb = "is" if len(self.on_import) == 1 else "are"
            parts.append(f"{', '.join(self.on_import)} {verb} seeded on import")
        if self.deterministic is True:
            parts.append(f"deterministic mode on ({', '.join(self.flags_changed) or 'on import'})")
        elif self.deterministic is False:
            restored = ", ".join(self.flags_changed) or "nothing to restore"
            parts.append(f"deterministic mode off (restored {restored})")
        if self.auto is True:
            parts.append("auto mode on: every cell is reseeded with a seed derived from the session seed and the cell")
        elif self.auto is False:
            parts.append("auto mode off")
        if self.reach is True:
            parts.append("reach on: generators made without a seed are seeded from the seed in force")
            if self.not_reached:
                parts.append(f"NOT reached (bound before): {', '.join(self.not_reached)}")
        elif self.reach is False:
            parts.append("reach off")
        for name, error in self.failed.items():
            parts.append(f"{name} FAILED ({error})")
        return "seedmagic: " + "; ".join(parts)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


class LibraryStatus(NamedTuple):
    name: str
    installed: bool
    imported: bool
    version: str | None
    seeding: Seeding | None
    on_import: bool
    streams: dict[str, str]
    #: A remark about the library (e.g. that it has no global generator).
    note: str = ""
    #: Why its last seeding failed, and why its state could not be read.
    seed_error: str = ""
    state_error: str = ""
    #: False for a library with no global generator (JAX): listed, never seeded.
    seedable: bool = True
    #: The seed the library says its generator was last seeded with (``seed_reader``), where that is not the last
    #: seeding seedmagic did (or, with none, not the library's own starting seed): code seeded it behind seedmagic.
    seeded_outside: int | None = None
    seed_reader: str = ""
    #: Its import is blocked: ``sys.modules[name]`` is None.
    blocked: bool = False

    @property
    def error(self) -> str:
        return "; ".join(error for error in (self.seed_error, self.state_error) if error)

    @property
    def outside(self) -> str:
        """What a seeding behind seedmagic's back left, said under the row (empty: nothing)."""
        if self.seeded_outside is None:
            return ""
        by = "" if self.seeding is None else f", not the {self.seeding.seed} seedmagic gave it ({self.seeding.by})"
        return (
            f"seeded since by the code, not by seedmagic: {self.seed_reader} is {self.seeded_outside}{by}; "
            f"a seed drawn from the OS ({self.name}.seed()) differs every run"
        )

    @property
    def state(self) -> str:
        if self.blocked:
            return "import blocked"
        if not self.installed:
            return "not installed"
        if not self.seedable:
            return "imported" if self.imported else "not imported"
        if not self.imported:
            return "seeded on import" if self.on_import else "not imported"
        if self.seeded_outside is not None:
            return "RESEEDED by the code" if self.seeding is not None else "seeded by the code"
        if self.seeding is None:
            return "seeding FAILED" if self.seed_error else "unseeded"
        return f"seeded with {self.seeding.seed} ({self.seeding.by})"

    @property
    def fingerprint(self) -> str:
        return " ".join(f"{stream}={value}" for stream, value in self.streams.items())


class Summary(NamedTuple):
    """The one line the panel shows folded: the seeds, the mode, how many imported libraries are seeded, how many
    flags are not deterministic, and which libraries the last cell drew from."""

    seed: int | None
    mode: str
    last_cell_seed: int | None
    #: Imported libraries with a global generator, and how many of them are seeded.
    seeded: int
    imported: int
    #: Flags whose verdict is NOT DETERMINISTIC.
    not_deterministic: int
    #: The libraries the last cell drew from; None before a cell has been watched.
    drew: tuple[str, ...] | None = None
    #: The flags the last cell changed.
    changed: tuple[str, ...] = ()
    #: Generators made without a seed that reach did not seed (with the census or reach on).
    unseeded: int = 0
    reach: bool = False
    #: Of ``drew``, those no seed of seedmagic's was in force for: no session seed, nor one seeded by a cell.
    drew_without_seed: tuple[str, ...] = ()

    def parts(self) -> list[str]:
        parts = [
            f"seed {'none' if self.seed is None else self.seed}",
            f"mode {self.mode}",
            f"last cell {'-' if self.last_cell_seed is None else self.last_cell_seed}",
            # With no session seed, what is seeded was seeded by a cell (%%seeded, seeded()).
            f"{self.seeded}/{self.imported} seeded" + (" by a cell" if self.seed is None and self.seeded else ""),
            f"{self.not_deterministic} flag{'' if self.not_deterministic == 1 else 's'} NOT deterministic",
        ]
        if self.drew is not None:
            drew = ", ".join(name + (" (no seed set)" if name in self.drew_without_seed else "") for name in self.drew)
            parts.append(f"drew from {drew or 'nothing'}")
        if self.changed:
            parts.append(f"changed {', '.join(self.changed)}")
        if self.reach:
            parts.append("reach on")
        if self.unseeded:
            parts.append(f"{self.unseeded} made without a seed")
        return parts

    def __str__(self) -> str:
        return "seedmagic: " + "; ".join(self.parts())


class Status(NamedTuple):
    """What ``%seed`` shows and the panel draws: the session, each library, each flag."""

    seed: int | None
    #: ``none`` (no seed), ``manual`` (%seed N) or ``auto`` (%seed N --auto: every cell reseeded).
    mode: str
    #: With ``%seed N --per-rank``: N and the rank the session seed was derived for (None: no job, rank 0).
    per_rank: PerRank | None
    #: The seed of the cell running now (inside %%seeded or an auto cell), else None.
    cell_seed: int | None
    #: The seed the last seeded cell got (from %%seeded or auto mode).
    last_cell_seed: int | None
    deterministic: bool
    warn_only: bool
    libraries: tuple[LibraryStatus, ...]
    flags: tuple[Flag, ...]
    #: Whether ``--reach`` seeds generators made without a seed.
    reach: bool = False
    #: Where generators were made without a seed (the census), and the names reach cannot seed through.
    unseeded: tuple[Unseeded, ...] = ()
    not_reached: tuple[str, ...] = ()

    def library(self, name: str) -> LibraryStatus:
        return next(library for library in self.libraries if library.name == name)

    def summary(self, drew: tuple[str, ...] | None = None, changed: tuple[str, ...] = ()) -> Summary:
        """The folded panel's line; ``drew`` and ``changed``: the libraries the last cell drew from and the flags it
        changed, where known."""
        imported = [lib for lib in self.libraries if lib.imported and lib.seedable]
        return Summary(
            self.seed,
            self.mode,
            self.last_cell_seed,
            sum(lib.seeding is not None and lib.seeded_outside is None for lib in imported),
            len(imported),
            sum(flag.ok is False for flag in self.flags),
            drew,
            changed,
            unseeded_count(self.unseeded),
            self.reach,
        )

    def headline(self) -> str:
        """The first line: the session seed, the mode, the last cell's seed and the deterministic switch."""
        seed = "none (use %seed N)" if self.seed is None else str(self.seed)
        if self.per_rank is not None:
            seed += f" ({self.per_rank})"
        last = "" if self.last_cell_seed is None else f", last cell got {self.last_cell_seed}"
        deterministic = "on" + (" (warn only)" if self.warn_only else "") if self.deterministic else "off"
        reach = "; reach on" if self.reach else ""
        return f"seedmagic: session seed {seed}; mode {self.mode}{last}; deterministic mode {deterministic}{reach}"

    def __str__(self) -> str:
        lines = _wrap_parts(self.headline().split("; "), "; ")
        rows = [(lib.name, lib.version or "", lib.state, lib.fingerprint) for lib in self.libraries]
        notes = [[text for text in (lib.outside, lib.note, lib.error) if text] for lib in self.libraries]
        lines += table(("library", "version", "state", "fingerprint"), rows, notes)
        flag_rows = [(flag.name, str(flag.value), VERDICTS.get(flag.ok, "-")) for flag in self.flags]
        lines += table(("flag", "value", "verdict"), flag_rows, [[flag.note] for flag in self.flags])
        lines += self._unseeded_lines()
        return "\n".join(lines)

    def _unseeded_lines(self) -> list[str]:
        """The census: where generators were made without a seed, and whether reach seeded them. Those made inside
        a library (for the user's call, or for its own use: ``tempfile``'s names) are charged to it, in one line."""
        lines = []
        mine = [site for site in self.unseeded if not site.via]
        theirs = [site for site in self.unseeded if site.via]
        if mine:
            header = ("made without a seed", "at", "times", "reach")
            # A file's path is shortened to what leaves its row room for the count and "-" (a longer reach goes
            # under the row).
            times = max(len(header[2]), *(len(str(site.count)) for site in mine))
            at_width = WIDTH - max(len(header[0]), *(len(site.library) for site in mine)) - times - 2 * 3 - 1
            rows, notes = [], []
            for site in mine:
                reached = f"{site.reached} seeded" if site.reached else "-"
                if site.last_seed is not None:
                    reached += f", last with {site.last_seed}"
                rows.append((site.library, site.shown_where(at_width), str(site.count), reached))
                notes.append([site.note] if site.note else [])
            lines += table(header, rows, notes)
        if theirs:
            places = "; ".join(
                f"{short_path(site.via, 40)} x{site.count} ({site.shown_where(30)})"
                + (f", {site.reached} seeded" if site.reached else "")
                for site in theirs
            )
            lines += textwrap.wrap(
                f"made without a seed inside libraries, called from your code: {places}",
                WIDTH,
                subsequent_indent=_INDENT,
                break_on_hyphens=False,
                break_long_words=False,
            )
        if self.unseeded and not self.reach:
            lines.append("(%seed N --reach seeds them from the seed in force)")
        if self.not_reached:
            text = f"NOT reached by --reach (bound before it): {', '.join(self.not_reached)}"
            lines += textwrap.wrap(text, WIDTH, subsequent_indent=_INDENT, break_on_hyphens=False)
        return lines

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def unseeded_count(rows: Iterable[Unseeded]) -> int:
    """How many generators were made without a seed and left so (reach seeds the others)."""
    return sum(row.count - row.reached for row in rows)


def _wrap_parts(parts: Sequence[str], separator: str) -> list[str]:
    """``parts`` joined by ``separator``, broken between parts (within one only where it alone is too wide)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(separator) + len(part) <= WIDTH:
            lines[-1] += separator + part
            continue
        if lines:
            lines[-1] += separator.rstrip()
        first = _INDENT if lines else ""
        lines += textwrap.wrap(part, WIDTH, initial_indent=first, subsequent_indent=_INDENT, break_on_hyphens=False)
    return lines


def table(header: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[Iterable[str]]) -> list[str]:
    """Columns padded to their widest cell, each row's notes wrapped under it, indented: at most WIDTH columns.

    A row whose last cell would pass WIDTH has that cell moved under it, with its notes; a row still too wide (a very
    long name) is left as it is rather than cut."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join([*(cell.ljust(w) for cell, w in zip(cells, widths, strict=False)), cells[-1]]).rstrip()

    lines = [line(header)]
    for row, row_notes in zip(rows, notes, strict=True):
        texts = list(row_notes)
        text = line(row)
        if len(text) > WIDTH and row[-1]:
            text, texts = line([*row[:-1], ""]), [row[-1], *texts]
        lines.append(text)
        for note in texts:
            lines += textwrap.wrap(
                note, WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT, break_on_hyphens=False
            )
    return lines
