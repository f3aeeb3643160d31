"""What pytest-benchmark cannot do: variants timed side by side in one process, ratios and differences as medians of
per-round ones, and torch's stack formatting stubbed on both sides beside the figures as torch ships.

pytest-benchmark runs the rounds (``benchmark.pedantic``: one round is one call of :meth:`Interleaved.round`, and
what it records is the time of a whole round); inside each round every variant runs one batch of back-to-back calls,
the order rotating from round to round, gc disabled while a batch is timed. A ratio or a difference is the median of
the per-round ones, which cancels what drifts between rounds (other processes, clocks). Nothing here imports
seedmagic.

``torch.manual_seed`` formats the caller's whole stack (``traceback.format_stack``, once for each of CUDA, XPU and
MTIA) to queue the seeding of devices that have not started, even in a build that has none of them. That cost grows
with the depth of the call and belongs to torch, not to whoever calls it, so every variant is timed twice in the same
interleaved run: with ``traceback.format_stack`` replaced by a stub returning ``[]`` ("stubbed"), and as torch ships.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import io
import itertools
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from unittest import mock

STUBBED = "torch's stack formatting stubbed"
SHIPPED = "torch as shipped"


def rounds_for(full: int, quick: bool) -> int:
    """The rounds of a measurement: ``full``, or a tenth of them (at least 6) in a quick run (the figures are then
    rough)."""
    return max(full // 10, 6) if quick else full


# -- torch's stack formatting ------------------------------------------------------------------------------------------


class StackFormatting:
    """Counts the calls of ``traceback.format_stack`` that the stub answered while stubbed.

    The count is an iterator: ``%%seeds`` and ``--check`` put back what a run changes in the user's own modules, this
    one included, and an iterator's position is the one thing they cannot put back, so it counts every call."""

    def __init__(self) -> None:
        self._calls = itertools.count()

    @property
    def stub_calls(self) -> int:
        return next(copy.copy(self._calls))

    def _stub(self, *args: object, **kwargs: object) -> list[str]:
        next(self._calls)
        return []

    @contextlib.contextmanager
    def stubbed(self) -> Iterator[None]:
        """torch's modules call ``traceback.format_stack()`` through the module: patching the attribute reaches them."""
        with mock.patch.object(traceback, "format_stack", self._stub):
            yield


STACK = StackFormatting()


class Probe(NamedTuple):
    """One call of a variant with the real ``traceback.format_stack``: how often it ran, and the depth of the stack
    it formatted each time (frames from its caller, torch's ``_lazy_call``, to the bottom)."""

    calls: int
    depths: tuple[int, ...]

    @property
    def depth(self) -> int:
        return max(self.depths, default=0)


def _depth(frame: object) -> int:
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[attr-defined]
    return depth


def probe(call: Callable[[], object]) -> Probe:
    """Run ``call`` once (untimed), counting torch's calls of ``traceback.format_stack`` and their stack depth."""
    real = traceback.format_stack
    depths = []

    def counting(f: object = None, limit: int | None = None) -> list[str]:
        caller = sys._getframe(1) if f is None else f
        depths.append(_depth(caller))
        return real(caller, limit)  # type: ignore[arg-type]

    with mock.patch.object(traceback, "format_stack", counting), contextlib.redirect_stdout(io.StringIO()):
        call()
    return Probe(len(depths), tuple(depths))


def _nested(frames: int, call: Callable[[], object]) -> object:
    if frames <= 0:
        return call()
    return _nested(frames - 1, call)


def at_depth_of(reference: Callable[[], object], call: Callable[[], object]) -> tuple[Callable[[], object], int]:
    """``call`` wrapped in as many extra frames as it takes for torch to format a stack as deep as under
    ``reference`` (both called from the same place), and how many frames deeper than ``call`` alone that is."""
    target, bare, own = probe(reference).depth, probe(call).depth, probe(lambda: _nested(0, call)).depth
    assert target and own, "no torch.manual_seed call to put at the same depth"
    frames = target - own
    assert frames >= 0, f"the reference runs torch.manual_seed {bare - target} frames shallower than the call"
    padded = lambda: _nested(frames, call)  # noqa: E731
    assert probe(padded).depth == target, "the padded call is not at the reference's depth"
    return padded, target - bare


