"""How the benchmark measures: interleaved batches, torch's stack formatting stubbed or as shipped, call depth, and
cProfile hot spots. Nothing here imports seedmagic.

``torch.manual_seed`` formats the caller's whole stack (``traceback.format_stack``, once for each of CUDA, XPU and
MTIA) to queue the seeding of devices that have not started, even in a build that has none of them. That cost grows
with the depth of the call and belongs to torch, not to whoever calls it, so every variant is timed twice in the same
interleaved run: with ``traceback.format_stack`` replaced by a stub returning ``[]`` ("stubbed"), and as torch ships.
"""

from __future__ import annotations

import contextlib
import copy
import cProfile
import gc
import io
import itertools
import pstats
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from unittest import mock

STUBBED = "torch's stack formatting stubbed"
SHIPPED = "torch as shipped"

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


# -- timing ------------------------------------------------------------------------------------------------------------


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


def compare(
    variants: dict[str, Callable[[], object]],
    *,
    rounds: int,
    batch: int,
    warmup: int,
    between: Callable[[], object] = lambda: None,
    enter: dict[str, Callable[[], object]] | None = None,
    shipped: bool = True,
) -> Both:
    """Each variant timed in batches of back-to-back calls, twice (torch's stack formatting stubbed, and as shipped;
    only stubbed where ``shipped`` is False), all interleaved round by round with the order rotating, after a
    warm-up, gc disabled while timing. ``between`` runs, untimed, after the warm-up and after every round;
    ``enter[name]``, untimed, before each batch of that variant (to put a shell in the state the variant needs)."""
    enter = enter or {}
    order = [(name, stub) for stub in ((True, False) if shipped else (True,)) for name in variants]
    probes = {}
    for name, call in variants.items():
        enter.get(name, _nothing)()
        probes[name] = probe(call)
    samples: dict[tuple[str, bool], list[float]] = {key: [] for key in order}
    stub_calls = dict.fromkeys(variants, 0)
    for name, stub in order:
        enter.get(name, _nothing)()
        with STACK.stubbed() if stub else contextlib.nullcontext():
            for _ in range(warmup):
                variants[name]()
    between()
    gc.collect()
    for index in range(rounds):
        shift = index % len(order)
        for name, stub in order[shift:] + order[:shift]:
            enter.get(name, _nothing)()
            call = variants[name]
            with STACK.stubbed() if stub else contextlib.nullcontext():
                before = STACK.stub_calls
                gc.disable()
                try:
                    start = time.perf_counter_ns()
                    for _ in range(batch):
                        call()
                    elapsed = time.perf_counter_ns() - start
                finally:
                    gc.enable()
                if stub:
                    stub_calls[name] += STACK.stub_calls - before
            samples[name, stub].append(elapsed / batch / 1000)
        between()
        if index % 64 == 63:
            gc.collect()
    timed = rounds * batch
    stubbed = Timings({name: samples[name, True] for name in variants}, {n: c / timed for n, c in stub_calls.items()})
    for name, found in probes.items():
        assert stubbed.stub_calls[name] == found.calls, (
            f"{name}: the stub answered {stubbed.stub_calls[name]:g} calls per run, torch makes {found.calls}"
        )
    as_shipped = Timings({name: samples[name, False] for name in variants}) if shipped else stubbed
    return Both(stubbed, as_shipped, probes)


def _nothing() -> None:
    pass


def flush_history(shell: object) -> Callable[[], None]:
    """``%reset -f in``, quietly, without the ``gc.collect()`` it ends with (some 90 ms with torch imported, which
    would dominate the bench's run time; ``compare`` collects every 16 rounds): see ``run_cells``."""

    def flush() -> None:
        with contextlib.redirect_stdout(io.StringIO()), mock.patch.object(gc, "collect", lambda *args: 0):
            shell.run_line_magic("reset", "-f in")  # type: ignore[attr-defined]

    return flush


