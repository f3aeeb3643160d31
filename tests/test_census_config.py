"""``%config SeedMagics.census = True`` in a running session, in a real shell and in a real kernel: it switches the
census on at once, ``False`` puts back every attribute it changed, and a bad value is refused as traitlets refuse one
for IPython's own options, changing nothing."""

from __future__ import annotations

import logging
import random

import numpy as np
import numpy.random.bit_generator as bit_generator
import pytest
import torch
from conftest import run_ok
from test_kernel import run_kernel

import seedmagic
from seedmagic.engine import ENGINE


@pytest.fixture(autouse=True)
def profile_as_it_was(ip):
    """``%config`` merges what it is given into the shell's config, a refused value too (IPython does so for every
    configurable): put it back, for the tests that load the extension after these."""
    yield
    ip.config.SeedMagics.pop("census", None)


def patchable() -> tuple:
    """Every attribute the census may change."""
    return (
        bit_generator.randbits,
        np.random.RandomState,
        np.random.Philox,
        random.Random.__dict__["__init__"],
        torch.Generator,
    )


def same(a: tuple, b: tuple) -> bool:
    return all(x is y for x, y in zip(a, b, strict=True))


def test_config_census_switches_the_census_on_and_off_in_a_running_session(ip):
    before = patchable()
    assert not ENGINE.census.enabled
    run_ok(ip, "%config SeedMagics.census = True")
    assert ENGINE.census.enabled and not same(patchable(), before)
    made = ip.run_cell("import numpy as np\ng = np.random.default_rng()", store_history=True)
    made.raise_error()
    assert [(s.library, s.cell, s.line) for s in seedmagic.status().unseeded] == [("numpy", made.execution_count, 2)]
    run_ok(ip, "%config SeedMagics.census = False")
    assert not ENGINE.census.enabled
    assert same(patchable(), before), "every attribute is as if the census had never been on"
    run_ok(ip, "h = np.random.default_rng()")
    assert [s.count for s in seedmagic.status().unseeded] == [1]  # not counted any more
    assert ip.run_line_magic("config", "SeedMagics.census") is False


def test_config_census_off_leaves_what_reach_still_needs(ip):
    before = patchable()
    run_ok(ip, "%config SeedMagics.census = True")
    run_ok(ip, "%seed 0 --reach -q")
    run_ok(ip, "%config SeedMagics.census = False")
    cell = "np.random.default_rng().random()"
    run_ok(ip, "import numpy as np")
    assert run_ok(ip, cell) == run_ok(ip, cell), "reach still seeds them"
    run_ok(ip, "%seed --no-reach -q")
    assert same(patchable(), before)


@pytest.mark.parametrize("value", ["3", "1", "'yes'", "None", "np.True_"])
def test_a_bad_census_value_is_refused_as_traitlets_refuse_one_and_changes_nothing(ip, caplog, value):
    run_ok(ip, "import numpy as np")
    before = patchable()
    caplog.set_level(logging.ERROR)
    run_ok(ip, f"%config SeedMagics.census = {value}")
    [record] = [r for r in caplog.records if "census" in r.getMessage()]
    # IPython's own boolean options are refused the same way (traitlets' Bool takes 1 and 0, seedmagic does not).
    caplog.clear()
    run_ok(ip, "%config InteractiveShell.automagic = 3")
    [theirs] = caplog.records
    expected = theirs.getMessage().replace("'automagic'", "'census'").replace("an InteractiveShell", "a SeedMagics")
    shown = ip.user_ns["np"].True_ if value == "np.True_" else eval(value)
    assert record.getMessage() == expected.replace("the int 3", f"the {type(shown).__name__} {shown!r}"), record
    assert "\n" not in record.getMessage()
    assert ip.run_line_magic("config", "SeedMagics.census") is False
    assert not ENGINE.census.enabled and same(patchable(), before)
    assert ip.run_line_magic("config", "InteractiveShell.automagic") is True


def test_config_census_in_a_real_kernel():
    ran = run_kernel(
        "import numpy as np\nimport numpy.random.bit_generator as bg\nbefore = bg.randbits\n%load_ext seedmagic",
        "%config SeedMagics.census = True",
        "g = np.random.default_rng()",
        "import seedmagic\nprint([(s.library, s.line) for s in seedmagic.status().unseeded], bg.randbits is before)",
        "%config SeedMagics.census = 3",
        "%config SeedMagics.census = False",
        "print(bg.randbits is before, np.random.default_rng().random() != np.random.default_rng().random())",
    )
    assert ran[3].stdout.strip() == "[('numpy', 1)] False"
    assert "expected a boolean, not the int 3" in ran[4].stderr
    assert ran[6].stdout.strip() == "True True"
