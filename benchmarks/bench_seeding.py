"""Benchmarks of seeding: `%seed`, `%%seeded`, auto mode, `%load_ext`, snapshots and the census.

Each measures seedmagic side by side with what a user would write instead, in one process (see ``ratios.py``).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from baselines import (
    AUTO_CELL,
    NOOP_CELL,
    SEED,
    SEED_RATIO,
    check_same_draws,
    draws,
    raw_calls,
    raw_calls_source,
    run,
)
from hotspots import cell_hotspots
from IPython.core.interactiveshell import InteractiveShell
from ratios import SHIPPED, STACK, STUBBED, Timings, at_depth_of, compare, flush_history, probe, run_cells
from report import Figures, Row, Table, compared_row, ratio_row, reference_row, signed, us, verdict

import seedmagic

pytestmark = pytest.mark.benchmark(group="seeding")

# The RNG libraries seedmagic seeds: `%load_ext seedmagic` must import none of them.
FRAMEWORKS = ("numpy", "torch", "tensorflow", "keras", "jax", "cupy")

# Targets, judged with torch's stack formatting stubbed.
SEEDED_CELL_US = 25.0  # a %%seeded cell over the same cell with the raw calls inline
AUTO_CELL_US = 10.0  # auto mode over a hand-written pre_run_cell hook, per cell
LOAD_EXT_MS = 25.0
REACH_RATIO = 1.05  # making a generator without a seed with --reach on, against seedmagic with it off

# The hook a user would register instead of `%seed 0 --auto` (as a notebook cell).
HAND_HOOK = '''
import hashlib

def reseed_cell(info, session_seed=0):
    """Reseed before every cell, from the session seed and the cell's id (its source where the front end sends none)."""
    key = f"cell-id:{info.cell_id}" if info.cell_id else f"source:{info.raw_cell.strip()}"
    seed = int.from_bytes(hashlib.blake2b(f"seedmagic:{session_seed}:{key}".encode(), digest_size=4).digest(), "big")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
