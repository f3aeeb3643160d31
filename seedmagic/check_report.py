"""The report of ``%%seeded --check``: what was compared, what differs, what could not be compared, the likely cause,
and the report's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .compare import FIXES
from .unseeded import made_without_seed

if TYPE_CHECKING:
    from .census import Unseeded
    from .trace import Traced

#: The cause line where none was found.
NO_KNOWN_CAUSE = (
    "no known cause: look for the clock (time.time()), os.urandom or uuid, threads, or GPU kernels that are not "
    "deterministic (%seed --deterministic)"
)
#: The name a difference in what the cell printed goes by.
PRINTED = "what it printed"


@dataclass(frozen=True)
class Difference:
    name: str
    why: str
    first: str
    second: str
    #: Where the values are generators not seeded from the cell's seed: the key of ``compare.FIXES`` that makes one.
    fix: str = ""
    #: Where the values are readings of a clock, each taken during its run: the clock (``time.perf_counter()``).
    clock: str = ""


@dataclass(frozen=True)
class Uncomparable:
    """A name whose two values could not be compared, and why. ``at_start``: its value before the cell could not be
    kept for the second run, so the two runs may not have started from the same value."""

    name: str
    why: str
    at_start: bool = False


class SeededDifferently(NamedTuple):
    """A library the two runs left seeded with different seeds, as the library reads its own (``reader``)."""

    library: str
    reader: str
    first: int
    second: int


@dataclass(frozen=True)
class CheckReport:
    """The outcome of ``run_twice``: which names were compared, which differ, which could not be compared, and what
    one process cannot check. ``reproducible``: no difference found; ``proven``: that, and everything compared."""

    seed: int | None
    compared: tuple[str, ...]
    differences: tuple[Difference, ...]
    caveats: tuple[str, ...] = ()
    uncomparable: tuple[Uncomparable, ...] = ()
    #: Generators the runs made without a seed (from OS entropy): the likely cause of a difference, where it was.
    made_without_seed: tuple[Unseeded, ...] = ()
    #: Libraries each run seeded differently (``torch.seed()`` draws a seed from the OS): the likely cause too.
    seeded_differently: tuple[SeededDifferently, ...] = ()
    #: Why the cell ran only once and nothing was compared ("" when it ran twice).
    unchecked: str = ""
    #: Bytes copied to undo the first run (what it wrote), and how many of them came from a GPU.
    copied: int = 0
    copied_from_device: int = 0
    #: With ``trace=True``: where inside torch the two runs part, or how many operations agreed.
    traced: Traced | None = None

    @property
    def reproducible(self) -> bool:
        """Both runs ran and no difference was found (some names may not have been comparable: see ``proven``)."""
        return not self.differences and not self.unchecked

    @property
    def proven(self) -> bool:
        """No difference found and every name compared: a verdict of "reproducible" without reservation."""
        return self.reproducible and not self.uncomparable

    @property
    def same_start(self) -> bool:
        """Both runs started from the same values: a difference found is the cell's doing."""
        return not any(u.at_start for u in self.uncomparable)

    def __str__(self) -> str:
        seed = "" if self.seed is None else f" from seed {self.seed}"
        unsure = {u.name for u in self.uncomparable}
        if self.unchecked:
            lines = [f"seedmagic: cannot tell whether the cell repeats: {self.unchecked}"]
        elif self.proven and not self.compared:
            lines = [f"seedmagic: nothing to compare: two runs{seed} bound, changed and showed nothing"]
        elif self.proven:
            lines = [f"seedmagic: reproducible: two runs{seed} gave the same {', '.join(self.compared)}"]
        elif self.reproducible:
            names = ", ".join(name for name in self.compared if name not in unsure) or "nothing else"
            lines = [
                f"seedmagic: reproducible as far as it can tell: two runs{seed} gave the same {names}; "
                f"cannot compare {', '.join(u.name for u in self.uncomparable)}:"
            ]
            lines += [f"  {u.name}: {u.why}" for u in self.uncomparable]
        else:
            count = f"{len({root(d.name) for d in self.differences})} of {len(self.compared)}"
            if self.same_start:
                lines = [f"seedmagic: NOT reproducible: two runs{seed} differ in {count}:"]
            else:
                start = ", ".join(u.name for u in self.uncomparable if u.at_start)
                lines = [
                    f"seedmagic: NOT reproducible as far as it can tell: two runs{seed} differ in {count}, but may not "
                    f"have started from the same {start}:"
                ]
            for d in self.differences:
                values = f": {d.first}  vs  {d.second}" if (d.first or d.second) and d.first != d.second else ""
                lines.append(f"  {d.name}: {d.why}{values}")
            lines += [f"  cannot compare {u.name}: {u.why}" for u in self.uncomparable]
            if self.traced is None or self.traced.parting is None:  # else the trace's cause, which is nearer
                lines.append(f"  {self.cause}")
        if self.traced is not None and not self.unchecked:
            lines += [f"  {line}" for line in self.traced.lines(self.made_without_seed, self.reproducible)]
        lines += [f"  note: {caveat}" for caveat in self.caveats]
        return "\n".join(lines)

    @property
    def cause(self) -> str:
        """The one likely cause of a difference, with its one fix, or that none is known."""
        # A generator the cell's names hold names itself; then one the user's own code made, before one a library
        # made for it.
        for differing in self.differences:
            if differing.fix:
                return f"cause: {differing.name} was not made from the cell's seed: make it with {FIXES[differing.fix]}"
        for differing in self.differences:
            if differing.clock:
                return (
                    f"cause: {differing.name} {'shows' if differing.name == PRINTED else 'is'} a reading of the clock "
                    f"({differing.clock}), another in each run: keep times out of what should repeat"
                )
        made = sorted((m for m in self.made_without_seed if not m.for_its_own_use), key=lambda m: bool(m.via))
        if made:
            unseeded = made_without_seed(made)
            if unseeded.inside_a_library:
                return f"cause: {unseeded.where}: pass it one ({unseeded.fix})"
            return f"cause: {unseeded.where}: make it with {unseeded.fix}"
        if self.seeded_differently:
            seeded = self.seeded_differently[0]
            return (
                f"cause: the cell seeds {seeded.library} from the OS or the clock, another seed in each run "
                f"({seeded.reader} {seeded.first}, then {seeded.second}): give it a fixed seed, or let %%seeded seed it"
            )
        return NO_KNOWN_CAUSE

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def seeded_differently(
    readers: dict[str, str], first: dict[str, int], second: dict[str, int]
) -> tuple[SeededDifferently, ...]:
    """The libraries that two runs left seeded with different seeds (``first``, ``second``: each library's own seed
    after each run; ``readers``: how each library reads it)."""
    return tuple(
        SeededDifferently(name, readers.get(name, ""), seed, second[name])
        for name, seed in first.items()
        if name in second and second[name] != seed
    )


def root(path: str) -> str:
    """The notebook name a path starts from: ``model`` for ``model.fc.weight``."""
    for index, char in enumerate(path):
        if char in ".[":
            return path[:index] or path
    return path


__all__ = [
    "CheckReport",
    "Difference",
    "SeededDifferently",
    "Uncomparable",
    "root",
    "seeded_differently",
]
