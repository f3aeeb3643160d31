"""The benchmarks' shared fixtures (the IPython shell, the rounds, the results table) and how pytest runs them.

``python benchmarks/bench.py [--quick] [pytest options]`` (``make bench``) runs them; ``make test`` never collects
them (pyproject's testpaths are tests/ and notebooks/, and these files are named ``bench_*.py``). They run in the
order of ``FILES``, Lightning last: importing it wraps ``torch.manual_seed``. The table goes to stdout at the end,
and to ``benchmarks/results.md`` when every benchmark ran and passed (a run narrowed with ``-k`` or to some files
does not replace the full table).
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from baselines import SEED, raw_calls
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import no_var_expand
from ratios import probe, rounds_for
from report import RESULTS, Table, load_average, machine, render
from traitlets.config import Config

import seedmagic

HERE = Path(__file__).resolve().parent
# What each file measures, in the order they run.
FILES = ("bench_seeding.py", "bench_tools.py", "bench_scale.py", "bench_panel.py", "bench_lightning.py")
TABLE = pytest.StashKey[Table]()
NARROWED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="a tenth of the rounds, to try the bench out (rough figures)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TABLE] = Table(time.perf_counter(), load_average())
    config.stash[NARROWED] = any((config.invocation_params.dir / arg).resolve() != HERE for arg in config.args)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.name.startswith("bench_") and file_path.suffix == ".py":
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FILES)))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[NARROWED] = True


@pytest.fixture(scope="session")
def quick(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--quick"))


@pytest.fixture(scope="session")
def rounds(quick: bool) -> Callable[[int], int]:
    """``rounds(full)``: the rounds of a measurement in this run (a tenth of them with ``--quick``)."""
    return functools.partial(rounds_for, quick=quick)


@pytest.fixture(scope="session")
def table(pytestconfig: pytest.Config) -> Table:
    """The results table, and how often ``torch.manual_seed`` formats the stack (seedmagic seeds torch as it does)."""
    assert "torch._dynamo" not in sys.modules, "torch._dynamo wraps torch.manual_seed: measure without it"
    assert "tensorflow" not in sys.modules, "the comparison is with random, NumPy and torch imported, not TensorFlow"
    results = pytestconfig.stash[TABLE]
    raw = probe(raw_calls)
    results.formatting, results.depth = raw.calls, raw.depth
    assert probe(lambda: seedmagic.seed_all(SEED)).calls == results.formatting, (
        "seedmagic does not seed torch as torch does"
    )
    return results


@pytest.fixture(scope="session")
def shell(table: Table) -> Iterator[InteractiveShell]:
    """One shell for every benchmark, seedmagic loaded, random, NumPy and torch in its namespace, and a line magic
    that does nothing (``%bench_noop``: IPython's share of a ``%seed`` line)."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns.update(random=random, np=np, torch=torch)
    shell.run_line_magic("load_ext", "seedmagic")
    # Without IPython's expansion of $var and {expr}, which copies the namespace: as seedmagic's own magics.
    shell.register_magic_function(no_var_expand(lambda line: None), "line", "bench_noop")
    yield shell
    InteractiveShell.clear_instance()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash[TABLE]
    if not results.rows:
        return
    seconds = time.perf_counter() - results.began
    text = render(results.rows, machine(results.load_before), seconds, results.formatting, results.depth)
    terminalreporter.write_line("")
    terminalreporter.write(text)
    if exitstatus == 0 and not config.stash[NARROWED]:
        RESULTS.write_text(text)
        terminalreporter.write_line(f"(written to {RESULTS})")
    else:
        terminalreporter.write_line(f"(not written to {RESULTS}: only a whole run that passes replaces it)")
