"""Benchmarks against Lightning's ``seed_everything``, run last: importing Lightning imports torch._dynamo, which
wraps ``torch.manual_seed`` (for seedmagic too).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from baselines import NOOP_CELL, SEED, SEED_RATIO, check_same_draws, raw_calls
from hotspots import cell_hotspots
from IPython.core.interactiveshell import InteractiveShell
from ratios import at_depth_of, compare, run_cells
from report import Table, ratio_row, reference_row, signed, us

import seedmagic

pytestmark = pytest.mark.benchmark(group="lightning")


class Lightning(NamedTuple):
    seed_everything: Callable[..., object]
    #: Whether torch._dynamo was imported before Lightning was.
    dynamo_before: bool


@pytest.fixture(scope="module")
def lightning(shell: InteractiveShell) -> Iterator[Lightning]:
    """Lightning's ``seed_everything``, imported, in the shell's namespace; the environment put back after the
    module's benchmarks (it sets PL_GLOBAL_SEED and PL_SEED_WORKERS)."""
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
    try:
        yield Lightning(seed_everything, dynamo_before)
    finally:
        os.environ.clear()
        os.environ.update(environ)


CELLS = {
    "magic": f"%seed {SEED} -q",
    "lightning": f"lightning_seed = seed_everything({SEED}, verbose=False)",
    "noop": f"%bench_noop {SEED} -q",
}


def test_lightning_cells(
    lightning: Lightning, shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table
) -> None:
    """A ``%seed N -q`` cell against a cell calling Lightning's ``seed_everything(N, verbose=False)``."""
    check_same_draws(lambda: shell.run_cell(CELLS["lightning"]).raise_error())
    in_cells = run_cells(shell, CELLS, rounds=rounds(300), batch=6, warmup=60, benchmark=benchmark)
    cell_row = ratio_row(
        "a `%seed N -q` cell vs a cell calling Lightning's `seed_everything(N, verbose=False)` (both "
        "`shell.run_cell`, after importing Lightning)",
        in_cells,
        "magic",
        "lightning",
        at_most=SEED_RATIO,
        baseline_name="the Lightning cell",
        detail=lambda t: f"{NOOP_CELL}: {us(t['noop'])}",
        profile=lambda: cell_hotspots(shell, CELLS["magic"]),
    )
    table.add(benchmark, cell_row)


def test_lightning_lines(
    lightning: Lightning, shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table
) -> None:
    """``%seed N -q`` and ``seedmagic.seed_all(N)`` against ``seed_everything(N, verbose=False)``, as calls."""
    seed_everything = lightning.seed_everything
    lightning_call = lambda: seed_everything(SEED, verbose=False)  # noqa: E731
    magic = lambda: shell.run_line_magic("seed", f"{SEED} -q")  # noqa: E731
    seed_all = lambda: seedmagic.seed_all(SEED)  # noqa: E731
    lightning_at_magic, frames = at_depth_of(magic, lightning_call)
    for call in (lightning_call, lightning_at_magic):
        check_same_draws(call)
    in_lines = compare(
        {
            "magic": magic,
            "lightning@magic": lightning_at_magic,
            "raw": raw_calls,
            "seed_all": seed_all,
            "lightning": lightning_call,
        },
        rounds=rounds(300),
        batch=12,
        warmup=200,
        benchmark=benchmark,
    )
    note = (
        "" if lightning.dynamo_before else "; importing Lightning imported torch._dynamo, which wraps torch.manual_seed"
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
    table.add(benchmark, line_row, reference)
