"""``%%seeded --check``: run a cell twice from the same seed and say whether it came out the same.

**Both runs start from the same state.** Before the first run, everything the notebook's names reach is recorded
(``namespace.Start``: containers' items, objects' attributes, closures, hooks, generators' states, tensors and arrays
watched for writes), so a value the cell reaches only through a function, a callback, a hook or another object is
found too. The first run works on the objects themselves; afterwards every object it changed is put back as it was,
in place (a tensor's bytes from the host copy made at its first write), the generators are reseeded, and the second
run works on the same objects. So the notebook ends as one plain run leaves it, and every object keeps its identity:
an optimizer still holds the model's very parameters. A cell that raises or is interrupted in its first run stops
there, as a plain cell would, and keeps what it did.

**What is compared:** every name the cell binds or deletes, the last expression (``Out``), and every object the
notebook already held that either run changed, named by its path (``model.fc.weight``, ``scores``,
``trainer.history``). Objects from before the cell are the same only as the very same object; what the runs made is
compared by value (``compare``). IPython's own names, functions, classes and modules bound by both runs, and a
warning's once-per-location record never count.

**Cannot compare** is a third outcome: an object the cell can reach whose state cannot be read (an open file, a
lock, a generator object) was used by both runs, and a write neither torch nor NumPy showed (from a thread of the
user's own, a C extension) cannot be undone: then the cell ran once and the report says so.

**Not covered:** what a cell changes outside the objects of the process (files, what it prints: both happen twice),
the state of library modules, a set's order, an object's attribute order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import clocks
from .check_report import NO_KNOWN_CAUSE as NO_KNOWN_CAUSE  # for the modules and tests that import it from here
from .check_report import PRINTED, CheckReport, Difference, Uncomparable, root
from .compare import Comparison, holds_strings_in_a_set
from .determinism import hash_seed_flag
from .errors import one_line
from .excerpts import excerpt
from .names import binding_order, code_of, ipython_name, is_code, iterated
from .namespace import Start, gc_paused, interrupts_deferred
from .plots import is_artist
from .reach import Record
from .values import MISSING
from .writes import NoRoom, size_text

if TYPE_CHECKING:
    from .namespace import Ended

LAST_EXPRESSION = "Out"
#: Copying that earns a line in the report: what the cell changes in bytes, or in time.
NOTEWORTHY_BYTES = 10_000_000
NOTEWORTHY_SECONDS = 0.05


class CheckRefused(Exception):
    """The check cannot run: a copy it needs does not fit (the message says how much)."""


# -- running twice -----------------------------------------------------------------------------------------------


def run_twice(
    run: Callable[[], Any],
    namespace: dict[str, Any],
    reseed: Callable[[], None],
    seed: int | None = None,
    *,
    code: str | types.CodeType | Iterable[types.CodeType] | None = None,
    silenced: bool = False,
    trace: bool = False,
) -> tuple[Any, CheckReport]:
    """Run ``run()`` (already seeded), put back everything it changed, ``reseed()``, run it again; compare the runs.

    ``code`` is what ``run`` executes (source or code objects): the order the cell binds names in, and the names it
    reads (what cannot be compared is named only where the cell reads it); by default the code objects held by the
    object ``run`` is a method of (the magic's compiled cell). ``silenced``: the value is not shown (a cell ending in
    ``;``), so it is not compared. ``trace``: also record a digest of every torch operation in each run and say where
    they part (``seedmagic.trace``). Returns the second run's value and the report; the namespace is left as the
    second run left it. ``CheckRefused`` where the copies the runs need do not fit.
    """
    __tracebackhide__ = True
    codes = code_of(run, code)
    start = Start.take(namespace, codes)
    try:
        if trace:
            from .trace import Tracer

            tracer = Tracer(namespace)
            value, report = _run_twice(
                start, tracer.traced(run, 0), reseed, seed, codes, silenced, second=tracer.traced(run, 1)
            )
            if report.unchecked:
                return value, report
            return value, dataclasses.replace(report, traced=tracer.result())
        return _run_twice(start, run, reseed, seed, codes, silenced)
    finally:
        start.release()


def _run_twice(
    start: Start,
    run: Callable[[], Any],
    reseed: Callable[[], None],
    seed: int | None,
    codes: list[types.CodeType] | None,
    silenced: bool,
    second: Callable[[], Any] | None = None,
) -> tuple[Any, CheckReport]:
    __tracebackhide__ = True
    namespace = start.namespace
    printed = _Printed()
    try:
        with printed.run() as first_print:

            def again() -> None:  # the first run is run anew: what it printed before is not its output
                first_print.clear()
                reseed()

            began = clocks.now()
            first_value = start.run(run, again=again)
            first_span = clocks.span(began)
    except NoRoom as refused:
        start.put_back()
        raise CheckRefused(f"--check stopped before the write: {refused}; nothing changed") from None
    lost, drawn = start.lost(), start.drawn_into()
    if lost or drawn:
        why = (
            f"the first run wrote into {', '.join(lost[:3])} where seedmagic could not see it (from a thread of its "
            "own, a C extension, or an array it made writable), so it cannot be undone for a second run"
            if lost
            else f"the cell draws into {', '.join(drawn[:3])}, made before it, which a second run would draw into "
            "again; make the figure in the cell (plt.subplots()) to check it"
        )
        return first_value, CheckReport(
            seed,
            (),
            (),
            copied=start.cost.copied,
            copied_from_device=start.cost.from_device,
            unchecked=f"{why}; the notebook holds what that one run left",
        )
    first = start.put_back(keep_end=True)
    with interrupts_deferred():  # every generator reseeded, or none
        reseed()
    outcome = _Outcome(start.known)
    for path, why in start.unrestored.items():
        outcome.not_kept(
            path,
            f"it could not be put back after the first run ({why}), so the second started from "
            "what the first left in it",
        )
    try:
        with printed.run():
            began = clocks.now()
            second_value = start.run(run if second is None else second)
            outcome.spans = (first_span, clocks.span(began))
    except NoRoom as refused:
        start.put_back(to=first)
        raise CheckRefused(
            f"--check stopped the second run: {refused}; the notebook holds what the first left"
        ) from None
    except (ValueError, TypeError, BufferError) as error:
        if not start.read_only_hit(error):
            raise
        written = ", ".join(entry.path for entry in start.arrays.guarded) if start.arrays else ""
        start.put_back(to=first)
        outcome.differ(written, "written in place by the second run only (the notebook holds what the first left)")
        return first_value, outcome.report(seed, start)
    _compare(start, first, first_value, second_value, codes, outcome, silenced)
    printed.compare(outcome)
    del namespace
    return second_value, outcome.report(seed, start)


@gc_paused
def _compare(
    start: Start,
    first: Ended,
    first_value: Any,
    second_value: Any,
    codes: list[types.CodeType] | None,
    outcome: _Outcome,
    silenced: bool = False,
) -> None:
    """What differs between the first run's end (``first``) and the second's (the objects as they are now)."""
    namespace = start.namespace
    records = start.records
    top = records[0]
    before: dict[str, Any] = top.state
    ended = first.states.get(top, before)
    changed = {id(record) for record in start.changed()} | {id(record) for record in first.states}
    bound = start.names.bound
    # The names: in the order the cell binds them, then the order of the namespace.
    names = dict.fromkeys([*binding_order(codes), *ended, *namespace, *before])
    for name in names:
        if ipython_name(name):
            continue
        a, b, was = ended.get(name, MISSING), namespace.get(name, MISSING), before.get(name, MISSING)
        if a is MISSING and b is MISSING:
            if was is not MISSING:
                outcome.compared.append(name)  # deleted by both
            continue
        if a is was and b is was and name not in bound:
            continue  # neither run rebound it; what it holds is compared object by object below
        if a is MISSING or b is MISSING:
            if was is not MISSING:
                outcome.differ(name, f"deleted only by the {'first' if a is MISSING else 'second'} run")
            else:
                outcome.differ(name, f"bound only by the {'first' if b is MISSING else 'second'} run")
            continue
        if is_code(a) and is_code(b):
            continue
        if outcome.judge(name, a, b) and holds_strings_in_a_set(a) and not hash_seed_flag().ok:
            outcome.caveats.append(
                f"{name} holds a set of strings: its order differs between processes unless PYTHONHASHSEED is "
                "set before the kernel starts, which one process cannot check"
            )
    if not hash_seed_flag().ok and not outcome.caveats:
        _note_set_order(codes, before, outcome)
    for record in records[1:]:
        if id(record) in changed and record.kind.readable and record.kind.name != "namespace":
            _judge_record(start, first, record, outcome)
        elif record.kind.name == "namespace" and id(record) in changed:
            _judge_module(record, first, outcome)
    if (first_value is not None or second_value is not None) and not silenced:
        outcome.judge(LAST_EXPRESSION, first_value, second_value)
    _compare_figures(start, first, outcome)
    for record in start.opaque():
        what = getattr(record.kind, "what", "its state cannot be read")
        outcome.not_kept(
            record.path, f"{what}, so both runs used it: the second started from what the first left in it"
        )


def _note_set_order(codes: list[types.CodeType] | None, before: dict[str, Any], outcome: _Outcome) -> None:
    """A note where the cell goes through a set of strings, or makes one: what it builds from it has the set's order,
    which is the same in one process and another in the next."""
    through, literal = iterated(codes)
    sets = [name for name in sorted(through) if holds_strings_in_a_set(before.get(name), depth=0)]
    if not sets and not literal:
        return
    what = f"goes through {', '.join(sets[:3])}, a set of strings, in its order" if sets else "makes a set of strings"
    outcome.caveats.append(
        f"the cell {what}: that order differs between processes unless PYTHONHASHSEED is set before the kernel "
        "starts, which one process cannot check"
    )


class _Printed:
    """What each run prints to ``sys.stdout``, shown as it is printed and kept, to be compared as ``seedmagic
    verify`` compares a stream (memory addresses, timings and colours taken out): a cell that prints the clock does
    not repeat, whatever it binds."""

    def __init__(self) -> None:
        self.runs: list[_Tee] = []

    @contextmanager
    def run(self) -> Iterator[_Tee]:
        tee = _Tee(sys.stdout)
        self.runs.append(tee)
        with contextlib.redirect_stdout(tee):
            yield tee

    def compare(self, outcome: _Outcome) -> None:
        if len(self.runs) != 2:
            return
        from .notebook.outputs import normalized_text

        first, second = (normalized_text("".join(tee.parts)).splitlines() for tee in self.runs)
        if not first and not second:
            return
        for index, (a, b) in enumerate(itertools.zip_longest(first, second, fillvalue=None)):
            if a != b:
                where = f"line {index + 1}" if a is not None and b is not None else "its length"
                outcome.differ(PRINTED, f"{where} differs", excerpt(a or ""), excerpt(b or ""))
                if a is not None and b is not None and outcome.spans is not None:
                    outcome.printed_clock(a, b)
                return
        outcome.compared.append(PRINTED)


class _Tee:
    """A stream that writes to ``stream`` and keeps what it wrote."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        if isinstance(text, str):
            self.parts.append(text)
        return int(self.stream.write(text) or 0)

    def clear(self) -> None:
        self.parts.clear()

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno: the stream's
        return getattr(self.stream, name)


