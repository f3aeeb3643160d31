"""Loading, unloading and reloading the extension registers each thing once and removes it again."""

from __future__ import annotations

import sys

from conftest import run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.engine import ENGINE


def counts(shell):
    magics = shell.magics_manager.magics
    callbacks = sum(len(handlers) for handlers in shell.events.callbacks.values())
    hooks = sum(finder is ENGINE.hook for finder in sys.meta_path)
    return "seed" in magics["line"], "seeded" in magics["cell"], callbacks, hooks


def test_unload_removes_magics_and_import_hook(ip):
    run_ok(ip, "%seed 1 -q")
    assert counts(ip)[3] == 1
    run_ok(ip, "%unload_ext seedmagic")
    magic_line, magic_cell, _, hooks = counts(ip)
    assert (magic_line, magic_cell, hooks) == (False, False, 0)
    assert isinstance(run_failing(ip, "%seed 2"), UsageError)
    run_ok(ip, "%load_ext seedmagic")


def test_reload_registers_nothing_twice(ip):
    run_ok(ip, "%seed 1 -q")
    before = counts(ip)
    for _ in range(20):
        run_ok(ip, "%reload_ext seedmagic")
    assert counts(ip) == before
    assert list(ip.magics_manager.registry).count("SeedMagics") == 1


def test_reload_keeps_the_session_seed(ip):
    run_ok(ip, "%seed 13 -q")
    run_ok(ip, "%reload_ext seedmagic")
    assert seedmagic.current_seed() == 13
    assert counts(ip)[3] == 1


def test_load_unload_cycles_leave_the_shell_as_it_was(ip):
    run_ok(ip, "%unload_ext seedmagic")
    baseline = counts(ip), len(sys.meta_path)
    for _ in range(50):
        run_ok(ip, "%load_ext seedmagic")
        run_ok(ip, "%seed 3 -q")
        run_ok(ip, "%unload_ext seedmagic")
        ENGINE.reset()
    assert (counts(ip), len(sys.meta_path)) == baseline
    run_ok(ip, "%load_ext seedmagic")


def test_public_api():
    assert set(seedmagic.__all__) >= {
        "seed_all",
        "current_seed",
        "snapshot",
        "restore",
        "isolated",
        "status",
        "worker_init_fn",
        "torch_generator",
    }
    assert callable(seedmagic.load_ipython_extension) and callable(seedmagic.unload_ipython_extension)
