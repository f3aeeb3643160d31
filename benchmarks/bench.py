"""seedmagic's overhead, measured side by side with what it replaces, in one process (``make bench``).

Every figure is a ratio or a difference between variants measured in the same process, interleaved batch by batch
(the order rotates every round), after a warm-up, gc disabled while timing, as the median over many rounds timed with
``time.perf_counter_ns``; a ratio or a difference is the median of the per-round ones. The table goes to stdout and
to ``benchmarks/results.md``; a target that is missed gets its hot spots underneath (cProfile, or ``-X importtime``).

``torch.manual_seed`` formats the caller's whole stack to queue the seeding of devices that have not started; that
cost grows with the depth of the call and is torch's. Each variant is therefore timed twice in the same interleaved
run: with ``traceback.format_stack`` stubbed (for seedmagic and the baseline alike; the targets are judged on these
figures) and as torch ships (beside them). See ``measuring.py``.

The baselines are what a user would write instead: the raw calls ``random.seed; np.random.seed; torch.manual_seed``,
Lightning's ``seed_everything``, a ``pre_run_cell`` callback that reseeds every cell.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import os
import platform
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import no_var_expand
from measuring import (
    SHIPPED,
    STACK,
    STUBBED,
    Both,
    Timings,
    at_depth_of,
    compare,
    flush_history,
    hotspots,
    probe,
    run_cells,
)
from traitlets.config import Config

import seedmagic
from seedmagic.engine import derive_seed

RESULTS = Path(__file__).with_name("results.md")
# `bench.py --quick`: a tenth of the rounds, to try the bench out (the figures are then rough).
QUICK = "--quick" in sys.argv[1:]
# `bench.py --only WORD`: only the steps whose name holds WORD (`--only check`), not written to results.md.
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv[1:-1] else ""
SEED = 2023
# The RNG libraries seedmagic seeds: `%load_ext seedmagic` must import none of them.
FRAMEWORKS = ("numpy", "torch", "tensorflow", "keras", "jax", "cupy")

# Targets, judged with torch's stack formatting stubbed.
SEED_RATIO = 1.25  # %seed N against the raw calls, and against Lightning's seed_everything
SEEDED_CELL_US = 25.0  # a %%seeded cell over the same cell with the raw calls inline
AUTO_CELL_US = 10.0  # auto mode over a hand-written pre_run_cell hook, per cell
LOAD_EXT_MS = 25.0
VERIFY_RATIO = 1.3  # seedmagic verify (two runs at once) against one plain nbclient run of the same notebook
VERIFY_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "00-quickstart.ipynb"
AUTO_PANEL_US = 300.0  # auto mode and a live panel over no seedmagic, per cell
SWEEP_RATIO = 1.05  # a %%seeds sweep of n seeds against the cell run n times by hand (%%seeded k --isolate)
REACH_RATIO = 1.05  # making a generator without a seed with --reach on, against seedmagic with it off
PANEL_REFRESH_US = 60.0  # the live panel's own work per cell: its reading and refresh

# The cell timed in auto mode, and the hook a user would register instead of `%seed 0 --auto` (as a notebook cell).
AUTO_CELL = "x = torch.rand(1)"
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


# What IPython's handling of a `%` line costs by itself, in a cell: the same line given to a line magic that does
# nothing (registered in main).
NOOP_CELL = "a cell with a no-op line magic given the same line (IPython's share of a `%seed` cell)"


def rounds(full: int) -> int:
    return max(full // 10, 6) if QUICK else full


# -- the table ---------------------------------------------------------------------------------------------------------


class Figures(NamedTuple):
    """One row's figures in one condition (torch's stack formatting stubbed, or as shipped)."""

    seedmagic: str
    baseline: str
    result: str


@dataclass
class Row:
    what: str
    stubbed: Figures
    shipped: Figures
    target: str = ""
    verdict: str = ""
    profile: str = ""
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def us(value: float) -> str:
    return f"{value:.1f} µs"


def signed(value: float) -> str:
    return f"{value:+.1f} µs"


def stubbed_calls(times: Timings, *names: str) -> str:
    """The stub's count, as evidence that torch's stack formatting was stubbed for every variant that seeds torch."""
    counts = "/".join(f"{times.stub_calls[name]:g}" for name in names)
    return f"{STUBBED} ({counts} calls stubbed per run)"


def raw_calls(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def raw_calls_source(seed: int) -> str:
    return f"random.seed({seed}); np.random.seed({seed}); torch.manual_seed({seed})"


def draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(2).tolist()


def check_same_draws(seed_with: Callable[[], object]) -> None:
    """The bench compares equals: ``seed_with`` must leave the generators as the raw calls do."""
    raw_calls(SEED)
    expected = draws()
    with contextlib.redirect_stdout(io.StringIO()):
        seed_with()
    assert draws() == expected, "not the raw calls' draws"


def run(shell: InteractiveShell, source: str) -> None:
    """A cell, quietly, that must not fail."""
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_cell(source, store_history=True).raise_error()


def cell_hotspots(shell: InteractiveShell, source: str, repeat: int = 1000) -> str:
    return hotspots(lambda: shell.run_cell(source, store_history=True), repeat, between=flush_history(shell))


def compared_row(
    what: str,
    timings: Both,
    name: str,
    baseline: str,
    *,
    result: Callable[[Timings], str],
    target: str,
    ok: Callable[[Timings], bool],
    profile: Callable[[], str],
) -> Row:
    """A target row: seedmagic's variant ``name`` against ``baseline``, judged (``ok``) on the stubbed figures, the
    figures as shipped beside them with what torch's stack formatting adds to each. ``profile`` runs on a MISS."""

    def figures(times: Timings, label: str, *more: str) -> Figures:
        text = "; ".join(part for part in (f"{label}: {result(times)}", *more) if part)
        return Figures(us(times[name]), us(times[baseline]), text)

    deeper = timings.deeper(name, baseline)
    depth = f"seedmagic's torch.manual_seed runs {deeper} frames deeper" if deeper else "at the same depth"
    formatting = (
        f"torch's stack formatting adds {us(timings.formatting(name))} to seedmagic and "
        f"{us(timings.formatting(baseline))} to the baseline ({depth})"
    )
    stubbed = timings.stubbed
    row = Row(
        what,
        figures(stubbed, stubbed_calls(stubbed, name, baseline)),
        figures(timings.shipped, SHIPPED, formatting),
        target,
        verdict(ok(stubbed)),
    )
    if row.verdict == "MISS":
        row.profile = profile()
    return row