# -- the figures -------------------------------------------------------------------------------------------------------


class Timings:
    """Microseconds per call of each variant, one sample per round. ``times[name]`` is the median; ``diff`` is the
    median of the per-round differences, which cancels what drifts between rounds (other processes, clocks)."""

    def __init__(self, samples: dict[str, list[float]], stub_calls: dict[str, float] | None = None) -> None:
        self.samples = samples
        #: Calls of the stubbed ``traceback.format_stack`` per call of each variant while it was timed.
        self.stub_calls = stub_calls or {}

    def __getitem__(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def diff(self, minuend: str, *subtrahends: str) -> float:
        rounds = zip(self.samples[minuend], *(self.samples[name] for name in subtrahends), strict=True)
        return statistics.median(first - sum(rest) for first, *rest in rounds)

    def ratio(self, numerator: str, denominator: str) -> float:
        """The median of the per-round ratios."""
        rounds = zip(self.samples[numerator], self.samples[denominator], strict=True)
        return statistics.median(top / bottom for top, bottom in rounds)


@dataclass
class Both:
    """The same variants timed in one interleaved run, with torch's stack formatting stubbed and as shipped."""

    stubbed: Timings
    shipped: Timings
    #: How each variant calls ``traceback.format_stack`` (real calls, one untimed run).
    probes: dict[str, Probe] = field(default_factory=dict)

    def formatting(self, name: str) -> float:
        """What torch's stack formatting adds to ``name``: the median of the per-round differences, as shipped less
        stubbed."""
        rounds = zip(self.shipped.samples[name], self.stubbed.samples[name], strict=True)
        return statistics.median(shipped - stubbed for shipped, stubbed in rounds)

    def deeper(self, name: str, than: str) -> int:
        """How many frames deeper torch formats the stack under ``name`` than under ``than``."""
        return self.probes[name].depth - self.probes[than].depth


# -- interleaving ------------------------------------------------------------------------------------------------------


def _nothing() -> None:
    pass


class Interleaved:
    """Variants timed round by round, each round one batch of ``batch`` back-to-back calls of every variant, twice
    (torch's stack formatting stubbed, and as shipped; only stubbed where ``shipped`` is False), the order rotating
    every round, gc disabled while a batch is timed. ``enter[name]``, untimed, runs before each batch of that variant
    (to put a shell in the state the variant needs). With ``probes``, each variant first runs once, untimed, with the
    real ``traceback.format_stack`` counted, and the stub must answer as many calls per call while timed."""

    def __init__(
        self,
        variants: dict[str, Callable[[], object]],
        *,
        batch: int,
        enter: Mapping[str, Callable[[], object]] | None = None,
        shipped: bool = True,
        probes: bool = True,
    ) -> None:
        self.variants, self.batch, self.enter, self.shipped = variants, batch, enter or {}, shipped
        self.order = [(name, stub) for stub in ((True, False) if shipped else (True,)) for name in variants]
        self.probes = {}
        if probes:
            for name, call in variants.items():
                self.enter.get(name, _nothing)()
                self.probes[name] = probe(call)
        self.samples: dict[tuple[str, bool], list[float]] = {key: [] for key in self.order}
        self.stub_calls = dict.fromkeys(variants, 0)
        self.rounds = 0

    def warm_up(self, calls: int) -> None:
        """``calls`` untimed calls of each variant, stubbed and as shipped."""
        for name, stub in self.order:
            self.enter.get(name, _nothing)()
            with STACK.stubbed() if stub else contextlib.nullcontext():
                for _ in range(calls):
                    self.variants[name]()

    def round(self) -> None:
        """One batch of each variant, in the order of this round."""
        shift = self.rounds % len(self.order)
        for name, stub in self.order[shift:] + self.order[:shift]:
            self.enter.get(name, _nothing)()
            call = self.variants[name]
            with STACK.stubbed() if stub else contextlib.nullcontext():
                before = STACK.stub_calls
                gc.disable()
                try:
                    start = time.perf_counter_ns()
                    for _ in range(self.batch):
                        call()
                    elapsed = time.perf_counter_ns() - start
                finally:
                    gc.enable()
                if stub:
                    self.stub_calls[name] += STACK.stub_calls - before
            self.samples[name, stub].append(elapsed / self.batch / 1000)
        self.rounds += 1

    def result(self) -> Both:
        timed = self.rounds * self.batch
        calls = {name: count / timed for name, count in self.stub_calls.items()}
        stubbed = Timings({name: self.samples[name, True] for name in self.variants}, calls)
        for name, found in self.probes.items():
            assert stubbed.stub_calls[name] == found.calls, (
                f"{name}: the stub answered {stubbed.stub_calls[name]:g} calls per run, torch makes {found.calls}"
            )
        as_shipped = Timings({name: self.samples[name, False] for name in self.variants}) if self.shipped else stubbed
        return Both(stubbed, as_shipped, self.probes)


def compare(
    variants: dict[str, Callable[[], object]],
    *,
    rounds: int,
    batch: int,
    warmup: int,
    between: Callable[[], object] = _nothing,
    enter: Mapping[str, Callable[[], object]] | None = None,
    shipped: bool = True,
    probes: bool = True,
    benchmark: Any = None,
) -> Both:
    """The variants :class:`Interleaved`, after ``warmup`` untimed calls of each: ``rounds`` rounds, run by
    pytest-benchmark's ``benchmark`` fixture where one is given (one round under ``--benchmark-disable``), else here.
    ``between`` runs, untimed, after the warm-up and after every round; gc collects after the warm-up and every 64
    rounds."""
    timed = Interleaved(variants, batch=batch, enter=enter, shipped=shipped, probes=probes)
    timed.warm_up(warmup)
    between()
    gc.collect()

    def after_round() -> None:
        between()
        if timed.rounds % 64 == 0:
            gc.collect()

    if benchmark is None:
        for _ in range(rounds):
            timed.round()
            after_round()
    else:
        benchmark.pedantic(timed.round, teardown=after_round, rounds=rounds)
    return timed.result()


# -- cells -------------------------------------------------------------------------------------------------------------


def flush_history(shell: Any) -> Callable[[], None]:
    """``%reset -f in``, quietly, without the ``gc.collect()`` it ends with (some 90 ms with torch imported, which
    would dominate the bench's run time; ``compare`` collects every 64 rounds): see ``run_cells``."""

    def flush() -> None:
        with contextlib.redirect_stdout(io.StringIO()), mock.patch.object(gc, "collect", lambda *args: 0):
            shell.run_line_magic("reset", "-f in")

    return flush


def run_cells(
    shell: Any,
    cells: dict[str, str],
    *,
    rounds: int,
    batch: int,
    warmup: int,
    enter: Mapping[str, Callable[[], object]] | None = None,
    benchmark: Any = None,
) -> Both:
    """Each cell run as IPython runs a cell typed at the prompt (``store_history=True``), stubbed and as shipped.

    Every such cell adds an ``_iN`` variable to the namespace, and IPython copies the namespace for every magic it
    dispatches (``var_expand``): after the thousands of cells a benchmark runs, that copy alone would take longer than
    seedmagic does. The input history is therefore flushed (``%reset -f in``) between rounds, untimed, so that the
    namespace stays the size a notebook's has."""
    run = shell.run_cell
    return compare(
        {name: (lambda source=source: run(source, store_history=True)) for name, source in cells.items()},
        rounds=rounds,
        batch=batch,
        warmup=warmup,
        between=flush_history(shell),
        enter=enter,
        benchmark=benchmark,
    )