def _compare_figures(start: Start, first: Ended, outcome: _Outcome) -> None:
    """The figures each run made that no name holds: what a plain cell shows below it."""
    second = start.figures.made() if start.figures is not None else []
    if len(first.figures) != len(second):
        outcome.differ("figures", f"the first run made {len(first.figures)}, the second {len(second)}")
        return
    for a, b in zip(first.figures, second, strict=True):
        if (id(a), id(b)) not in outcome.figures:
            outcome.judge(f"figure {getattr(b, 'number', '?')}", a, b)


def _judge_module(record: Record, first: Ended, outcome: _Outcome) -> None:
    """A module of the user's own: its names, as the notebook's."""
    before, now = record.state, record.obj
    ended = first.states.get(record, before)
    for name in dict.fromkeys([*ended, *now]):
        a, b = ended.get(name, MISSING), now.get(name, MISSING)
        if a is b or (a is before.get(name, MISSING) and b is a):
            continue
        path = f"{getattr(record.kind, 'prefix', '')}{name}"
        if a is MISSING or b is MISSING:
            outcome.differ(path, f"bound only by the {'first' if b is MISSING else 'second'} run")
        elif not (is_code(a) and is_code(b)):
            outcome.judge(path, a, b)


def _judge_record(start: Start, first: Ended, record: Record, outcome: _Outcome) -> None:
    """One object from before the cell that either run changed: its state at the end of each run."""
    path = record.path
    kind = record.kind
    a = first.states.get(record, record.state)
    b = kind.read(record.obj)
    comparison = Comparison(start.known)
    shown: tuple[Any, Any] | None = None
    try:
        why = kind.compare(comparison, a, b)
        if why is None and record.storage is not None and start.tensors is not None:
            why, shown = _tensor_bytes(start, record, a)
        elif why is None and record.array is not None and record.array.copy is not None:
            why = _array_bytes(record, comparison)
        elif why is None and kind.name == "tensor" and a.copy is not None:
            why = Comparison().diff(a.copy, record.obj.detach(), "")
    except Exception as exc:  # a state that cannot be read: said, never taken for the same
        outcome.cannot(path, f"its state cannot be read ({one_line(exc)})")
        return
    if why is not None:
        shown = shown or comparison.found or (kind.shown(a), kind.shown(b))
        outcome.differ(path, why.strip(), excerpt(shown[0]), excerpt(shown[1]), fix=comparison.fix or "")
        return
    outcome.compared.append(path)
    if comparison.notes:
        outcome.cannot(path, comparison.notes[0])


