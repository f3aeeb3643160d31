"""The results table: one row per measurement, with its target and verdict, written to stdout and to
``benchmarks/results.md``.

Each row holds its figures twice: with torch's stack formatting stubbed (seedmagic, the baseline, the result; the
verdict is judged on these) and with torch as shipped. A missed target brings its hot spots underneath the table.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ratios import SHIPPED, STUBBED, Both, Timings

RESULTS = Path(__file__).with_name("results.md")


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

    def as_dict(self) -> dict[str, Any]:
        """The row as pytest-benchmark's ``extra_info`` keeps it (``--benchmark-json``)."""
        return {
            "what": self.what,
            "target": self.target,
            "verdict": self.verdict,
            STUBBED: self.stubbed._asdict(),
            SHIPPED: self.shipped._asdict(),
        }


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
    at_most: float,
    baseline_name: str,
    profile: Callable[[], str],
    detail: Callable[[Timings], str] = lambda times: "",
) -> Row:
    """A row whose target is ``name`` at most ``at_most`` times ``baseline``."""

    def result(times: Timings) -> str:
        ratio = f"{times.ratio(name, baseline):.2f}x {baseline_name} ({signed(times.diff(name, baseline))})"
        return "; ".join(part for part in (ratio, detail(times)) if part)

    return compared_row(
        what,
        timings,
        name,
        baseline,
        result=result,
        target=f"≤ {at_most:.2f}x",
        ok=lambda times: times.ratio(name, baseline) <= at_most,
        profile=profile,
    )


def reference_row(what: str, timings: Both, result: Callable[[Timings], str], name: str, baseline: str) -> Row:
    """A row without a target, stubbed and as shipped."""

    def figures(times: Timings, label: str) -> Figures:
        return Figures(us(times[name]), us(times[baseline]), f"{label}: {result(times)}")

    stubbed = timings.stubbed
    return Row(what, figures(stubbed, stubbed_calls(stubbed, name, baseline)), figures(timings.shipped, SHIPPED))


# -- the table ---------------------------------------------------------------------------------------------------------


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine(load_before: float) -> str:
    import IPython
    import numpy as np
    import torch

    import seedmagic

    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}, {os.cpu_count()} cores ({usable} usable; 1-minute load average {load_before:.1f} before the run, "
        f"{load_average():.1f} after); "
        f"{platform.system()} {platform.machine()}; Python {platform.python_version()}; torch {torch.__version__} "
        f"(threads {torch.get_num_threads()}); numpy {np.__version__}; IPython {IPython.__version__}; "
        f"seedmagic {seedmagic.__version__}"
    )


def render(rows: list[Row], machine_line: str, seconds: float, formatting: int, depth: int) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "# seedmagic benchmarks",
        "",
        f"Machine: {machine_line}. Run took {seconds:.0f} s.",
        "",
        "Times are medians over rounds of interleaved batches, the order rotating every round "
        "(pytest-benchmark runs the rounds; `time.perf_counter_ns` times each batch, gc disabled while timing; one "
        "process, the auto/panel rows in a second one with an in-process kernel); ratios and differences are medians "
        "of the per-round ones. Cells are run with `store_history=True`, the input history flushed between rounds. A "
        "batch runs its calls back to back, so what seedmagic keeps for a few milliseconds (its reading of sys.path) "
        "serves most of them; in a notebook, cells come seconds apart.",
        "",
        f"`torch.manual_seed` formats the caller's whole stack ({formatting} calls of `traceback.format_stack` per "
        "call, counted) to queue the seeding of CUDA/XPU/MTIA devices that have not started; that cost grows with "
        "the call depth and is torch's. Every variant is therefore timed twice in the same interleaved run: with "
        f"`traceback.format_stack` stubbed to return `[]` ({STUBBED}, for seedmagic and the baseline alike; each "
        "row gives the calls the stub answered per run, seedmagic's/the baseline's), and with torch as it ships. "
        f"Verdicts are on the {STUBBED} figures. seedmagic seeds torch with `torch.manual_seed` itself. The "
        f"benchmarks run under pytest, whose frames lie under every call: the raw calls, called from a fixture, have "
        f"torch format a stack {depth} frames deep (a cell in ipykernel runs a few frames deep), so the figures as "
        "shipped carry more of torch's formatting than a notebook's would, on both sides.",
        "",
        "pytest-benchmark's own table, printed after this one, times whole rounds (one batch of every variant, "
        "stubbed and as shipped) and the second processes once: the figures per variant are the ones here.",
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


@dataclass
class Table:
    """The rows of one run, in the order the benchmarks ran, each also kept in its benchmark's ``extra_info``."""

    began: float
    load_before: float
    formatting: int = 0
    #: The depth of the stack torch formats for the raw calls, called from a benchmark's own frame.
    depth: int = 0
    rows: list[Row] = field(default_factory=list)

    def add(self, benchmark: Any, *rows: Row) -> None:
        self.rows += rows
        benchmark.extra_info.setdefault("rows", []).extend(row.as_dict() for row in rows)
