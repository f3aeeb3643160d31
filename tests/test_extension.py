"""Loading, unloading and reloading the extension registers each thing once and removes it again."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.cell import seeded_cells
from seedmagic.engine import ENGINE


def counts(shell):
    magics = shell.magics_manager.magics
    callbacks = sum(len(handlers) for handlers in shell.events.callbacks.values())
    hooks = sum(finder is ENGINE.hook for finder in sys.meta_path)
    transformers = sum(transform is seeded_cells for transform in shell.input_transformers_cleanup)
    return "seed" in magics["line"], "seeded" in magics["cell"], callbacks, hooks, transformers


def test_unload_removes_magics_and_import_hook(ip):
    run_ok(ip, "%seed 1 -q")
    assert counts(ip)[3:] == (1, 1)
    run_ok(ip, "%unload_ext seedmagic")
    magic_line, magic_cell, _, hooks, transformers = counts(ip)
    assert (magic_line, magic_cell, hooks, transformers) == (False, False, 0, 0)
    assert isinstance(run_failing(ip, "%seed 2"), UsageError)
    # A %%seeded cell is now what it is without seedmagic: an unknown cell magic, and its body does not run.
    ip.user_ns.pop("ran", None)
    assert isinstance(run_failing(ip, "%%seeded 0\nran = True"), UsageError)
    assert "ran" not in ip.user_ns
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


def cell_callbacks(shell):
    return len(shell.events.callbacks["pre_run_cell"]), len(shell.events.callbacks["post_run_cell"])


def test_cell_callbacks_are_bound_methods_registered_once_and_removed(ip):
    run_ok(ip, "%unload_ext seedmagic")
    baseline = cell_callbacks(ip)
    run_ok(ip, "%load_ext seedmagic")
    assert cell_callbacks(ip) == (baseline[0] + 1, baseline[1] + 1)
    for _ in range(5):
        run_ok(ip, "%reload_ext seedmagic")
    assert cell_callbacks(ip) == (baseline[0] + 1, baseline[1] + 1)
    magics = ip.magics_manager.registry["SeedMagics"]
    assert magics.pre_run_cell in ip.events.callbacks["pre_run_cell"]
    run_ok(ip, "%unload_ext seedmagic")
    assert cell_callbacks(ip) == baseline
    run_ok(ip, "%load_ext seedmagic")


def test_profile_options_seed_the_session_at_load(ip):
    import torch

    run_ok(ip, "%unload_ext seedmagic")
    ip.config.SeedMagics.seed = 21
    ip.config.SeedMagics.auto = True
    ip.config.SeedMagics.deterministic = True
    try:
        run_ok(ip, "%load_ext seedmagic")
        status = seedmagic.status()
        assert (status.seed, status.mode, status.deterministic) == (21, "auto", True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        del ip.config.SeedMagics


def test_environment_seed_overrides_the_profile(ip, monkeypatch):
    run_ok(ip, "%unload_ext seedmagic")
    ip.config.SeedMagics.seed = 21
    monkeypatch.setenv("SEEDMAGIC_SEED", "33")
    try:
        run_ok(ip, "%load_ext seedmagic")
        assert seedmagic.current_seed() == 33
    finally:
        del ip.config.SeedMagics


def test_a_bad_environment_seed_is_a_warning_and_changes_nothing(ip, monkeypatch):
    import pytest

    from seedmagic import SeedmagicWarning

    run_ok(ip, "%unload_ext seedmagic")
    monkeypatch.setenv("SEEDMAGIC_SEED", "-5")
    with pytest.warns(SeedmagicWarning, match="ignored SEEDMAGIC_SEED: seed must be between"):
        run_ok(ip, "%load_ext seedmagic")
    assert seedmagic.current_seed() is None


def test_reload_does_not_reseed_a_seeded_session(ip, monkeypatch):
    run_ok(ip, "%seed 4 -q")
    monkeypatch.setenv("SEEDMAGIC_SEED", "9")
    run_ok(ip, "%reload_ext seedmagic")
    assert seedmagic.current_seed() == 4


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("auto", 1),
        ("auto", "no"),
        ("deterministic", np.True_),
        ("deterministic", 0),
        ("deterministic", "False"),
        ("seed", 1.5),
        ("seed", True),
        ("seed", "7"),
        ("seed", -1),
    ],
)
def test_a_bad_profile_option_is_a_one_line_warning_and_changes_nothing(ip, option, value):
    import torch

    from seedmagic import SeedmagicWarning

    run_ok(ip, "%unload_ext seedmagic")
    ip.config.SeedMagics.seed = 21
    ip.config.SeedMagics.deterministic = True
    setattr(ip.config.SeedMagics, option, value)
    before = torch.get_rng_state()
    try:
        with pytest.warns(SeedmagicWarning, match="seedmagic ignored the profile options: .*got") as caught:
            run_ok(ip, "%load_ext seedmagic")
    finally:
        del ip.config.SeedMagics
    assert all("\n" not in str(warning.message) for warning in caught)
    assert seedmagic.current_seed() is None
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.get_rng_state(), before)
    assert "SeedMagics" in ip.magics_manager.registry  # the extension loaded all the same