def ratio_row(
    what: str,
    timings: Both,
    name: str,
    baseline: str,
    *,
    baseline_name: str,
    profile: Callable[[], str],
    detail: Callable[[Timings], str] = lambda times: "",
) -> Row:
    """A row whose target is ``name`` at most SEED_RATIO times ``baseline``."""

    def result(times: Timings) -> str:
        ratio = f"{times.ratio(name, baseline):.2f}x {baseline_name} ({signed(times.diff(name, baseline))})"
        return "; ".join(part for part in (ratio, detail(times)) if part)

    return compared_row(
        what,
        timings,
        name,
        baseline,
        result=result,
        target=f"≤ {SEED_RATIO:.2f}x",
        ok=lambda times: times.ratio(name, baseline) <= SEED_RATIO,
        profile=profile,
    )


def reference_row(what: str, timings: Both, result: Callable[[Timings], str], name: str, baseline: str) -> Row:
    """A row without a target, stubbed and as shipped."""

    def figures(times: Timings, label: str) -> Figures:
        return Figures(us(times[name]), us(times[baseline]), f"{label}: {result(times)}")

    stubbed = timings.stubbed
    return Row(what, figures(stubbed, stubbed_calls(stubbed, name, baseline)), figures(timings.shipped, SHIPPED))


# -- %seed N -----------------------------------------------------------------------------------------------------------


def bench_seed_line(shell: InteractiveShell) -> list[Row]:
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
    return [magic_row, reference]


def bench_seed_cell(shell: InteractiveShell) -> list[Row]:
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
    timings = run_cells(shell, cells, rounds=rounds(400), batch=6, warmup=60)
    return [
        ratio_row(
            "a `%seed N -q` cell vs a cell with the raw calls `random.seed(N); np.random.seed(N); "
            "torch.manual_seed(N)` (both `shell.run_cell`; depth not equalized: the raw calls are where a user "
            "writes them, and with the stub depth costs nothing)",
            timings,
            "magic",
            "raw",
            baseline_name="the raw cell",
            detail=lambda t: (
                f"over an empty cell ({us(t['empty'])}): %seed {signed(t.diff('magic', 'empty'))}, "
                f"the raw calls {signed(t.diff('raw', 'empty'))}; {NOOP_CELL}: {us(t['noop'])}"
            ),
            profile=lambda: cell_hotspots(shell, cells["magic"]),
        )
    ]


# -- %%seeded ----------------------------------------------------------------------------------------------------------


def bench_seeded_cell(shell: InteractiveShell) -> list[Row]:
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
    timings = run_cells(shell, cells, rounds=rounds(400), batch=6, warmup=60)

    def result(times: Timings) -> str:
        extra = times.diff("seeded", "inline")
        return (
            f"{signed(extra)} per cell{' (less time than the raw calls inline)' if extra < 0 else ''}; over the plain "
            f"cell without seeding ({us(times['plain'])}): %%seeded {signed(times.diff('seeded', 'plain'))}, the raw "
            f"calls inline {signed(times.diff('inline', 'plain'))}"
        )

    return [
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
        )
    ]


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


def bench_auto(shell: InteractiveShell) -> list[Row]:
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
    raw_calls(derive_seed(0, f"source:{check}"))
    assert found["seedmagic"] == found["hook"], "auto mode and the hand-written hook do not draw the same"
    assert found["hook"][1] == draws(), "the hand-written hook does not seed as derive_seed does"
    timings = run_cells(
        shell,
        {"auto": AUTO_CELL, "hook": AUTO_CELL, "bare": AUTO_CELL},
        rounds=rounds(300),
        batch=6,
        warmup=30,
        enter={"auto": states.enter("seedmagic"), "hook": states.enter("hook"), "bare": states.enter("bare")},
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
    return [row]


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


def bench_load_ext(runs: int = 15) -> list[Row]:
    # As after `pip install`, with the modules' bytecode compiled: where PYTHONDONTWRITEBYTECODE is set and the
    # package is installed editable, every import would compile seedmagic's sources anew. A first, untimed run
    # writes the bytecode.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    results = []
    for run in range(runs + 1):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT_PROGRAM], capture_output=True, text=True, check=True, timeout=120, env=env
        )
        if run:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
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
        f"shell start before it (median of {runs})",
        figures,
        Figures("same", "same", "the same run: no torch, no stack formatting"),
        f"≤ {LOAD_EXT_MS:.0f} ms, no framework",
        verdict(load <= LOAD_EXT_MS and not frameworks),
    )
    row.notes.append("modules `%load_ext seedmagic` imported: " + ", ".join(modules))
    if row.verdict == "MISS":
        row.profile = import_times()
    return [row]


# -- seedmagic verify --------------------------------------------------------------------------------------------------

# A notebook that trains a small torch model on made-up data (about ten seconds on two cores): seeded, so it reproduces.
TRAINING_CELLS = (
    "%load_ext seedmagic\n%seed 0",
    "import torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset",
    "X = torch.randn(8192, 64)\ny = torch.sin(X[:, :8].sum(1, keepdim=True)) + 0.1 * torch.randn(8192, 1)\n"
    "loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)",
    "model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))\n"
    "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
    "for epoch in range(8):\n    total = 0.0\n    for xb, yb in loader:\n        optimizer.zero_grad()\n"
    "        loss = nn.functional.mse_loss(model(xb), yb)\n        loss.backward()\n        optimizer.step()\n"
    '        total += loss.item() * len(xb)\n    print(f"epoch {epoch}: loss {total / len(X):.6f}")',
)


