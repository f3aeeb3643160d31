"""Fixtures: a real IPython shell with seedmagic loaded, and a fresh interpreter for import-time behaviour."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest
import scheduling
from IPython.core.interactiveshell import InteractiveShell

import seedmagic
from seedmagic.engine import ENGINE
from seedmagic.sources import Source

# The notebooks made for `seedmagic verify` do not reproduce on purpose: tests/test_verify.py runs them, nbval not.
collect_ignore_glob = ["notebooks/verify/*.ipynb"]


@pytest.fixture(autouse=True)
def fresh_session():
    """Every test starts with no session seed, deterministic mode off and the environment as it was."""
    environ = dict(os.environ)
    ENGINE.reset()
    yield ENGINE
    ENGINE.reset()
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture(scope="module", params=["copied up front", "watched by the mode"])
def both_watchings(request):
    """Each test of a module twice: with the notebook's small host tensors copied before each run and compared after
    it, and with every tensor watched by the dispatch mode, as tensors too large to copy up front are."""
    from seedmagic import writes

    saved = writes._TORCH_UP_FRONT
    if request.param == "watched by the mode":
        writes._TORCH_UP_FRONT = -1
    try:
        yield request.param
    finally:
        writes._TORCH_UP_FRONT = saved


@pytest.fixture
def ip():
    """The real InteractiveShell with ``%load_ext seedmagic`` run, unloaded afterwards."""
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "seedmagic")
    yield shell
    shell.run_line_magic("unload_ext", "seedmagic")


def generators_and_flags() -> dict:
    """Every generator state and setting seedmagic can change: what bad input and isolation must leave alone."""
    import random

    import numpy as np
    import torch

    name, keys, position, has_gauss, gauss = np.random.get_state()
    status = seedmagic.status()
    return {
        "random": random.getstate(),
        "numpy": (name, keys.tolist(), position, has_gauss, gauss),
        "torch": torch.get_rng_state().tolist(),
        "torch flags": (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        ),
        # torch writes TORCHINDUCTOR_CACHE_DIR the first time it imports inductor (the first
        # torch.use_deterministic_algorithms call does): where its compile cache is, not a setting of seedmagic's.
        "environ": {key: value for key, value in os.environ.items() if key != "TORCHINDUCTOR_CACHE_DIR"},
        "session seed": ENGINE.seed,
        "current seed": seedmagic.current_seed(),
        "mode": status.mode,
        "deterministic mode": (status.deterministic, status.warn_only),
        "import hook": ENGINE.hook.installed,
    }


class FailingLibrary(Source):
    """A library whose seeding and state reading fail (it stands in for `random`, so selection accepts it)."""

    name = "random"
    module = "sys"

    def seed(self, seed):
        raise RuntimeError("cannot seed")

    def shown_streams(self):
        raise RuntimeError("cannot read")


def run_ok(shell, source: str):
    """Run a cell as a user would; fail the test if the cell fails. Returns the cell's result (its Out value)."""
    result = shell.run_cell(source, store_history=True)
    result.raise_error()
    return result.result


_runs = itertools.count()


def run_number() -> int:
    """0, 1, 2, ...: a source of change between the two runs of a check that lives outside the notebook, as the
    clock does."""
    return next(_runs)


@contextlib.contextmanager
def names_in(shell, **names):
    """The names bound in the shell's namespace for the block; those the block binds are gone afterwards, the user's
    as they were, and IPython's own (_, __, _3, _i3, Out, ...) as IPython left them, or it would take the restored
    ones for the user's and stop updating them."""
    before = dict(shell.user_ns)
    shell.user_ns.update(names)
    try:
        yield shell
    finally:
        for name in [name for name in shell.user_ns if name not in before and not name.startswith("_")]:
            del shell.user_ns[name]
        shell.user_ns.update({name: value for name, value in before.items() if not name.startswith("_")})


def checked(shell, capsys, body: str, seed: int = 0) -> str:
    """Run ``body`` under ``%%seeded SEED --check`` as a user would; return what the report printed."""
    run_ok(shell, f"%%seeded {seed} --check\n{body}")
    captured = capsys.readouterr()
    return captured.out + captured.err


def run_failing(shell, source: str) -> BaseException:
    """Run a cell that must fail; return the exception the user saw."""
    result = shell.run_cell(source, store_history=True)
    error = result.error_before_exec or result.error_in_exec
    assert error is not None, f"cell should have failed: {source!r}"
    return error


@pytest.fixture
def fresh_python():
    """Run code in a new interpreter (nothing imported yet); returns the value it passes to ``emit`` (as JSON).

    The code runs at module level with ``shell`` (a real InteractiveShell), ``cell(source)`` (runs a cell, fails on
    an error, returns the cell's result) and ``emit(value)`` defined.
    """

    def run(body: str, env: dict[str, str] | None = None):
        program = textwrap.dedent(
            """
            import json, sys
            from IPython.core.interactiveshell import InteractiveShell
            shell = InteractiveShell.instance()
            def cell(source):
                result = shell.run_cell(source, store_history=True)
                result.raise_error()
                return result.result
            def emit(value):
                print("@@" + json.dumps(value))
            """
        ) + textwrap.dedent(body)
        done = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = [line for line in done.stdout.splitlines() if line.startswith("@@")]
        assert lines, done.stdout + done.stderr
        return json.loads(lines[-1][2:])

    return run


if scheduling.make_scheduler is not None:
    pytest_xdist_make_scheduler = pytest.hookimpl(optionalhook=True)(scheduling.make_scheduler)


def pytest_collection_modifyitems(config, items):
    scheduling.slow_groups_first(items)
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)