def _tensor_bytes(start: Start, record: Record, a: Any) -> tuple[str | None, tuple[Any, Any] | None]:
    """A tensor's values at the end of each run: the first's from its storage's copy (which holds the first run's
    end, or the start where only the second run wrote it), the second's as it is; and the two, for an excerpt."""
    tensors, entry = start.tensors, record.storage
    assert tensors is not None and entry is not None
    tensor = record.obj
    if entry.copy is None and a.pointer == record.state.pointer == tensor.untyped_storage().data_ptr():
        return None, None  # neither run wrote its bytes, nor gave it others
    then = tensors.as_left(tensor.device.type, a.pointer, a.storage, a.layout)
    now = tensor.detach()
    # One tensor at a time on the host, never a second copy on the device.
    then, now = then.cpu(), now.cpu()
    return Comparison().diff(then, now, ""), (then, now)


def _array_bytes(record: Record, comparison: Comparison) -> str | None:
    array = record.array
    assert array is not None and array.copy is not None
    if array.array.dtype.hasobject:
        return comparison.diff(list(array.copy.flat), list(array.array.flat), "")
    return Comparison().diff(array.copy, array.array, "")


class _Outcome:
    """The report under construction: a difference outweighs what could not be compared."""

    def __init__(self, known: dict[int, object]) -> None:
        self.known = known
        self.figures: dict[tuple[int, int], Any] = {}  # the pairs of figures compared: each told once
        self.compared: list[str] = []
        self.differences: list[Difference] = []
        self.uncomparable: list[Uncomparable] = []
        self.caveats: list[str] = []
        #: Each run's span of the clocks: a differing value that is a reading of one is the clock's doing.
        self.spans: tuple[clocks.Span, clocks.Span] | None = None

    def differ(self, name: str, why: str, first: str = "", second: str = "", fix: str = "") -> None:
        self.compared.append(name)
        self.differences.append(Difference(name, why, first, second, fix))

    def judge(self, name: str, a: Any, b: Any) -> bool:
        """Compare one name's two values; True if nothing differs."""
        comparison = Comparison(self.known, self.figures)
        why = comparison.difference(a, b)
        if why is not None:
            shown = ("", "") if is_artist(a) else (excerpt(a), excerpt(b))  # a plot's difference is in its pixels
            self.differ(name, why, *shown, fix=comparison.fix or "")
            if self.spans is not None and not comparison.fix:
                clock = clocks.reading(a, b, self.spans)
                if clock is not None:
                    self.differences[-1] = dataclasses.replace(self.differences[-1], clock=clock)
            return False
        self.compared.append(name)
        if comparison.notes:
            more = f"; and {len(comparison.notes) - 1} more" if len(comparison.notes) > 1 else ""
            self.uncomparable.append(Uncomparable(name, comparison.notes[0] + more))
        return True

    def printed_clock(self, first: str, second: str) -> None:
        """The last difference, two printed lines: marked as the clock's where each shows the time of its run."""
        from .notebook.outputs import Output, clock_reading

        assert self.spans is not None
        shown = [
            clock_reading([Output("stdout", (("text/plain", line),))], run.before[0], run.after[0])
            for line, run in zip((first, second), self.spans, strict=True)
        ]
        if all(shown):
            self.differences[-1] = dataclasses.replace(self.differences[-1], clock="time.time() or the date")

    def cannot(self, name: str, why: str) -> None:
        self.uncomparable.append(Uncomparable(name, why))

    def not_kept(self, name: str, why: str) -> None:
        """A value both runs used as it was, because it could not be put back: the runs may have started apart."""
        self.uncomparable.append(Uncomparable(name, why, at_start=True))

    def report(self, seed: int | None, start: Start) -> CheckReport:
        caveats = list(self.caveats)
        if start.retried:
            caveats.append(
                f"the first run wrote into {', '.join(start.retried[:3])}, which it had read-only: it was undone and "
                "run again with a copy, so the cell's output shows once more"
            )
        if start.truncated:
            caveats.append("the notebook holds more objects than --check looks at: the rest were not watched")
        cost = start.cost
        if cost.copied >= NOTEWORTHY_BYTES or cost.seconds >= NOTEWORTHY_SECONDS:
            what = ", ".join(cost.what[:3]) + (f" and {len(cost.what) - 3} more" if len(cost.what) > 3 else "")
            device = f" ({size_text(cost.from_device)} from a GPU, held in host memory)" if cost.from_device else ""
            caveats.append(
                f"copied {size_text(cost.copied)}{device} in {cost.seconds:.2f} s: what the cell writes ({what})"
            )
        # A name compared twice (bound, and an object under it) is listed once, where it first came.
        compared = tuple(dict.fromkeys(root(name) for name in self.compared))
        return CheckReport(
            seed,
            compared,
            tuple(self.differences),
            tuple(caveats),
            tuple(self.uncomparable),
            copied=cost.copied,
            copied_from_device=cost.from_device,
        )


__all__ = ["CheckRefused", "run_twice"]
