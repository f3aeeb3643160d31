"""seedmagic's overhead, measured side by side with what it replaces, in one process (``make bench``).

Every figure is a ratio or a difference between variants measured in the same process, interleaved batch by batch
(the order rotates every round), after a warm-up, as the median over many batches timed with
``time.perf_counter_ns``; a difference is the median of the per-round differences. The table goes to stdout and to
``benchmarks/results.md``; a target that is missed gets its hot spots underneath (cProfile, or ``-X importtime``).

The seeding rows compare with the raw calls a user would make instead (``random.seed; np.random.seed;
torch.manual_seed``), called from the same place. seedmagic leaves torch's generators exactly as ``torch.manual_seed``
leaves them but without its stack formatting for backends this build of torch lacks (see ``seedmagic/sources.py``),
so it can take less time than the raw calls; the table also gives seedmagic's bookkeeping alone: its time beyond its
units' seeding calls (for ``%seed`` also beyond IPython's dispatch of a no-op line magic given the same line).
"""

from __future__ import annotations

import contextlib
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import seedmagic
from seedmagic.cell import compile_cell
from seedmagic.sources import SOURCES, _manual_seed_plan

RESULTS = Path(__file__).with_name("results.md")
SEED = 2023
# The RNG libraries seedmagic seeds: `%load_ext seedmagic` must import none of them.
FRAMEWORKS = ("numpy", "torch", "tensorflow", "keras", "jax", "cupy")

# Targets: own cost of %seed / seed_all, extra time per %%seeded cell, %load_ext, auto mode with a live panel.
SEED_OWN_RATIO = 0.20
SEEDED_CELL_US = 150.0
LOAD_EXT_MS = 25.0
AUTO_PANEL_US = 300.0


# -- measuring ---------------------------------------------------------------------------------------------------------


