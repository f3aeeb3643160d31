"""What ``--trace`` reports: where two runs part (``Parting``), its likely cause with its fix, and the lines the
check's report shows (``Traced``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..compare import FIXES
from ..unseeded import made_without_seed
from .nondeterministic import Documented

if TYPE_CHECKING:
    from ..census import Unseeded


@dataclass(frozen=True)
class Parting:
    """The first operation where two runs' records differ, what differs there, and how much differs after it."""

    op: str
    number: int
    module: str
    backward: bool
    #: "values": the same inputs gave other outputs; "input": an input differs; "order": the runs ran other ops.
    kind: str
    step: str
    device: str
    excerpt: str
    #: The non-tensor argument that differs, in each run (a Python number, or a generator's state).
    argument: tuple[Any, Any] | None = None
    #: A differing tensor input that no traced operation made or last wrote.
    from_outside: bool = False
    draws: bool = False
    documented: Documented | None = None
    threads: tuple[str, ...] = ()
    later: int = 0
    later_total: int = 0
    later_modules: int = 0

    @property
    def where(self) -> str:
        module = self.module or "outside any module"
        phase = "backward" if self.backward else "forward"
        return f"{module}, {self.op} (call {self.number + 1}), {phase}{self.step}"

    def cause(self, made_without_seed: tuple[Unseeded, ...] = ()) -> str:
        """The likely cause of the parting, with its fix where there is one."""
        made = sorted((m for m in made_without_seed if not m.for_its_own_use), key=lambda m: bool(m.via))
        if self.kind == "order":
            return (
                "the runs ran other operations from here: the cell's control flow depends on a value that differs "
                "(see the operations just before)"
            )
        if self.argument is not None and isinstance(self.argument[0], tuple):
            which = self.argument[0][0]
            if which == "default generator":
                return (
                    "torch's default generator was in another state in each run: something reseeded it from the OS or "
                    "the clock (torch.seed()), or drew from it outside the cell"
                )
            return (
                "the torch.Generator it draws from was in another state in each run: it was seeded from the OS "
                f"(g.seed()) or not from the cell's seed: make it with {FIXES['torch']}"
            )
        if self.argument is not None:
            first, second = self.argument
            python = [m for m in made if m.library == "random"]
            if python:
                return _made_without_seed(python)
            return (
                f"a Python number passed to it differs ({first!r} vs {second!r}): from the clock (time.time()) or "
                "Python randomness nothing seeded (random.Random(), os.urandom, uuid)"
            )
        if self.kind == "input":
            if made:
                return _made_without_seed(made)
            if self.threads:
                return (
                    f"threads: the run started {_threads(self.threads)}, and this input was made or written outside "
                    "torch's traced operations, in an order that varies"
                )
            return (
                "this input was made outside torch's operations and differs: from NumPy, a Python value "
                "(torch.tensor(time.time())), os.urandom, or another thread"
            )
        if self.documented is not None:
            entry = self.documented
            what = (
                f"torch documents {self.op} as nondeterministic ({entry.when})"
                if entry.when
                else (f"torch documents {self.op} as nondeterministic")
            )
            if entry.raises:
                return (
                    f"{what}: under %seed --deterministic it raises RuntimeError here, as it has no deterministic "
                    "implementation (--warn-only warns instead); compute it another way"
                )
            return f"{what}: %seed --deterministic makes torch use a deterministic implementation"
        if self.threads:
            return (
                f"threads: the run started {_threads(self.threads)}; the same inputs gave other values, as when "
                "threads write its memory or finish in another order"
            )
        if made:
            return _made_without_seed(made)
        if self.device == "cpu":
            return (
                "the same inputs gave other values: its memory was written outside torch's operations (another "
                "thread, NumPy), or it read memory nothing wrote (torch.empty)"
            )
        return (
            f"the same inputs gave other values: a kernel that is not deterministic on {self.device} "
            "(%seed --deterministic), or memory written by another thread"
        )

    def lines(self, made_without_seed: tuple[Unseeded, ...] = ()) -> list[str]:
        """The report's lines: where, the values, the cause, and the consequences in one line."""
        lines = [f"where the runs part: {self.where}"]
        if self.excerpt:
            lines.append(f"  {self.excerpt}")
        lines.append(f"  likely cause: {self.cause(made_without_seed)}")
        if self.later:
            modules = f"{self.later_modules} module{'s' if self.later_modules != 1 else ''}"
            lines.append(
                f"  after it, {self.later:,} of the {self.later_total:,} later operations differ, in {modules}: its "
                "consequences"
            )
        elif self.later_total:
            lines.append(f"  after it, none of the {self.later_total:,} later operations differs")
        return lines


def _made_without_seed(made: list[Unseeded]) -> str:
    unseeded = made_without_seed(made)
    if unseeded.inside_a_library:
        return f"{unseeded.where}, gives this input another value in each run: pass it one ({unseeded.fix})"
    return f"{unseeded.where} gives this input another value in each run: make it with {unseeded.fix}"


def _threads(names: tuple[str, ...]) -> str:
    count = len(names)
    return f"{count} thread{'s' if count != 1 else ''} ({', '.join(dict.fromkeys(names[:3]))})"


@dataclass(frozen=True)
class Traced:
    """What ``--trace`` found: how many operations each run dispatched, and where they part (None: nowhere)."""

    operations: int
    parting: Parting | None = None
    #: Why nothing was traced ("" when it was).
    untraced: str = ""

    def lines(self, made_without_seed: tuple[Unseeded, ...] = (), same_end: bool = False) -> list[str]:
        """The report's lines; ``same_end``: what the cell left was the same in both runs."""
        if self.untraced:
            return [f"trace: {self.untraced}"]
        if self.parting is None:
            return [f"trace: the {self.operations:,} torch operations gave the same values in both runs"]
        lines = self.parting.lines(made_without_seed)
        if same_end:
            lines[0] = f"trace: the runs part inside torch, though what the cell left is the same; {lines[0]}"
        return lines
