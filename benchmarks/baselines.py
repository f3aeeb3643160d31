"""What a user would write instead of seedmagic (the raw seeding calls), and the checks that both sides draw the same.

The baselines are the raw calls ``random.seed; np.random.seed; torch.manual_seed``, Lightning's ``seed_everything``
and a ``pre_run_cell`` callback that reseeds every cell; the bench compares equals, so each side must leave the
generators as the other does.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

SEED = 2023
# The target of a `%seed N` cell, against the raw calls and against Lightning's seed_everything (judged with torch's
# stack formatting stubbed).
SEED_RATIO = 1.25

# The cell timed in auto mode (with and without a live panel).
AUTO_CELL = "x = torch.rand(1)"

# What IPython's handling of a `%` line costs by itself, in a cell: the same line given to a line magic that does
# nothing (registered by the `shell` fixture).
NOOP_CELL = "a cell with a no-op line magic given the same line (IPython's share of a `%seed` cell)"


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


def run(shell: Any, source: str) -> None:
    """A cell, quietly, that must not fail."""
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_cell(source, store_history=True).raise_error()