class Timings:
    """Microseconds per call of each variant, one sample per round. ``times[name]`` is the median; ``diff`` is the
    median of the per-round differences, which cancels what drifts between rounds (other processes, clocks)."""

    def __init__(self, samples: dict[str, list[float]]) -> None:
        self.samples = samples

    def __getitem__(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def diff(self, minuend: str, *subtrahends: str) -> float:
        rounds = zip(self.samples[minuend], *(self.samples[name] for name in subtrahends), strict=True)
        return statistics.median(first - sum(rest) for first, *rest in rounds)


def compare(
    variants: dict[str, Callable[[], object]],
    *,
    rounds: int,
    batch: int,
    warmup: int,
    between: Callable[[], object] = lambda: None,
) -> Timings:
    """Each variant timed in batches, interleaved round by round with the order rotating, after a warm-up;
    ``between`` runs, untimed, after the warm-up and after every round."""
    for call in variants.values():
        for _ in range(warmup):
            call()
    between()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    gc.collect()
    for index in range(rounds):
        shift = index % len(order)
        gc.disable()
        try:
            for name, call in order[shift:] + order[:shift]:
                start = time.perf_counter_ns()
                for _ in range(batch):
                    call()
                samples[name].append((time.perf_counter_ns() - start) / batch / 1000)
        finally:
            gc.enable()
        between()
        if index % 16 == 15:
            gc.collect()
    return Timings(samples)


def run_cells(shell: InteractiveShell, cells: dict[str, str], *, rounds: int, batch: int, warmup: int) -> Timings:
    """Each cell run as IPython runs a cell typed at the prompt (``store_history=True``).

    Every such cell adds an ``_iN`` variable to the namespace, and IPython copies the namespace for every magic it
    dispatches (``var_expand``): after the thousands of cells a benchmark runs, that copy alone would take longer than
    seedmagic does. The input history is therefore flushed (``%reset -f in``) between rounds, untimed, so that the
    namespace stays the size a notebook's has."""

    def flush_history() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("reset", "-f in")

    return compare(
        {name: (lambda source=source: shell.run_cell(source, store_history=True)) for name, source in cells.items()},
        rounds=rounds,
        batch=batch,
        warmup=warmup,
        between=flush_history,
    )


def _inside_torch(key: tuple[str, int, str]) -> bool:
    filename = key[0].replace("\\", "/")
    return "/torch/" in filename or filename.endswith(("/traceback.py", "/linecache.py"))


def hotspots(call: Callable[[], object], repeat: int, top: int = 14) -> str:
    """cProfile of ``repeat`` calls, in µs per call: the time spent outside torch (whose manual_seed mostly formats
    the stack), by function, then the heaviest calls by cumulative time (torch's time included)."""
    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        profile.enable()
        for _ in range(repeat):
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
    total_own = sum(entry[0] for entry in own) / repeat * 1e6
    lines = [
        f"under cProfile (which slows every call several times over): {total_own:.1f} µs per call outside torch; "
        "by function (own time, µs per call, calls per call):"
    ]
    for mine, calls, _, key in sorted(own, key=lambda entry: entry[0], reverse=True)[:top]:
        lines.append(f"{mine / repeat * 1e6:9.2f}  {calls / repeat:6.1f}x  {name(key)}")
    lines.append("")
    lines.append("cumulative time, µs per call (torch's time included):")
    for _, calls, cumulative, key in sorted(own, key=lambda entry: entry[2], reverse=True)[:top]:
        lines.append(f"{cumulative / repeat * 1e6:9.2f}  {calls / repeat:6.1f}x  {name(key)}")
    return "\n".join(lines)


# -- the table ---------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    seedmagic: str
    baseline: str
    result: str
    target: str = ""
    verdict: str = ""
    profile: str = ""
    notes: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def us(value: float) -> str:
    return f"{value:.1f} µs"


def raw_calls(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def raw_calls_source(seed: int) -> str:
    return f"random.seed({seed}); np.random.seed({seed}); torch.manual_seed({seed})"


# The same seeding through seedmagic's units alone, without the engine: what seed_all's bookkeeping is measured over.
UNITS = tuple(source for source in SOURCES if source.name in ("random", "numpy", "torch"))


def unit_calls(seed: int = SEED) -> None:
    for unit in UNITS:
        unit.seed(seed)


def torch_seeding() -> str:
    if _manual_seed_plan(torch, torch.manual_seed) is None:
        return "torch.manual_seed itself (this torch's manual_seed is not the one seedmagic was checked against)"
    return "torch's generators set as torch.manual_seed sets them, without its stack formatting"


def against_raw(own: float, raw: float) -> str:
    """``own`` (seedmagic less the raw calls) as a share of the raw calls."""
    return f"{own / raw:+.0%} of the raw calls" + (" (faster than they are)" if own < 0 else "")


def check_same_draws(seed_with: Callable[[], object]) -> None:
    """The bench compares equals: ``seed_with`` must leave the generators as the raw calls do."""
    raw_calls(SEED)
    expected = (random.random(), np.random.rand(), torch.rand(2).tolist())
    seed_with()
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == expected, "not the raw calls' draws"


# -- the measurements --------------------------------------------------------------------------------------------------


def bench_seed(shell: InteractiveShell) -> list[Row]:
    shell.register_magic_function(lambda line: None, "line", "bench_noop")
    seed_all = lambda: seedmagic.seed_all(SEED)  # noqa: E731
    magic = lambda: shell.run_line_magic("seed", f"{SEED} -q")  # noqa: E731
    noop = lambda: shell.run_line_magic("bench_noop", f"{SEED} -q")  # noqa: E731
    for call in (seed_all, magic, unit_calls):
        check_same_draws(call)
    times = compare(
        {"raw": raw_calls, "units": unit_calls, "seed_all": seed_all, "magic": magic, "noop": noop},
        rounds=160,
        batch=16,
        warmup=300,
    )
    raw, units = times["raw"], times["units"]

    def row(what: str, name: str, call: Callable[[], object], *dispatch: str) -> Row:
        own, books = times.diff(name, *dispatch, "raw"), times.diff(name, *dispatch, "units")
        result = Row(
            what,
            us(times[name]),
            us(raw),
            f"own cost {us(own)} = {against_raw(own, raw)}; seedmagic's bookkeeping {us(books)} over its units' "
            f"seeding calls ({us(units)})",
            f"own cost ≤ {SEED_OWN_RATIO:.0%}",
            verdict(own / raw <= SEED_OWN_RATIO),
        )
        if result.verdict == "MISS":
            result.profile = hotspots(call, 3000)
        return result

    rows = [
        row(
            "`seedmagic.seed_all(N)` vs the raw calls `random.seed; np.random.seed; torch.manual_seed`",
            "seed_all",
            seed_all,
        ),
        row(
            "`%seed N -q` (`run_line_magic`) vs the raw calls, less IPython's dispatch of a no-op line magic "
            f"({us(times['noop'])})",
            "magic",
            magic,
            "noop",
        ),
    ]
    rows.append(bench_seed_cell(shell))
    return rows


def bench_seed_cell(shell: InteractiveShell) -> Row:
    """What a user sees: a `%seed N -q` cell against a cell with the raw seeding calls, both run as cells.

    torch.manual_seed formats the whole call stack, so the raw calls are measured from where a user makes them (a
    cell) rather than from the shallow stack of this script; the seeding calls' cost is the raw cell less an empty one.
    """
    # The raw cell keeps torch.manual_seed's return value out of Out[N], as %seed -q shows nothing either.
    cells = {
        "magic": f"%seed {SEED} -q",
        "raw": raw_calls_source(SEED).replace("torch.", "generator = torch."),
        "empty": "pass",
    }
    for name in ("magic", "raw"):
        check_same_draws(lambda source=cells[name]: shell.run_cell(source).raise_error())
    times = run_cells(shell, cells, rounds=120, batch=8, warmup=100)
    own, calls = times.diff("magic", "raw"), times.diff("raw", "empty")
    row = Row(
        "a `%seed N -q` cell vs a cell with the raw calls `random.seed(N); np.random.seed(N); torch.manual_seed(N)` "
        "(both `shell.run_cell`)",
        us(times["magic"]),
        us(times["raw"]),
        f"own cost {us(own)} = {own / calls:+.0%} of the seeding calls ({us(calls)}: the raw cell less an empty one)"
        f"; the `%seed` cell takes {us(times.diff('magic', 'empty'))} more than an empty one",
        f"own cost ≤ {SEED_OWN_RATIO:.0%}",
        verdict(own / calls <= SEED_OWN_RATIO),
    )
    if row.verdict == "MISS":
        row.profile = hotspots(lambda: shell.run_cell(cells["magic"]), 1500)
    return row


def bench_lightning() -> list[Row]:
    """Last: importing Lightning imports torch._dynamo, which wraps torch.manual_seed and makes it slower."""
    dynamo_before = "torch._dynamo" in sys.modules
    logging.getLogger("lightning_fabric").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    try:  # `lightning` re-exports lightning_fabric as lightning.fabric; the `bench` extra installs the latter
        from lightning.fabric.utilities.seed import seed_everything
    except ImportError:
        from lightning_fabric.utilities.seed import seed_everything
    assert "tensorflow" not in sys.modules, "Lightning imported TensorFlow: seed_all would seed it too"
    environ = dict(os.environ)  # seed_everything sets PL_GLOBAL_SEED and PL_SEED_WORKERS
    times = compare(
        {
            "raw": raw_calls,
            "seed_all": lambda: seedmagic.seed_all(SEED),
            "lightning": lambda: seed_everything(SEED, verbose=False),
        },
        rounds=120,
        batch=16,
        warmup=300,
    )
    os.environ.clear()
    os.environ.update(environ)
    raw = times["raw"]
    note = "" if dynamo_before else "; importing Lightning imported torch._dynamo, which wraps torch.manual_seed"
    return [
        Row(
            "Lightning's `seed_everything(N, verbose=False)` vs the raw calls and `seedmagic.seed_all(N)`, "
            "all after importing Lightning (for reference)",
            us(times["seed_all"]),
            us(raw),
            f"Lightning {us(times['lightning'])} = {times.diff('lightning', 'raw') / raw:+.0%} of the raw calls, "
            f"seed_all {times.diff('seed_all', 'raw') / raw:+.0%}; "
            f"seed_all takes {times['seed_all'] / times['lightning']:.2f}x Lightning's time{note}",
        )
    ]


def bench_seeded_cell(shell: InteractiveShell) -> list[Row]:
    body = "x = torch.rand(1)"
    seeded = f"%%seeded 0\n{body}"
    inline = f"{raw_calls_source(0)}\n{body}"
    # A cell magic that runs its body as %%seeded does, without seeding: what running a body from any cell magic
    # costs (IPython's dispatch of the magic, the body transformed and compiled a second time).
    shell.register_magic_function(
        lambda line, cell: compile_cell(shell, cell, f"%%bench_body {line}").run(), "cell", "bench_body"
    )
    cells = {"seeded": seeded, "inline": inline, "plain": body, "body": f"%%bench_body 0\n{body}"}
    torch.manual_seed(0)
    expected = torch.rand(1)
    for source in cells.values():
        shell.run_cell(source, store_history=True).raise_error()
        if source not in (body, cells["body"]):
            assert torch.equal(shell.user_ns["x"], expected), f"{source!r} does not draw what torch.manual_seed does"
    times = run_cells(shell, cells, rounds=120, batch=8, warmup=100)
    extra = times.diff("seeded", "inline")
    over_plain = times.diff("seeded", "plain")
    row = Row(
        "a `%%seeded 0` cell vs the same cell with the raw calls inline (both `shell.run_cell`)",
        us(times["seeded"]),
        us(times["inline"]),
        f"{us(extra)} extra per cell{' (less time than the raw calls inline)' if extra < 0 else ''}; "
        f"over the plain cell without any seeding ({us(times['plain'])}): "
        f"{us(over_plain)}, of which {us(times.diff('body', 'plain'))} is running a body from a cell magic "
        f"(IPython's dispatch, the body transformed and compiled again) and {us(times.diff('seeded', 'body'))} "
        "the seeding",
        f"≤ {SEEDED_CELL_US:.0f} µs extra",
        verdict(extra <= SEEDED_CELL_US),
    )
    if row.verdict == "MISS":
        # The magic alone: the rest of the cell is the same IPython machinery as in the inline cell.
        row.profile = hotspots(lambda: shell.run_cell_magic("seeded", "0", body), 1500)
    return [row]


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
        [sys.executable, "-X", "importtime", "-c", program], capture_output=True, text=True, check=True, timeout=120
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


def bench_load_ext(runs: int = 9) -> list[Row]:
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_EXT_PROGRAM], capture_output=True, text=True, check=True, timeout=120
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = statistics.median(result["load_ms"] for result in results)
    shell = statistics.median(result["shell_ms"] for result in results)
    modules = sorted({module for result in results for module in result["modules"]})
    top = sorted({module.split(".")[0] for module in modules})
    frameworks = [name for name in FRAMEWORKS if name in top]
    row = Row(
        f"`%load_ext seedmagic` in a fresh interpreter vs the bare shell start before it (median of {runs})",
        f"{load:.1f} ms",
        f"{shell:.1f} ms",
        f"+{load / shell:.0%} of the shell start; imported {len(modules)} modules "
        f"({', '.join(top)}); frameworks: {', '.join(frameworks) or 'none'}",
        f"≤ {LOAD_EXT_MS:.0f} ms, no framework",
        verdict(load <= LOAD_EXT_MS and not frameworks),
    )
    row.notes.append("modules `%load_ext seedmagic` imported: " + ", ".join(modules))
    if row.verdict == "MISS":
        row.profile = import_times()
    return [row]


def bench_snapshot() -> list[Row]:
    def by_hand() -> None:
        with torch.random.fork_rng(devices=[]):
            numpy_state = np.random.get_state()
            random_state = random.getstate()
            np.random.set_state(numpy_state)
            random.setstate(random_state)

    def seedmagic_snapshot() -> None:
        seedmagic.restore(seedmagic.snapshot())

    times = compare({"by_hand": by_hand, "seedmagic": seedmagic_snapshot}, rounds=160, batch=16, warmup=300)
    ratio = times["seedmagic"] / times["by_hand"]
    return [
        Row(
            "`seedmagic.restore(seedmagic.snapshot())` vs `torch.random.fork_rng(devices=[])` + NumPy's and "
            "random's get/set state",
            us(times["seedmagic"]),
            us(times["by_hand"]),
            f"{ratio:.2f}x (seedmagic also saves the determinism flags, CUBLAS_WORKSPACE_CONFIG and the session)",
        )
    ]


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
    cell = "x = torch.rand(1)"
    samples: dict[str, list[float]] = {"bare": [], "auto": [], "auto+panel": []}

    def run(source: str) -> None:
        result = shell.run_cell(source, store_history=True)
        result.raise_error()

    def drain() -> None:  # the panel's comm messages and the display data, as a front end would read them
        with contextlib.suppress(Exception):
            while True:
                client.get_iopub_msg(timeout=0.001)

    def enter(state: str) -> None:
        run("%unload_ext seedmagic")
        if state != "bare":
            run("%load_ext seedmagic")
            run("%seed 0 --auto -q")
        if state == "auto+panel":
            run("%seedpanel")
            assert sys.modules["seedmagic.panel"].panels(shell), "%seedpanel showed no live panel"

    run("%load_ext seedmagic")
    states = list(samples)
    for index in range(36):
        shift = index % len(states)
        for state in states[shift:] + states[:shift]:
            enter(state)
            block = []
            for warm in (True,) * 3 + (False,) * 20:
                start = time.perf_counter_ns()
                shell.run_cell(cell, store_history=True)
                if not warm:
                    block.append((time.perf_counter_ns() - start) / 1000)
            samples[state].append(statistics.median(block))  # one sample per state and round
            drain()
    enter("auto+panel")
    profile = hotspots(lambda: shell.run_cell(cell, store_history=True), 600)
    drain()
    print("@@" + json.dumps({"samples": samples, "profile": profile}))
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
        "a plain cell with `%seed 0 --auto` and a live `%seedpanel` (in-process ipykernel) vs the same cell "
        "without seedmagic (`%unload_ext`)"
    )
    target = f"≤ {AUTO_PANEL_US:.0f} µs extra"
    seedmagic.seed_all(0)
    missing = auto_panel_available(shell)
    if missing is not None:
        return [Row(what, "-", "-", f"not available in this version ({missing})", target, "n/a")]
    done = subprocess.run(
        [sys.executable, __file__, "--auto-panel"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("@@")]
    if not lines:
        return [Row(what, "-", "-", f"the measurement failed: {done.stderr.strip()[-300:]}", target, "n/a")]
    child = json.loads(lines[-1][2:])
    times = Timings(child["samples"])
    extra = times.diff("auto+panel", "bare")
    row = Row(
        what,
        us(times["auto+panel"]),
        us(times["bare"]),
        f"{us(extra)} extra per cell, of which auto mode alone {us(times.diff('auto', 'bare'))} "
        f"and the panel's refresh {us(times.diff('auto+panel', 'auto'))}",
        target,
        verdict(extra <= AUTO_PANEL_US),
    )
    if row.verdict == "MISS":
        row.profile = child["profile"]
    return [row]


# -- the report --------------------------------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import IPython

    return (
        f"{model}, {os.cpu_count()} cores ({usable} usable); {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}; torch {torch.__version__} (threads {torch.get_num_threads()}); "
        f"numpy {np.__version__}; IPython {IPython.__version__}; seedmagic {seedmagic.__version__}; "
        f"seedmagic seeds torch with {torch_seeding()}"
    )


def render(rows: list[Row], machine_line: str, seconds: float) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# seedmagic benchmarks",
        "",
        f"Machine: {machine_line}. Run took {seconds:.0f} s.",
        "",
        "Times are medians over rounds of interleaved batches (`time.perf_counter_ns`, one process; the "
        "auto/panel row in a second one with an in-process kernel); differences are medians of the per-round "
        "differences. Own cost = seedmagic's time beyond the raw seeding calls a user would make instead "
        "(`random.seed; np.random.seed; torch.manual_seed`; for `%seed`, also beyond IPython's dispatch of a no-op "
        "line magic); it is negative where seedmagic takes less time than they do, because it sets torch's "
        "generators as `torch.manual_seed` does without formatting the stack for backends this torch lacks. "
        "Bookkeeping = seedmagic's time beyond its own units' seeding calls. Cells are run with `store_history=True`, "
        "the input history flushed between rounds.",
        "",
        "| measurement | seedmagic | baseline | result | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {cell(r.what)} | {r.seedmagic} | {r.baseline} | {cell(r.result)} | {r.target} | {r.verdict} |" for r in rows
    ]
    for row in rows:
        for note in row.notes:
            lines += ["", note]
    for row in rows:
        if row.profile:
            lines += ["", f"## Hot spots: {row.what}", "", "```", row.profile, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    began = time.perf_counter()
    assert "torch._dynamo" not in sys.modules, "torch._dynamo wraps torch.manual_seed: measure without it"
    assert "tensorflow" not in sys.modules, "the comparison is with random, NumPy and torch imported, not TensorFlow"
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns.update(random=random, np=np, torch=torch)
    shell.run_line_magic("load_ext", "seedmagic")
    rows = []
    for step in (bench_seed, bench_seeded_cell):
        rows += step(shell)
    rows += bench_load_ext()
    rows += bench_snapshot()
    rows += bench_auto_panel(shell)
    rows += bench_lightning()
    text = render(rows, machine(), time.perf_counter() - began)
    RESULTS.write_text(text)
    print(text)
    print(f"(written to {RESULTS})")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--auto-panel"]:
        auto_panel_child()
    sys.exit(main())