def verify_row(notebook: Path, about: str) -> Row:
    """``seedmagic verify`` on ``notebook`` against one plain nbclient run of it, each from a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    from seedmagic.notebook.verify import schedule, verify

    def plain() -> None:
        nb = nbformat.read(notebook, as_version=4)
        NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(notebook.parent)}}).execute()

    def verified() -> None:
        assert verify(notebook).reproducible, "the notebook does not reproduce"

    samples: dict[str, list[float]] = {"verify": [], "plain": []}
    variants = {"verify": verified, "plain": plain}
    for index in range(max(rounds(6), 2)):
        for name in list(variants)[index % 2 :] + list(variants)[: index % 2]:
            started = time.perf_counter()
            variants[name]()
            samples[name].append(time.perf_counter() - started)
    ratio = statistics.median(v / p for v, p in zip(samples["verify"], samples["plain"], strict=True))
    seconds = {name: statistics.median(values) for name, values in samples.items()}
    shared = schedule()
    how = shared.note or "ran both at once, each kernel with the threads its environment gives"
    figures = Figures(
        f"{seconds['verify']:.2f} s",
        f"{seconds['plain']:.2f} s",
        f"{ratio:.2f}x one plain run (two runs, each in a fresh kernel; {how}; {shared.cores} usable of "
        f"{os.cpu_count()} CPU cores; median of {len(samples['plain'])} rounds)",
    )
    return Row(
        f"`seedmagic verify {notebook.name}` ({about}; two runs and the comparison) vs one plain nbclient run of "
        "the same notebook in a fresh kernel",
        figures,
        Figures("same", "same", "the same run: torch's stack formatting is the kernels' own"),
        f"≤ {VERIFY_RATIO:.1f}x",
        verdict(ratio <= VERIFY_RATIO),
    )


def bench_verify() -> list[Row]:
    """``seedmagic verify`` on a teaching notebook against one plain nbclient run of it."""
    return [verify_row(VERIFY_NOTEBOOK, "a teaching notebook")]


def bench_verify_training() -> list[Row]:
    """``seedmagic verify`` on a notebook that trains a small torch model against one plain nbclient run of it."""
    import tempfile

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(cells=[new_code_cell(source) for source in TRAINING_CELLS], metadata={"kernelspec": kernelspec})
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "train-torch.ipynb"
        nbformat.write(nb, path)
        return [verify_row(path, "trains a small torch model, 8 epochs")]


# -- sweeps ------------------------------------------------------------------------------------------------------------

SWEEP_SEEDS = 10
SWEEP_BODY = "x = torch.rand(1000)\nfloat(x.mean())"


def bench_sweep(shell: InteractiveShell) -> list[Row]:
    """One `%%seeds 0-9` cell (its table shown as a terminal shows it) against ten `%%seeded k --isolate` cells."""
    sweep_cell = f"%%seeds 0-{SWEEP_SEEDS - 1}\n{SWEEP_BODY}"
    hand_cells = [f"%%seeded {seed} --isolate\n{SWEEP_BODY}" for seed in range(SWEEP_SEEDS)]

    formatter = shell.display_formatter

    def quietly(call: Callable[[], object]) -> None:
        # Shown as a terminal shows it (text only: the HTML form and its plot are a notebook's, timed apart), and
        # written for the user, not to the bench's output: the table, the Out values, the progress line.
        active, formatter.active_types = formatter.active_types, ["text/plain"]
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                call()
        finally:
            formatter.active_types = active

    def swept() -> None:
        quietly(lambda: shell.run_cell(sweep_cell, store_history=True))

    def by_hand() -> None:
        quietly(lambda: [shell.run_cell(cell, store_history=True) for cell in hand_cells])

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sweep = shell.run_cell(sweep_cell, store_history=True).result
        hand = [shell.run_cell(cell, store_history=True).result for cell in hand_cells]
    assert sweep.values == hand, "the sweep does not give what the cells by hand give"
    drawn = []
    for _ in range(5):
        started = time.perf_counter()
        sweep._repr_html_()
        drawn.append(time.perf_counter() - started)
    html_ms = statistics.median(drawn) * 1000
    timings = compare(
        {"sweep": swept, "by hand": by_hand},
        rounds=rounds(60),
        batch=2,
        warmup=3,
        between=flush_history(shell),
    )

    def result(times: Timings) -> str:
        return (
            f"{times.ratio('sweep', 'by hand'):.2f}x the {SWEEP_SEEDS} cells by hand "
            f"({signed(times.diff('sweep', 'by hand'))} per sweep, {us(times['by hand'] / SWEEP_SEEDS)} per cell by "
            f"hand); in a notebook the sweep's HTML form with its plot (matplotlib) adds {html_ms:.1f} ms once per "
            "sweep, not per seed (median of 5)"
        )

    return [
        compared_row(
            f"a `%%seeds 0-{SWEEP_SEEDS - 1}` cell (`{SWEEP_BODY!r}`, its table shown as a terminal shows it) vs the "
            "same body as "
            f"{SWEEP_SEEDS} `%%seeded k --isolate` cells (all `shell.run_cell`; same values, checked)",
            timings,
            "sweep",
            "by hand",
            result=result,
            target=f"≤ {SWEEP_RATIO:.2f}x",
            ok=lambda times: times.ratio("sweep", "by hand") <= SWEEP_RATIO,
            profile=lambda: cell_hotspots(shell, sweep_cell, repeat=50),
        )
    ]


# -- the census and --reach --------------------------------------------------------------------------------------------

GENERATORS = {
    "numpy": ("np.random.default_rng()", lambda: np.random.default_rng(), lambda: np.random.default_rng(SEED)),
    "random": ("random.Random()", lambda: random.Random(), lambda: random.Random(SEED)),
    "torch": ("torch.Generator()", lambda: torch.Generator(), lambda: torch.Generator().manual_seed(SEED)),
}
"""Per library: the call timed, the call, and the same generator seeded by hand (what reach makes of it)."""
GENERATORS_MADE = 100_000  # per variant and library, in a full run


def bench_census() -> list[Row]:
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
    rows = []
    batch = 1000
    try:
        for call, make, by_hand in GENERATORS.values():
            variants = {name: make for name in ("off", "census", "reach")}
            timings = compare(
                {**variants, "by_hand": by_hand},
                rounds=rounds(GENERATORS_MADE // batch),
                batch=batch,
                warmup=300,
                enter=enters,
                shipped=False,
            ).stubbed
            reach_ratio = timings.ratio("reach", "off")
            rows.append(
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
                )
            )
    finally:
        engine.set_modes(reach=False)
        engine.census.set_enabled(False)
        engine.census.clear()
    return rows


# -- snapshots ---------------------------------------------------------------------------------------------------------


def bench_snapshot() -> list[Row]:
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
    return [
        Row(
            "`seedmagic.restore(seedmagic.snapshot())` vs `torch.random.fork_rng(devices=[])` + NumPy's and "
            "random's get/set state (for reference)",
            stubbed,
            shipped,
        )
    ]


# -- %%seeded --check at deep-learning scale ---------------------------------------------------------------------------

CHECK_SLACK_MS = 20.0  # a check of a cell that only reads: at most twice the plain cell's time, and this much more
CHECK_MEMORY = 0.05  # and extra peak memory under this fraction of what the cell reads
BIG = 100_000_000  # float32: 400 MB
TRAINING_SETUP = """
torch.manual_seed(0)
model = torch.nn.Sequential(*[torch.nn.Linear(2500, 2500) for _ in range(4)])  # 25M parameters: 100 MB
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
data = torch.utils.data.TensorDataset(torch.randn(256, 2500), torch.randn(256, 2500))
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
xb, yb = next(iter(loader))
loss = torch.nn.functional.mse_loss(model(xb), yb)
loss.backward()
opt.step()
"""
TRAINING_STEP = (
    "xb, yb = next(iter(loader))\nloss = torch.nn.functional.mse_loss(model(xb), yb)\nopt.zero_grad()\n"
    "loss.backward()\nopt.step()"
)


def peak_rss_bytes() -> int | None:
    """The process's peak resident memory since it was last reset (Linux: VmHWM, reset by ``clear_refs``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def extra_peak(call: Callable[[], object]) -> int | None:
    """How far ``call`` raises the process's peak memory over its memory before the call."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the peak starts again from the memory in use now
    except OSError:
        return None
    before = peak_rss_bytes()
    call()
    after = peak_rss_bytes()
    return None if before is None or after is None else max(after - before, 0)


def megabytes(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 1e6:.1f} MB"


SMALL_TRAINING_SETUP = "\n".join(
    (
        "import torch",
        "from torch import nn",
        "from torch.utils.data import DataLoader, TensorDataset",
        "torch.manual_seed(0)",
        "X, y = torch.randn(1024, 20), torch.randn(1024, 1)",
        "loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)",
        "model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))",
        "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)",
    )
)
SMALL_TRAINING_LOOP = (
    "for epoch in range(3):\n"
    "    for xb, yb in loader:\n"
    "        loss = nn.functional.mse_loss(model(xb), yb)\n"
    "        opt.zero_grad(); loss.backward(); opt.step()"
)


def small_training_row(shell: InteractiveShell, quietly: Callable[[str], Callable[[], None]]) -> Row:
    """`--check` on three epochs of a small model over a 1,024-sample DataLoader: tens of thousands of small torch
    operations, where a dispatch mode would cost more than the loop itself."""
    run(shell, SMALL_TRAINING_SETUP)
    plain, checked = quietly(SMALL_TRAINING_LOOP), quietly(f"%%seeded 0 --check\n{SMALL_TRAINING_LOOP}")
    checked()
    timings = compare({"check": checked, "plain": plain}, rounds=rounds(20), batch=1, warmup=1)
    row = compared_row(
        "a `%%seeded 0 --check` cell that trains a small model for 3 epochs over a DataLoader of 1,024 samples "
        "(`" + SMALL_TRAINING_LOOP.replace("\n", " ").replace("    ", "") + "`; its tensors, under 16 MiB, are copied "
        "before each run and compared after it: no dispatch mode) vs the plain cell",
        timings,
        "check",
        "plain",
        result=lambda times: (
            f"{times.ratio('check', 'plain'):.2f}x the plain cell, {signed(times.diff('check', 'plain', 'plain'))} "
            "over twice its time"
        ),
        target=f"≤ 2x + {CHECK_SLACK_MS:.0f} ms",
        ok=lambda times: times["check"] <= 2 * times["plain"] + CHECK_SLACK_MS * 1000,
        profile=lambda: cell_hotspots(shell, f"%%seeded 0 --check\n{SMALL_TRAINING_LOOP}", repeat=5),
    )
    run(shell, "del X, y, loader, model, opt, epoch, xb, yb, loss")
    gc.collect()
    return row


def bench_check(shell: InteractiveShell) -> list[Row]:
    """`%%seeded 0 --check` against the plain cell, on a 400 MB tensor and a 400 MB array that the cell only reads,
    and on one training step of a 100 MB model with an optimizer and a DataLoader in the notebook."""
    from seedmagic.namespace import Start

    def quietly(source: str) -> Callable[[], None]:
        def cell() -> None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                shell.run_cell(source, store_history=True).raise_error()

        return cell

    rows = []
    cases = {
        "a 400 MB tensor": ("big = torch.ones(BIG)", "s = float(big[:1000].sum())", 4 * BIG),
        "a 400 MB array": ("table = np.ones(BIG, dtype=np.float32)", "s = float(table[:1000].sum())", 4 * BIG),
    }
    shell.user_ns["BIG"] = BIG
    for what, (setup, body, nbytes) in cases.items():
        run(shell, setup)
        plain, checked = quietly(body), quietly(f"%%seeded 0 --check\n{body}")
        checked()
        memory = {"plain": extra_peak(plain), "check": extra_peak(checked)}
        timings = compare(
            {"check": checked, "plain": plain}, rounds=rounds(60), batch=4, warmup=4, between=flush_history(shell)
        )

        def result(times: Timings, memory: dict[str, int | None] = memory, nbytes: int = nbytes) -> str:
            extra = None if None in memory.values() else memory["check"] - memory["plain"]  # type: ignore[operator]
            share = "" if extra is None else f" ({extra / nbytes:.1%} of what the cell reads)"
            return (
                f"{times.ratio('check', 'plain'):.2f}x the plain cell, {signed(times.diff('check', 'plain', 'plain'))} "
                f"over twice its time; extra peak memory {megabytes(extra)}{share}"
            )

        def ok(times: Timings, memory: dict[str, int | None] = memory, nbytes: int = nbytes) -> bool:
            extra = None if None in memory.values() else memory["check"] - memory["plain"]  # type: ignore[operator]
            fast = times["check"] <= 2 * times["plain"] + CHECK_SLACK_MS * 1000
            return fast and (extra is None or extra <= CHECK_MEMORY * nbytes)

        rows.append(
            compared_row(
                f"a `%%seeded 0 --check` cell that only reads {what} (`{body}`) vs the plain cell (both "
                "`shell.run_cell`; peak memory by Linux's VmHWM, reset before each)",
                timings,
                "check",
                "plain",
                result=result,
                target=f"≤ 2x + {CHECK_SLACK_MS:.0f} ms, < {CHECK_MEMORY:.0%} memory",
                ok=ok,
                profile=lambda body=body: cell_hotspots(shell, f"%%seeded 0 --check\n{body}", repeat=20),
            )
        )
        run(shell, "del big" if "tensor" in what else "del table")
    gc.collect()
    rows.append(small_training_row(shell, quietly))
    run(shell, TRAINING_SETUP)
    started = time.perf_counter()
    start = Start.take(shell.user_ns)
    walk_ms, walked = (time.perf_counter() - started) * 1000, len(start.records)
    start.release()
    plain, checked = quietly(TRAINING_STEP), quietly(f"%%seeded 0 --check\n{TRAINING_STEP}")
    report = {}

    def check_with_report() -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
            shell.run_cell(f"%%seeded 0 --check\n{TRAINING_STEP}", store_history=True).raise_error()
        report["text"] = out.getvalue() + err.getvalue()

    memory = {"plain": extra_peak(plain), "check": extra_peak(check_with_report)}
    assert "seedmagic: reproducible" in report["text"], report["text"]
    timings = compare({"check": checked, "plain": plain}, rounds=rounds(12), batch=1, warmup=1)
    copied = next((line.strip() for line in report["text"].splitlines() if "note: copied" in line), "")

    def training(times: Timings) -> str:
        extra = None if None in memory.values() else memory["check"] - memory["plain"]  # type: ignore[operator]
        return (
            f"{times.ratio('check', 'plain'):.2f}x the plain cell ({signed(times.diff('check', 'plain', 'plain'))} "
            f"over twice its time); extra peak memory {megabytes(extra)} (the first run's gradients, kept for the "
            f"comparison, and the copies); the report's {copied.removeprefix('note: ')}; walking the notebook's "
            f"{walked:,} objects to watch them took {walk_ms:.1f} ms"
        )

    rows.append(
        reference_row(
            "a `%%seeded 0 --check` cell that takes one training step (`"
            + TRAINING_STEP.replace("\n", "; ")
            + "`) of a 100 MB model (SGD with momentum, a DataLoader in the notebook) vs the plain cell (peak memory "
            "by VmHWM)",
            timings,
            training,
            "check",
            "plain",
        )
    )
    run(shell, "del model, opt, data, loader, xb, yb, loss")
    gc.collect()
    return rows


def bench_trace(shell: InteractiveShell) -> list[Row]:
    """`%%seeded 0 --check --trace` against `--check` alone, on one training step of the 100 MB model."""

    def quietly(source: str, report: dict[str, str] | None = None) -> Callable[[], None]:
        def cell() -> None:
            with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
                shell.run_cell(source, store_history=True).raise_error()
            if report is not None:
                report["text"] = out.getvalue() + err.getvalue()

        return cell

    run(shell, TRAINING_SETUP)
    report: dict[str, str] = {}
    checked, traced = (
        quietly(f"%%seeded 0 --check\n{TRAINING_STEP}"),
        quietly(f"%%seeded 0 --check --trace\n{TRAINING_STEP}", report),
    )
    memory = {"check": extra_peak(checked), "trace": extra_peak(traced)}
    assert "seedmagic: reproducible" in report["text"] and "trace: the" in report["text"], report["text"]
    operations = report["text"].partition("trace: the ")[2].partition(" torch operations")[0]
    timings = compare({"trace": traced, "check": checked}, rounds=rounds(8), batch=1, warmup=1)

    def result(times: Timings) -> str:
        extra = None if None in memory.values() else memory["trace"] - memory["check"]  # type: ignore[operator]
        return (
            f"{times.ratio('trace', 'check'):.2f}x `--check` alone ({signed(times.diff('trace', 'check'))}); "
            f"extra peak memory {megabytes(extra)}; {operations or '?'} operations traced "
            "per run"
        )

    row = reference_row(
        "a `%%seeded 0 --check --trace` cell that takes one training step (`"
        + TRAINING_STEP.replace("\n", "; ")
        + "`) of the 100 MB model vs the same cell under `--check` alone (peak memory by VmHWM)",
        timings,
        result,
        "trace",
        "check",
    )
    run(shell, "del model, opt, data, loader, xb, yb, loss")
    gc.collect()
    return [row]


# -- auto mode with a live panel (in a second process) -----------------------------------------------------------------

PANEL_STATES = ("bare", "auto", "auto+panel")
PANEL_EVENTS = ("pre_run_cell", "post_run_cell")


def auto_panel_child() -> None:
    """In a fresh interpreter (``bench.py --auto-panel``): a real, in-process ipykernel, so that ``%seedpanel`` shows
    a live widget panel that refreshes after every cell, as in JupyterLab. Prints the samples as JSON."""
    from ipykernel.inprocess.manager import InProcessKernelManager

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # as in the main process; and the user's history stays untouched
    manager = InProcessKernelManager(config=config)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    shell = manager.kernel.shell
    assert shell.history_manager.hist_file == ":memory:"
    shell.user_ns.update(random=random, np=np, torch=torch)
    samples: dict[str, dict[str, list[float]]] = {"stubbed": {}, "shipped": {}}
    refresh_samples: list[float] = []
    reads_samples: list[float] = []

    def run_quiet(source: str) -> None:
        shell.run_cell(source, store_history=True).raise_error()

    def drain() -> None:  # the panel's comm messages and the display data, as a front end would read them
        with contextlib.suppress(Exception):
            while True:
                client.get_iopub_msg(timeout=0.001)

    refreshes: dict[str, Callable[..., object]] = {}  # the cell callbacks that %seedpanel added, by event

    def enter(state: str) -> None:
        run_quiet("%unload_ext seedmagic")
        if state != "bare":
            run_quiet("%load_ext seedmagic")
            run_quiet("%seed 0 --auto -q")
        if state == "auto+panel":
            before = {event: list(shell.events.callbacks[event]) for event in PANEL_EVENTS}
            run_quiet("%seedpanel")
            assert sys.modules["seedmagic.panel"].panels(shell), "%seedpanel showed no live panel"
            refreshes.clear()
            for event in PANEL_EVENTS:
                added = [call for call in shell.events.callbacks[event] if call not in before[event]]
                assert len(added) <= 1, f"%seedpanel added {len(added)} {event} callbacks"
                if added:
                    refreshes[event] = added[0]
            assert "post_run_cell" in refreshes, "%seedpanel did not add a post_run_cell callback"

    def cells() -> list[float]:
        """20 cells run back to back, after 3 untimed ones."""
        times = []
        for warm in (True,) * 3 + (False,) * 20:
            gc.disable()
            try:
                start = time.perf_counter_ns()
                shell.run_cell(AUTO_CELL, store_history=True)
                elapsed = (time.perf_counter_ns() - start) / 1000
            finally:
                gc.enable()
            if not warm:
                times.append(elapsed)
        return times

    def refresh_alone() -> list[float]:
        """The panel's own work in each of 20 cells: its cell callbacks (the reading before the cell, where it has
        one, and the refresh after), timed where they run, summed per cell."""
        spent: dict[str, list[float]] = {event: [] for event in refreshes}

        def timed(event: str, call: Callable[..., object]) -> Callable[..., None]:
            def timed_call(*args: object) -> None:
                start = time.perf_counter_ns()
                call(*args)
                spent[event].append((time.perf_counter_ns() - start) / 1000)

            return timed_call

        wrapped = {event: timed(event, call) for event, call in refreshes.items()}
        for event, call in refreshes.items():
            callbacks = shell.events.callbacks[event]
            callbacks[callbacks.index(call)] = wrapped[event]
        try:
            cells()
        finally:
            for event, call in refreshes.items():
                callbacks = shell.events.callbacks[event]
                callbacks[callbacks.index(wrapped[event])] = call
        return [sum(times) for times in zip(*spent.values(), strict=True)][3:]

    def reads_alone() -> list[float]:
        """The readings the panel must make after each cell, and their comparison with the last cell's, written
        inline with the libraries' own calls in a ``post_run_cell`` callback that stands in for the panel's
        callbacks, in the same cells: the floor under the panel's own work."""
        import ctypes

        getstate, environ_get, string_at = random.getstate, os.environ.get, ctypes.string_at
        generator, cudnn, matmul = torch.default_generator, torch.backends.cudnn, torch.backends.cuda.matmul
        bit_generator = np.random.get_bit_generator()
        numpy_state = memoryview((ctypes.c_char * (624 * 4 + 4)).from_address(bit_generator.ctypes.state_address))
        times: list[float] = []
        last: list[object] = [None]

        def read(result: object = None) -> None:
            start = time.perf_counter_ns()
            state, (_, words, gauss) = generator.get_state(), getstate()
            now = (
                (words[-1], words[0], words[311], words[623], gauss),  # as the panel: position, 3 words, gauss
                numpy_state.tobytes(),
                string_at(state.data_ptr(), state.numel()),
                generator.initial_seed(),
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                cudnn.deterministic,
                cudnn.benchmark,
                matmul.allow_tf32,
                cudnn.allow_tf32,
                torch.cuda.is_initialized(),
                environ_get("CUBLAS_WORKSPACE_CONFIG"),
            )
            last[0] = now if now != last[0] else last[0]
            del state, words, now  # freed inside the timing, as the panel frees its readings (625 ints, a tensor)
            times.append((time.perf_counter_ns() - start) / 1000)

        for event, call in refreshes.items():
            shell.events.unregister(event, call)
        shell.events.register("post_run_cell", read)
        try:
            cells()
        finally:
            shell.events.unregister("post_run_cell", read)
            for event, call in refreshes.items():
                shell.events.register(event, call)
        return times[3:]

    flush = flush_history(shell)
    run_quiet("%load_ext seedmagic")
    order = [(state, stub) for stub in (True, False) for state in PANEL_STATES]
    for index in range(rounds(40)):
        shift = index % len(order)
        for state, stub in order[shift:] + order[:shift]:
            enter(state)
            with STACK.stubbed() if stub else contextlib.nullcontext():
                samples["stubbed" if stub else "shipped"].setdefault(state, []).append(statistics.median(cells()))
                if state == "auto+panel" and stub:
                    refresh_samples.append(statistics.median(refresh_alone()))
                    reads_samples.append(statistics.median(reads_alone()))
            drain()
            flush()
    enter("auto+panel")
    profile = hotspots(lambda: shell.run_cell(AUTO_CELL, store_history=True), 600, between=flush)
    shell.run_cell(AUTO_CELL, store_history=True)
    refresh_profile = hotspots(lambda: [call(None) for call in refreshes.values()], 2000)
    drain()
    result = {
        "samples": samples,
        "refresh": refresh_samples,
        "reads": reads_samples,
        "profile": profile,
        "refresh_profile": refresh_profile,
    }
    print("@@" + json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the in-process kernel's threads would otherwise complain at exit


def auto_panel_available(shell: InteractiveShell) -> str | None:
    """None when ``%seed --auto`` and ``%seedpanel`` work in the installed seedmagic, else why not."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            shell.run_line_magic("seed", "0 --auto -q")
            shell.run_line_magic("seed", "0 --no-auto -q")
        except UsageError as exc:
            return f"`%seed --auto`: {exc}"
        try:
            shell.run_line_magic("seedpanel", "")
        except (UsageError, ImportError) as exc:
            return f"`%seedpanel`: {type(exc).__name__}: {exc}"
    return None


def bench_auto_panel(shell: InteractiveShell) -> list[Row]:
    """A plain cell with ``%seed --auto`` on and a live panel shown, against the same cell without seedmagic."""
    what = (
        f"a plain cell (`{AUTO_CELL}`) with `%seed 0 --auto` and a live `%seedpanel` (in-process ipykernel) vs the "
        "same cell without seedmagic (`%unload_ext`)"
    )
    refresh_what = (
        "the live panel's own work in each such cell, folded as `%seedpanel` shows it (the cell callbacks "
        "`%seedpanel` added, timed where they run: its one `post_run_cell` callback, which reads random's, NumPy's "
        "and torch's generators, torch's seed and the flags, compares them with the last cell's and refreshes)"
    )
    target = f"≤ {AUTO_PANEL_US:.0f} µs extra"
    seedmagic.seed_all(0)
    missing = auto_panel_available(shell)
    failed = None
    if missing is not None:
        failed = f"not available in this version ({missing})"
    else:
        done = subprocess.run(
            [sys.executable, __file__, "--auto-panel", *(["--quick"] if QUICK else [])],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("@@")]
        if not lines:
            failed = f"the measurement failed: {done.stderr.strip()[-300:]}"
    if failed is not None:
        empty = Figures("-", "-", failed)
        return [Row(what, empty, empty, target, "n/a")]
    child = json.loads(lines[-1][2:])
    stubbed, shipped = Timings(child["samples"]["stubbed"]), Timings(child["samples"]["shipped"])

    def figures(times: Timings, label: str) -> Figures:
        return Figures(
            us(times["auto+panel"]),
            us(times["bare"]),
            f"{label}: {signed(times.diff('auto+panel', 'bare'))} per cell, of which auto mode alone "
            f"{signed(times.diff('auto', 'bare'))} and the panel {signed(times.diff('auto+panel', 'auto'))}",
        )

    row = Row(
        what,
        figures(stubbed, STUBBED),
        figures(shipped, SHIPPED),
        target,
        verdict(stubbed.diff("auto+panel", "bare") <= AUTO_PANEL_US),
    )
    if row.verdict == "MISS":
        row.profile = child["profile"]
    refresh = statistics.median(child["refresh"])
    reads = statistics.median(child["reads"])
    refresh_row = Row(
        refresh_what,
        Figures(
            us(refresh),
            "-",
            f"{STUBBED} (it seeds nothing: no stack to format); the readings it must make and their comparison with "
            f"the last cell's, written inline with the libraries' own calls in a callback of their own "
            f"(random.getstate(), NumPy's and torch's generator states, torch.initial_seed(), torch's 7 flags, "
            f"CUBLAS_WORKSPACE_CONFIG), in the same cells: {us(reads)}",
        ),
        Figures("same", "-", "the same: a refresh calls no torch.manual_seed"),
        f"≤ {PANEL_REFRESH_US:.0f} µs",
        verdict(refresh <= PANEL_REFRESH_US),
    )
    if refresh_row.verdict == "MISS":
        refresh_row.profile = child.get("refresh_profile")
    return [row, refresh_row]


# -- Lightning (last: importing it wraps torch.manual_seed) ------------------------------------------------------------


def bench_lightning(shell: InteractiveShell) -> list[Row]:
    """Last: importing Lightning imports torch._dynamo, which wraps torch.manual_seed (for seedmagic too)."""
    dynamo_before = "torch._dynamo" in sys.modules
    logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    try:  # `lightning` re-exports lightning_fabric as lightning.fabric; the `bench` extra installs the latter
        from lightning.fabric.utilities.seed import seed_everything
    except ImportError:
        from lightning_fabric.utilities.seed import seed_everything
    assert "tensorflow" not in sys.modules, "Lightning imported TensorFlow: seed_all would seed it too"
    environ = dict(os.environ)  # seed_everything sets PL_GLOBAL_SEED and PL_SEED_WORKERS
    shell.user_ns["seed_everything"] = seed_everything
    lightning = lambda: seed_everything(SEED, verbose=False)  # noqa: E731
    magic = lambda: shell.run_line_magic("seed", f"{SEED} -q")  # noqa: E731
    seed_all = lambda: seedmagic.seed_all(SEED)  # noqa: E731
    lightning_at_magic, frames = at_depth_of(magic, lightning)
    cells = {
        "magic": f"%seed {SEED} -q",
        "lightning": f"lightning_seed = seed_everything({SEED}, verbose=False)",
        "noop": f"%bench_noop {SEED} -q",
    }
    for call in (lightning, lightning_at_magic, lambda: shell.run_cell(cells["lightning"]).raise_error()):
        check_same_draws(call)
    try:
        in_cells = run_cells(shell, cells, rounds=rounds(300), batch=6, warmup=60)
        in_lines = compare(
            {
                "magic": magic,
                "lightning@magic": lightning_at_magic,
                "raw": raw_calls,
                "seed_all": seed_all,
                "lightning": lightning,
            },
            rounds=rounds(300),
            batch=12,
            warmup=200,
        )
    finally:
        os.environ.clear()
        os.environ.update(environ)
    note = "" if dynamo_before else "; importing Lightning imported torch._dynamo, which wraps torch.manual_seed"
    cell_row = ratio_row(
        "a `%seed N -q` cell vs a cell calling Lightning's `seed_everything(N, verbose=False)` (both "
        "`shell.run_cell`, after importing Lightning)",
        in_cells,
        "magic",
        "lightning",
        baseline_name="the Lightning cell",
        detail=lambda t: f"{NOOP_CELL}: {us(t['noop'])}",
        profile=lambda: cell_hotspots(shell, cells["magic"]),
    )
    line_row = reference_row(
        "`%seed N -q` (`shell.run_line_magic`) vs `seed_everything(N, verbose=False)` wrapped in nested frames, "
        f"{frames} frames deeper than called directly, so that torch.manual_seed runs at the same depth (checked), "
        "for reference: the target is judged on cells (the row above), where IPython's dispatch and its builtin "
        "trap weigh on both sides",
        in_lines,
        lambda t: (
            f"{t.ratio('magic', 'lightning@magic'):.2f}x Lightning ({signed(t.diff('magic', 'lightning@magic'))})"
        ),
        "magic",
        "lightning@magic",
    )

    reference = reference_row(
        "`seedmagic.seed_all(N)` vs Lightning's `seed_everything(N, verbose=False)`, both from the bench's own frame, "
        "after importing Lightning (for reference)",
        in_lines,
        lambda t: (
            f"seed_all {t.ratio('seed_all', 'lightning'):.2f}x Lightning's time; the raw calls {us(t['raw'])}, "
            f"Lightning {signed(t.diff('lightning', 'raw'))} over them, seed_all {signed(t.diff('seed_all', 'raw'))}"
            f"{note}"
        ),
        "seed_all",
        "lightning",
    )
    return [cell_row, line_row, reference]


# -- the report --------------------------------------------------------------------------------------------------------


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine(load_before: float) -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import IPython

    return (
        f"{model}, {os.cpu_count()} cores ({usable} usable; 1-minute load average {load_before:.1f} before the run, "
        f"{load_average():.1f} after); "
        f"{platform.system()} {platform.machine()}; Python {platform.python_version()}; torch {torch.__version__} "
        f"(threads {torch.get_num_threads()}); numpy {np.__version__}; IPython {IPython.__version__}; "
        f"seedmagic {seedmagic.__version__}"
    )


def render(rows: list[Row], machine_line: str, seconds: float, formatting: int) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# seedmagic benchmarks",
        "",
        f"Machine: {machine_line}. Run took {seconds:.0f} s.",
        "",
        "Times are medians over rounds of interleaved batches, the order rotating every round "
        "(`time.perf_counter_ns`, gc disabled while timing; one process, the auto/panel rows in a second one with an "
        "in-process kernel); ratios and differences are medians of the per-round ones. Cells are run with "
        "`store_history=True`, the input history flushed between rounds. A batch runs its calls back to back, so "
        "what seedmagic keeps for a few milliseconds (its reading of sys.path) serves most of them; in a notebook, "
        "cells come seconds apart.",
        "",
        f"`torch.manual_seed` formats the caller's whole stack ({formatting} calls of `traceback.format_stack` per "
        "call, counted) to queue the seeding of CUDA/XPU/MTIA devices that have not started; that cost grows with "
        "the call depth and is torch's. Every variant is therefore timed twice in the same interleaved run: with "
        f"`traceback.format_stack` stubbed to return `[]` ({STUBBED}, for seedmagic and the baseline alike; each "
        "row gives the calls the stub answered per run, seedmagic's/the baseline's), and with torch as it ships. "
        f"Verdicts are on the {STUBBED} figures. seedmagic seeds torch with `torch.manual_seed` itself.",
        "",
        f"| measurement | target | verdict ({STUBBED}) | seedmagic ({STUBBED}) | baseline ({STUBBED}) | "
        f"result ({STUBBED}) | seedmagic ({SHIPPED}) | baseline ({SHIPPED}) | result ({SHIPPED}) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        figures = [*r.stubbed, *r.shipped]
        lines.append(
            f"| {cell(r.what)} | {r.target} | {r.verdict} | {' | '.join(cell(text) for text in figures[:3])} | "
            f"{' | '.join(cell(text) for text in figures[3:])} |"
        )
    for row in rows:
        for note in row.notes:
            lines += ["", note]
    for row in rows:
        if row.profile:
            lines += ["", f"## Hot spots: {row.what}", "", "```", row.profile, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    began, load_before = time.perf_counter(), load_average()
    assert "torch._dynamo" not in sys.modules, "torch._dynamo wraps torch.manual_seed: measure without it"
    assert "tensorflow" not in sys.modules, "the comparison is with random, NumPy and torch imported, not TensorFlow"
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns.update(random=random, np=np, torch=torch)
    shell.run_line_magic("load_ext", "seedmagic")
    # Without IPython's expansion of $var and {expr}, which copies the namespace: as seedmagic's own magics.
    shell.register_magic_function(no_var_expand(lambda line: None), "line", "bench_noop")
    formatting = probe(raw_calls).calls
    assert probe(lambda: seedmagic.seed_all(SEED)).calls == formatting, "seedmagic does not seed torch as torch does"
    rows = []
    steps: dict[str, Callable[[], list[Row]]] = {
        "%seed cells": lambda: bench_seed_cell(shell),
        "%seed line": lambda: bench_seed_line(shell),
        "%%seeded cells": lambda: bench_seeded_cell(shell),
        "auto mode": lambda: bench_auto(shell),
        "%load_ext": bench_load_ext,
        "snapshot": bench_snapshot,
        "census and --reach": bench_census,
        "seedmagic verify": bench_verify,
        "seedmagic verify, torch training": bench_verify_training,
        "auto mode with a live panel": lambda: bench_auto_panel(shell),
        "%%seeds sweeps": lambda: bench_sweep(shell),
        "%%seeded --check at scale": lambda: bench_check(shell),
        "%%seeded --check --trace at scale": lambda: bench_trace(shell),
        "Lightning": lambda: bench_lightning(shell),  # last: importing Lightning wraps torch.manual_seed
    }
    for name, step in steps.items():
        if ONLY and ONLY not in name:
            continue
        started = time.perf_counter()
        rows += step()
        print(f"bench: {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    text = render(rows, machine(load_before), time.perf_counter() - began, formatting)
    print(text)
    if not ONLY:  # a partial run does not replace the full table
        RESULTS.write_text(text)
        print(f"(written to {RESULTS})")
    return 0


if __name__ == "__main__":
    if "--auto-panel" in sys.argv[1:]:
        auto_panel_child()
    sys.exit(main())