def run_cells(
    shell: object,
    cells: dict[str, str],
    *,
    rounds: int,
    batch: int,
    warmup: int,
    enter: dict[str, Callable[[], object]] | None = None,
) -> Both:
    """Each cell run as IPython runs a cell typed at the prompt (``store_history=True``), stubbed and as shipped.

    Every such cell adds an ``_iN`` variable to the namespace, and IPython copies the namespace for every magic it
    dispatches (``var_expand``): after the thousands of cells a benchmark runs, that copy alone would take longer than
    seedmagic does. The input history is therefore flushed (``%reset -f in``) between rounds, untimed, so that the
    namespace stays the size a notebook's has."""
    run = shell.run_cell  # type: ignore[attr-defined]
    return compare(
        {name: (lambda source=source: run(source, store_history=True)) for name, source in cells.items()},
        rounds=rounds,
        batch=batch,
        warmup=warmup,
        between=flush_history(shell),
        enter=enter,
    )


# -- where the time goes -----------------------------------------------------------------------------------------------

SEEDMAGIC = str(Path(__file__).resolve().parent.parent / "seedmagic")


def _inside_torch(key: tuple[str, int, str]) -> bool:
    filename = key[0].replace("\\", "/")
    return "/torch/" in filename or filename.endswith(("/traceback.py", "/linecache.py"))


def hotspots(
    call: Callable[[], object], repeat: int, *, between: Callable[[], object] | None = None, top: int = 12
) -> str:
    """cProfile of ``repeat`` calls (torch's stack formatting stubbed), in µs per call: seedmagic's own functions
    first, then the time spent outside torch by function, then the heaviest calls by cumulative time. ``between``
    runs unprofiled every 64 calls (to flush the input history)."""
    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()), STACK.stubbed():
        for index in range(repeat):
            if between is not None and index % 64 == 63:
                between()
            profile.enable()
            call()
            profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    # What torch runs, and what only torch calls, is torch's time.
    excluded = {key for key in stats if _inside_torch(key)}
    changed = True
    while changed:
        changed = False
        for key, (_, _, _, _, callers) in stats.items():
            if key not in excluded and callers and all(caller in excluded for caller in callers):
                excluded.add(key)
                changed = True

    def name(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        return function if filename == "~" else f"{Path(filename).name}:{line}({function})"

    own = []
    for key, (_, calls, total, cumulative, callers) in stats.items():
        if key in excluded:
            continue
        # Only the time under callers outside torch (a builtin such as list.append is also called by torch).
        mine = sum(timing[2] for caller, timing in callers.items() if caller not in excluded) if callers else total
        own.append((mine, calls, cumulative, key))

    def per_call(seconds: float) -> str:
        return f"{seconds / repeat * 1e6:9.2f}"

    ours = [entry for entry in own if entry[3][0].startswith(SEEDMAGIC)]
    total_own = sum(entry[0] for entry in own)
    lines = [
        "under cProfile (which slows every call several times over), torch's stack formatting stubbed: "
        f"{per_call(total_own).strip()} µs per call outside torch, of which {per_call(sum(e[0] for e in ours)).strip()}"
        " µs in seedmagic's own functions.",
        "",
        "seedmagic's functions (own time, cumulative time incl. torch, µs per call; calls per call):",
    ]
    for mine, calls, cumulative, key in sorted(ours, key=lambda entry: entry[0], reverse=True)[:top]:
        lines.append(f"{per_call(mine)}  {per_call(cumulative)}  {calls / repeat:6.1f}x  {name(key)}")
    lines += ["", "everything outside torch, by own time (µs per call, calls per call):"]
    for mine, calls, _, key in sorted(own, key=lambda entry: entry[0], reverse=True)[:top]:
        lines.append(f"{per_call(mine)}  {calls / repeat:6.1f}x  {name(key)}")
    lines += ["", "cumulative time, µs per call (torch's time included):"]
    for _, calls, cumulative, key in sorted(own, key=lambda entry: entry[2], reverse=True)[:top]:
        lines.append(f"{per_call(cumulative)}  {calls / repeat:6.1f}x  {name(key)}")
    return "\n".join(lines)
