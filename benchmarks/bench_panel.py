"""Benchmark of auto mode with a live panel: a plain cell with ``%seed 0 --auto`` and ``%seedpanel`` shown, against
the same cell without seedmagic, and the panel's own work per cell, measured in a second process
(``panel_child.py``) with an in-process ipykernel, so that the panel is live and refreshes after every cell.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from baselines import AUTO_CELL
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from ratios import SHIPPED, STUBBED, Timings
from report import Figures, Row, Table, signed, us, verdict

import seedmagic

pytestmark = pytest.mark.benchmark(group="panel")

CHILD = Path(__file__).with_name("panel_child.py")
# Targets, judged with torch's stack formatting stubbed.
AUTO_PANEL_US = 300.0  # auto mode and a live panel over no seedmagic, per cell
PANEL_REFRESH_US = 60.0  # the live panel's own work per cell: its reading and refresh


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


def test_auto_panel(shell: InteractiveShell, benchmark: Any, quick: bool, table: Table) -> None:
    """A plain cell with ``%seed --auto`` on and a live panel shown, against the same cell without seedmagic
    (pytest-benchmark times the whole second process, once; the figures are its own)."""
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
    lines: list[str] = []
    if missing is not None:
        failed = f"not available in this version ({missing})"
    else:

        def run_child() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, str(CHILD), *(["--quick"] if quick else [])],
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
            )

        done = benchmark.pedantic(run_child, rounds=1)
        lines = [line for line in done.stdout.splitlines() if line.startswith("@@")]
        if not lines:
            failed = f"the measurement failed: {done.stderr.strip()[-300:]}"
    if failed is not None:
        empty = Figures("-", "-", failed)
        table.add(benchmark, Row(what, empty, empty, target, "n/a"))
        return
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
    table.add(benchmark, row, refresh_row)