'''


# -- %seed N -----------------------------------------------------------------------------------------------------------


def test_seed_cell(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """What a user sees: a ``%seed N -q`` cell against a cell with the raw seeding calls, both run as cells."""
    # The raw cell keeps torch.manual_seed's return value out of Out[N], as %seed -q shows nothing either.
    cells = {
        "magic": f"%seed {SEED} -q",
        "raw": raw_calls_source(SEED).replace("torch.", "generator = torch."),
        "noop": f"%bench_noop {SEED} -q",
        "empty": "pass",
    }
    for name in ("magic", "raw"):
        check_same_draws(lambda source=cells[name]: shell.run_cell(source).raise_error())
    timings = run_cells(shell, cells, rounds=rounds(400), batch=6, warmup=60, benchmark=benchmark)
    table.add(
        benchmark,
        ratio_row(
            "a `%seed N -q` cell vs a cell with the raw calls `random.seed(N); np.random.seed(N); "
            "torch.manual_seed(N)` (both `shell.run_cell`; depth not equalized: the raw calls are where a user "
            "writes them, and with the stub depth costs nothing)",
            timings,
            "magic",
            "raw",
            at_most=SEED_RATIO,
            baseline_name="the raw cell",
            detail=lambda t: (
                f"over an empty cell ({us(t['empty'])}): %seed {signed(t.diff('magic', 'empty'))}, "
                f"the raw calls {signed(t.diff('raw', 'empty'))}; {NOOP_CELL}: {us(t['noop'])}"
            ),
            profile=lambda: cell_hotspots(shell, cells["magic"]),
        ),
    )


def test_seed_line(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """``%seed N -q`` through ``run_line_magic`` (and ``seed_all``) against the raw calls at the same call depth."""
    magic = lambda: shell.run_line_magic("seed", f"{SEED} -q")  # noqa: E731
    seed_all = lambda: seedmagic.seed_all(SEED)  # noqa: E731
    noop = lambda: shell.run_line_magic("bench_noop", f"{SEED} -q")  # noqa: E731
    raw_at_magic, magic_frames = at_depth_of(magic, raw_calls)
    raw_at_seed_all, seed_all_frames = at_depth_of(seed_all, raw_calls)

    def raw_in_trap() -> None:
        # A line magic runs inside IPython's builtin trap (as every cell does), which makes the same calls slower.
        with shell.builtin_trap:
            raw_at_magic()

    for call in (magic, seed_all, raw_at_magic, raw_at_seed_all, raw_in_trap):
        check_same_draws(call)
    timings = compare(
        {
            "magic": magic,
            "raw@magic": raw_at_magic,
            "raw@magic in trap": raw_in_trap,
            "seed_all": seed_all,
            "raw@seed_all": raw_at_seed_all,
            "noop": noop,
        },
        rounds=rounds(400),
        batch=12,
        warmup=200,
        benchmark=benchmark,
    )
    magic_row = reference_row(
        "`%seed N -q` (`shell.run_line_magic`) vs the raw calls `random.seed; np.random.seed; torch.manual_seed` "
        f"at the depth of seedmagic's torch.manual_seed call: wrapped in nested frames, {magic_frames} frames deeper "
        "than called directly (torch formats stacks of the same depth, checked), for reference: the targets are "
        "judged on cells, as a user runs `%seed`, where IPython's dispatch and its builtin trap weigh on both sides",
        timings,
        lambda t: (
            f"{t.ratio('magic', 'raw@magic'):.2f}x the raw calls ({signed(t.diff('magic', 'raw@magic'))}); "
            f"{t.ratio('magic', 'raw@magic in trap'):.2f}x the raw calls inside IPython's builtin trap, as a magic "
            f"runs ({us(t['raw@magic in trap'])}); IPython's dispatch of a no-op line magic {us(t['noop'])}"
        ),
        "magic",
        "raw@magic",
    )
    reference = reference_row(
        "`seedmagic.seed_all(N)` vs the raw calls at the depth of its torch.manual_seed call "
        f"({seed_all_frames} frames deeper than called directly) (for reference)",
        timings,
        lambda t: f"{t.ratio('seed_all', 'raw@seed_all'):.2f}x ({signed(t.diff('seed_all', 'raw@seed_all'))})",
        "seed_all",
        "raw@seed_all",
    )
    table.add(benchmark, magic_row, reference)


# -- %%seeded ----------------------------------------------------------------------------------------------------------


def test_seeded_cell(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """A ``%%seeded 0`` cell against the same cell with the raw seeding calls inline."""
    body = "x = torch.rand(1)"
    cells = {"seeded": f"%%seeded 0\n{body}", "inline": f"{raw_calls_source(0)}\n{body}", "plain": body}
    for name in ("seeded", "inline"):
        run(shell, cells[name])
        x = shell.user_ns["x"]
        check = "%%seeded 0\ny = draws()" if name == "seeded" else f"{raw_calls_source(0)}\ny = draws()"
        shell.user_ns["draws"] = draws
        run(shell, check)
        raw_calls(0)
        assert torch.equal(x, torch.rand(1)), f"{cells[name]!r} does not draw what torch.manual_seed does"
        raw_calls(0)
        assert shell.user_ns["y"] == draws(), f"{check!r} does not draw what the raw calls do"
    timings = run_cells(shell, cells, rounds=rounds(400), batch=6, warmup=60, benchmark=benchmark)

    def result(times: Timings) -> str:
        extra = times.diff("seeded", "inline")
        return (
            f"{signed(extra)} per cell{' (less time than the raw calls inline)' if extra < 0 else ''}; over the plain "
            f"cell without seeding ({us(times['plain'])}): %%seeded {signed(times.diff('seeded', 'plain'))}, the raw "
            f"calls inline {signed(times.diff('inline', 'plain'))}"
        )

    table.add(
        benchmark,
        compared_row(
            "a `%%seeded 0` cell vs the same cell with the raw calls inline (both `shell.run_cell`; same draws, "
            "checked)",
            timings,
            "seeded",
            "inline",
            result=result,
            target=f"≤ {SEEDED_CELL_US:.0f} µs extra",
            ok=lambda times: times.diff("seeded", "inline") <= SEEDED_CELL_US,
            profile=lambda: cell_hotspots(shell, cells["seeded"]),
        ),
    )


# -- auto mode ---------------------------------------------------------------------------------------------------------


# Loading the extension again (each round switches states) leaves the next cells slower for a while, in every state
# alike; the batch starts after these cells.
AUTO_WARM_CELLS = 10


class AutoStates:
    """One shell, switched between ``%seed 0 --auto`` (``seedmagic``), seedmagic unloaded with the user's own hook
    registered (``hook``), and seedmagic unloaded without it (``bare``)."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self.state = "seedmagic"
        run(shell, HAND_HOOK)
        self.hook = shell.user_ns["reseed_cell"]

    def enter(self, state: str) -> Callable[[], None]:
        def switch() -> None:
            if self.state != state:
                if self.state == "hook":
                    self.shell.events.unregister("pre_run_cell", self.hook)
                if self.state == "seedmagic":
                    run(self.shell, "%unload_ext seedmagic")
                if state == "hook":
                    self.shell.events.register("pre_run_cell", self.hook)
                if state == "seedmagic":
                    run(self.shell, "%load_ext seedmagic")
                    run(self.shell, "%seed 0 --auto -q")
                self.state = state
            for _ in range(AUTO_WARM_CELLS):  # a warm start: the batch is not the first cells after the switch
                self.shell.run_cell(AUTO_CELL, store_history=True)

        return switch

    def leave(self) -> None:
        """Back to seedmagic loaded, auto mode off."""
        self.enter("seedmagic")()
        run(self.shell, "%seed 0 --no-auto -q")


CELL_EVENTS = ("pre_execute", "pre_run_cell", "post_execute", "post_run_cell")


def _timing(call: Callable[..., Any], spent: list[int]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return call(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter_ns() - start

    timed.__dict__.update(getattr(call, "__dict__", {}))  # has_side_effects, for IPython's input transformers
    return timed


def time_where_it_runs(shell: InteractiveShell, states: AutoStates, *, rounds: int, cells: int = 30) -> Timings:
    """Per cell, the time spent in the cell events' callbacks and the input transformers (IPython's own included, in
    every state alike), timed where they run: the user's hook, or seedmagic's callbacks and transformer. Unlike a
    whole cell, this does not also time what switching states leaves behind (a cell after ``%load_ext`` runs slower
    for a while)."""
    samples: dict[str, list[float]] = {"auto": [], "hook": []}
    order = list(samples)
    for index in range(rounds):
        for name in order[index % 2 :] + order[: index % 2]:
            states.enter("seedmagic" if name == "auto" else "hook")()
            spent = [0]
            callbacks = {event: list(shell.events.callbacks[event]) for event in CELL_EVENTS}
            transformers = list(shell.input_transformers_cleanup)
            try:
                for event, registered in callbacks.items():
                    shell.events.callbacks[event][:] = [_timing(callback, spent) for callback in registered]
                shell.input_transformers_cleanup[:] = [_timing(transform, spent) for transform in transformers]
                with STACK.stubbed():
                    for _ in range(cells):
                        shell.run_cell(AUTO_CELL, store_history=True)
            finally:
                for event, registered in callbacks.items():
                    shell.events.callbacks[event][:] = registered
                shell.input_transformers_cleanup[:] = transformers
            samples[name].append(spent[0] / cells / 1000)
            flush_history(shell)()
    return Timings(samples)


def test_auto(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """A plain cell with ``%seed 0 --auto`` against the same cell with a hand-written ``pre_run_cell`` hook."""
    states = AutoStates(shell)
    run(shell, "%seed 0 --auto -q")
    check = "y = draws()"
    shell.user_ns["draws"] = draws
    found = {}
    for state in ("seedmagic", "hook"):
        states.enter(state)()
        run(shell, AUTO_CELL)
        run(shell, check)
        found[state] = (shell.user_ns["x"].tolist(), shell.user_ns["y"])
    raw_calls(seedmagic.derive_seed(0, f"source:{check}"))
    assert found["seedmagic"] == found["hook"], "auto mode and the hand-written hook do not draw the same"
    assert found["hook"][1] == draws(), "the hand-written hook does not seed as derive_seed does"
    timings = run_cells(
        shell,
        {"auto": AUTO_CELL, "hook": AUTO_CELL, "bare": AUTO_CELL},
        rounds=rounds(300),
        batch=6,
        warmup=30,
        enter={"auto": states.enter("seedmagic"), "hook": states.enter("hook"), "bare": states.enter("bare")},
        benchmark=benchmark,
    )

    def profile() -> str:
        states.enter("seedmagic")()
        return cell_hotspots(shell, AUTO_CELL)

    where = time_where_it_runs(shell, states, rounds=rounds(60))
    extra = where.diff("auto", "hook")

    def result(times: Timings) -> str:
        return (
            f"whole cells: {signed(times.diff('auto', 'hook'))} per cell; over the same cell with neither "
            f"({us(times['bare'])}): auto mode {signed(times.diff('auto', 'bare'))}, the hook "
            f"{signed(times.diff('hook', 'bare'))}"
        )

    row = compared_row(
        f"auto mode: a plain cell (`{AUTO_CELL}`) after `%seed 0 --auto` vs the same cell with seedmagic unloaded "
        "and a hand-written `pre_run_cell` hook (blake2b of the session seed and the cell's id or source, then the "
        "raw calls; same draws, checked). Judged on the time spent per cell in the cell events' callbacks and input "
        f"transformers, timed where they run: seedmagic's {us(where['auto'])}, the hook's {us(where['hook'])}, "
        f"{signed(extra)}; whole cells, beside it, also carry what switching states between rounds leaves behind",
        timings,
        "auto",
        "hook",
        result=result,
        target=f"≤ {AUTO_CELL_US:.0f} µs extra",
        ok=lambda times: extra <= AUTO_CELL_US,
        profile=profile,
    )
    states.leave()
    table.add(benchmark, row)


# -- %load_ext ---------------------------------------------------------------------------------------------------------

LOAD_EXT_PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter_ns()
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    started = time.perf_counter_ns()
    before = set(sys.modules)
    shell.run_line_magic("load_ext", "seedmagic")
    loaded = time.perf_counter_ns()
    new = sorted(set(sys.modules) - before)
    print(json.dumps({"shell_ms": (started - start) / 1e6, "load_ms": (loaded - started) / 1e6, "modules": new}))
    """
)


def import_times(top: int = 15) -> str:
    """``python -X importtime`` of ``%load_ext seedmagic``: the slowest imports it triggers, by cumulative time."""
    program = LOAD_EXT_PROGRAM.replace(
        'shell.run_line_magic("load_ext"',
        'print("@@load_ext", file=sys.stderr, flush=True)\nshell.run_line_magic("load_ext"',
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
    )
    lines = done.stderr.split("@@load_ext", 1)[1].splitlines()
    entries = []
    for line in lines:
        if line.startswith("import time:") and "|" in line and "self [us]" not in line:
            own, cumulative, name = line[len("import time:") :].split("|")
            entries.append((int(cumulative), int(own), name.rstrip()))
    entries.sort(reverse=True)
    rows = [f"{'cumulative':>10}  {'self':>8}  module (python -X importtime, during %load_ext only)"]
    rows += [f"{c / 1000:8.1f}ms  {o / 1000:6.1f}ms  {n}" for c, o, n in entries[:top]]
    return "\n".join(rows)


def test_load_ext(benchmark: Any, table: Table) -> None:
    """``%load_ext seedmagic`` in a fresh interpreter, against the bare shell start before it (pytest-benchmark times
    the whole interpreter; the figures are the child's own)."""
    # As after `pip install`, with the modules' bytecode compiled: where PYTHONDONTWRITEBYTECODE is set and the
    # package is installed editable, every import would compile seedmagic's sources anew. A first, untimed run (the
    # warm-up round) writes the bytecode.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    runs = 15
    found = []

    def load_ext() -> None:
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT_PROGRAM], capture_output=True, text=True, check=True, timeout=120, env=env
        )
        found.append(json.loads(done.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(load_ext, rounds=runs, warmup_rounds=1)
    results = found[-runs:]  # without the warm-up's run (under --benchmark-disable, the one run there is)
    load = statistics.median(result["load_ms"] for result in results)
    shell = statistics.median(result["shell_ms"] for result in results)
    modules = sorted({module for result in results for module in result["modules"]})
    top = sorted({module.split(".")[0] for module in modules})
    frameworks = [name for name in FRAMEWORKS if name in top]
    figures = Figures(
        f"{load:.1f} ms",
        f"{shell:.1f} ms",
        f"+{load / shell:.0%} of the shell start; imported {len(modules)} modules ({', '.join(top)}); frameworks: "
        f"{', '.join(frameworks) or 'none'} (torch is not imported: nothing to stub)",
    )
    row = Row(
        f"`%load_ext seedmagic` in a fresh interpreter, its bytecode compiled as after `pip install`, vs the bare "
        f"shell start before it (median of {len(results)})",
        figures,
        Figures("same", "same", "the same run: no torch, no stack formatting"),
        f"≤ {LOAD_EXT_MS:.0f} ms, no framework",
        verdict(load <= LOAD_EXT_MS and not frameworks),
    )
    row.notes.append("modules `%load_ext seedmagic` imported: " + ", ".join(modules))
    if row.verdict == "MISS":
        row.profile = import_times()
    table.add(benchmark, row)


# -- snapshots ---------------------------------------------------------------------------------------------------------


def test_snapshot(benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """``seedmagic.restore(seedmagic.snapshot())`` against torch's ``fork_rng`` and NumPy's and random's states."""

    def by_hand() -> None:
        with torch.random.fork_rng(devices=[]):
            numpy_state = np.random.get_state()
            random_state = random.getstate()
            np.random.set_state(numpy_state)
            random.setstate(random_state)

    def seedmagic_snapshot() -> None:
        seedmagic.restore(seedmagic.snapshot())

    formatting = probe(by_hand).calls + probe(seedmagic_snapshot).calls
    timings = compare(
        {"by_hand": by_hand, "seedmagic": seedmagic_snapshot},
        rounds=rounds(200),
        batch=16,
        warmup=200,
        shipped=bool(formatting),
        benchmark=benchmark,
    )

    def figures(times: Timings, label: str) -> Figures:
        return Figures(
            us(times["seedmagic"]),
            us(times["by_hand"]),
            f"{label}: {times.ratio('seedmagic', 'by_hand'):.2f}x (seedmagic also saves the determinism flags, "
            "CUBLAS_WORKSPACE_CONFIG and the session)",
        )

    stubbed = figures(timings.stubbed, STUBBED)
    shipped = (
        figures(timings.shipped, SHIPPED)
        if formatting
        else Figures("same", "same", "the same run: neither formats a stack (0 calls of traceback.format_stack)")
    )
    table.add(
        benchmark,
        Row(
            "`seedmagic.restore(seedmagic.snapshot())` vs `torch.random.fork_rng(devices=[])` + NumPy's and "
            "random's get/set state (for reference)",
            stubbed,
            shipped,
        ),
    )


# -- the census and --reach --------------------------------------------------------------------------------------------

GENERATORS = {
    "numpy": ("np.random.default_rng()", lambda: np.random.default_rng(), lambda: np.random.default_rng(SEED)),
    "random": ("random.Random()", lambda: random.Random(), lambda: random.Random(SEED)),
    "torch": ("torch.Generator()", lambda: torch.Generator(), lambda: torch.Generator().manual_seed(SEED)),
}
"""Per library: the call timed, the call, and the same generator seeded by hand (what reach makes of it)."""
GENERATORS_MADE = 100_000  # per variant and library, in a full run


@pytest.mark.parametrize("library", list(GENERATORS))
def test_census(library: str, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """Making a generator without a seed, with the census and with reach on, against seedmagic loaded with both off
    (the default: then nothing is patched, checked, so it costs nothing); beside it, the same generator seeded by
    hand, which is what reach turns the call into."""
    engine = seedmagic.engine.ENGINE
    originals = (np.random.bit_generator.randbits, random.Random.__init__, torch.Generator, np.random.RandomState)

    def state(census: bool, reach: bool) -> Callable[[], None]:
        def enter() -> None:
            engine.set_modes(reach=False)
            engine.census.set_enabled(census)
            if reach:
                engine.set_modes(reach=True)
            engine.census.clear()

        return enter

    seedmagic.seed_all(SEED)
    enters = {"off": state(False, False), "census": state(True, False), "reach": state(False, True)}
    enters["by_hand"] = enters["off"]
    enters["off"]()
    patched = (np.random.bit_generator.randbits, random.Random.__init__, torch.Generator, np.random.RandomState)
    assert patched == originals, "with the census and reach off, seedmagic must leave every constructor as it was"
    batch = 1000
    call, make, by_hand = GENERATORS[library]
    try:
        variants = {name: make for name in ("off", "census", "reach")}
        timings = compare(
            {**variants, "by_hand": by_hand},
            rounds=rounds(GENERATORS_MADE // batch),
            batch=batch,
            warmup=300,
            enter=enters,
            shipped=False,
            benchmark=benchmark,
        ).stubbed
    finally:
        engine.set_modes(reach=False)
        engine.census.set_enabled(False)
        engine.census.clear()
    reach_ratio = timings.ratio("reach", "off")
    table.add(
        benchmark,
        Row(
            f"`{call}` with `%seed N --reach` vs seedmagic loaded with the census and reach off (nothing "
            f"patched, checked: the same cost as without seedmagic), {GENERATORS_MADE:,} made per variant; "
            "the census alone, and the same generator seeded by hand, beside it",
            Figures(
                us(timings["reach"]),
                us(timings["off"]),
                f"reach {reach_ratio:.2f}x ({signed(timings.diff('reach', 'off'))}); the census alone "
                f"{timings.ratio('census', 'off'):.2f}x ({signed(timings.diff('census', 'off'))}); seeded by "
                f"hand {us(timings['by_hand'])} ({timings.ratio('by_hand', 'off'):.2f}x the unseeded call), "
                f"so reach is {timings.ratio('reach', 'by_hand'):.2f}x seeding it by hand",
            ),
            Figures("same", "same", "the same run: no torch.manual_seed, no stack formatting"),
            target=f"≤ {REACH_RATIO:.2f}x",
            verdict=verdict(reach_ratio <= REACH_RATIO),
        ),
    )
