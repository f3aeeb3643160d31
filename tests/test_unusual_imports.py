"""Unusual imports: a library run anew by ``importlib.reload``, an import blocked through ``sys.modules``, and a
library installed while the kernel runs. The status must say what is true, and seeding on import, the census and
``--reach`` must follow the module as it is now; values are compared with the libraries' own seeding calls.

Reloads run in a fresh interpreter: a reloaded ``random`` or a half-reloaded torch would leak into other tests.
"""

from __future__ import annotations

import os
import sys
import textwrap

import numpy as np
import torch
from conftest import run_ok

import seedmagic
from seedmagic.engine import ENGINE

CAPTURE = """
import seedmagic
from IPython.utils.capture import capture_output
def printed(source):
    with capture_output() as out:
        cell(source)
    return out.stdout + out.stderr
"""


def program(body: str) -> str:
    """``body`` after the helpers: ``printed(source)`` runs a cell and returns what it printed."""
    return CAPTURE + textwrap.dedent(body)


# -- importlib.reload --------------------------------------------------------------------------------------------


def test_a_reloaded_random_is_seeded_again_and_reach_and_the_census_follow_its_new_class(fresh_python):
    """Reloading ``random`` makes a new global generator from OS entropy and a new ``random.Random`` class: with a
    seed in force the generator is seeded again, as at import, and reach seeds the new class's generators."""
    out = fresh_python(
        program("""
        cell("%load_ext seedmagic")
        cell("import importlib, random, seedmagic")
        cell("%seed 0 --reach -q")
        old_class = shell.user_ns["random"].Random
        cell("importlib.reload(random)")
        first = cell("random.random()")
        made = shell.run_cell("g = random.Random()\\nx = g.random()", store_history=True)
        made.raise_error()
        sites = [s for s in seedmagic.status().unseeded if s.library == "random" and s.cell == made.execution_count]
        new_class = shell.user_ns["random"].Random
        cell("%seed --no-reach -q")
        emit({
            "first": first,
            "row": seedmagic.status().library("random").state,
            "x": shell.user_ns["x"],
            "sites": [[s.line, s.count, s.reached, s.last_seed] for s in sites],
            "new class": new_class is not old_class,
            "put back": [hasattr(c.__dict__["__init__"], "__wrapped__") for c in (old_class, new_class)],
        })
        """)
    )
    import random

    assert out["first"] == random.Random(0).random()  # as random.seed(0) leaves it
    assert out["row"] == "seeded with 0 (import)"
    assert out["new class"]
    [[line, count, reached, seed]] = out["sites"]
    assert (line, count, reached) == (1, 1, 1)
    assert out["x"] == random.Random(seed).random()
    assert out["put back"] == [False, False]  # --no-reach unwraps both classes' __init__


def test_a_library_reloaded_while_no_seed_is_in_force_is_no_longer_said_to_be_seeded(fresh_python):
    states = fresh_python(
        program("""
        cell("%load_ext seedmagic")
        cell("import importlib, random, seedmagic")
        cell("%%seeded 5\\nx = random.random()")
        before = seedmagic.status().library("random").state
        cell("importlib.reload(random)")
        emit([before, seedmagic.status().library("random").state])
        """)
    )
    assert states == ["seeded with 5 (cell)", "unseeded"]


def test_a_reloaded_numpy_random_keeps_its_seed_and_its_census(fresh_python):
    """Reloading ``numpy.random`` rebinds ``RandomState`` and ``Philox``, not the global generator (in mtrand): the
    census must still tell a generator made with a seed from one made without."""
    out = fresh_python(
        program("""
        shell.config.SeedMagics.census = True
        cell("%load_ext seedmagic")
        cell("import importlib, numpy as np, seedmagic")
        cell("%seed 0 -q")
        cell("importlib.reload(np.random)")
        drawn = cell("np.random.random_sample()")
        seeded = shell.run_cell("a = np.random.RandomState(3)\\nb = np.random.Philox(key=5)", store_history=True)
        unseeded = shell.run_cell("c = np.random.RandomState()", store_history=True)
        cell("%seed 0 --reach -q")
        reached = shell.run_cell("d = np.random.default_rng().random()", store_history=True)
        rows = {s.cell: [s.line, s.count, s.reached, s.last_seed] for s in seedmagic.status().unseeded}
        emit({
            "drawn": drawn,
            "row": seedmagic.status().library("numpy").state,
            "seeded": rows.get(seeded.execution_count),
            "unseeded": rows.get(unseeded.execution_count),
            "reached": rows.get(reached.execution_count),
            "d": shell.user_ns["d"],
        })
        """)
    )
    assert out["drawn"] == np.random.RandomState(0).random_sample()
    assert out["row"] == "seeded with 0 (session)"
    assert out["seeded"] is None
    assert out["unseeded"] == [1, 1, 0, None]
    line, count, reached, seed = out["reached"]
    assert (line, count, reached) == (1, 1, 1)
    assert out["d"] == np.random.default_rng(seed).random()


def test_torch_refuses_a_reload_and_seeding_and_reach_go_on_as_before(fresh_python):
    """torch raises part way through ``importlib.reload(torch)``, after rebinding ``torch.Generator`` to its own
    class: reach must reach it again, and seeding stays torch's own."""
    out = fresh_python(
        program("""
        cell("%load_ext seedmagic")
        cell("import importlib, torch, seedmagic")
        cell("%seed 0 --reach -q")
        refused = shell.run_cell("importlib.reload(torch)", store_history=True)
        cell("%seed 3 -q")
        drawn = cell("torch.rand(2).tolist()")
        made = shell.run_cell("x = torch.rand(3, generator=torch.Generator()).tolist()", store_history=True)
        made.raise_error()
        sites = [s for s in seedmagic.status().unseeded if s.cell == made.execution_count]
        emit({
            "refused": type(refused.error_in_exec).__name__,
            "drawn": drawn,
            "x": shell.user_ns["x"],
            "sites": [[s.library, s.count, s.reached, s.last_seed] for s in sites],
            "row": seedmagic.status().library("torch").state,
        })
        """)
    )
    assert out["refused"] == "RuntimeError"
    assert out["drawn"] == torch.rand(2, generator=torch.Generator().manual_seed(3)).tolist()
    [[library, count, reached, seed]] = out["sites"]
    assert (library, count, reached) == ("torch", 1, 1)
    assert out["x"] == torch.rand(3, generator=torch.Generator().manual_seed(seed)).tolist()
    assert out["row"] == "seeded with 3 (session)"


# -- an import blocked through sys.modules -----------------------------------------------------------------------


def test_a_library_blocked_before_its_import_is_not_seeded_nor_said_imported(fresh_python):
    out = fresh_python(
        program("""
        import seedmagic
        cell("%load_ext seedmagic")
        cell("import sys\\nsys.modules['torch'] = None")
        report = printed("%seed 0")
        row = seedmagic.status().library("torch")
        status = str(seedmagic.status())
        deterministic = [printed("%seed 1 --deterministic"), printed("%seed --no-deterministic")]
        blocked = shell.run_cell("import torch", store_history=True)
        cell("del sys.modules['torch']\\nimport torch\\nx = torch.rand(2).tolist()")
        emit({
            "report": report,
            "row": [row.state, row.version, row.imported],
            "status": status,
            "deterministic": deterministic,
            "blocked": [type(blocked.error_in_exec).__name__, str(blocked.error_in_exec)],
            "x": shell.user_ns["x"],
            "after": seedmagic.status().library("torch").state,
        })
        """)
    )
    assert "FAILED" not in out["report"] and "torch" not in out["report"]
    assert out["row"] == ["import blocked", torch.__version__, False]  # installed, and its version from pip's record
    assert "unreadable" not in out["status"] and "FAILED" not in out["status"]
    assert all(len(line) <= 80 for line in out["status"].splitlines())
    assert "Traceback" not in "".join(out["deterministic"]) and "FAILED" not in "".join(out["deterministic"])
    assert out["blocked"][0] == "ModuleNotFoundError" and "None in sys.modules" in out["blocked"][1]
    # Once importable again, it is seeded at import with the session seed (1, from --deterministic's line).
    assert out["x"] == torch.rand(2, generator=torch.Generator().manual_seed(1)).tolist()
    assert out["after"] == "seeded with 1 (import)"


def test_a_library_blocked_after_its_import_is_left_alone_until_it_comes_back(ip, capsys):
    run_ok(ip, "import torch")
    run_ok(ip, "%seed 1 -q")
    module = sys.modules["torch"]
    sys.modules["torch"] = None  # the same number of modules as before: nothing was imported
    try:
        run_ok(ip, "%seed 2")
        report = capsys.readouterr()
        assert "FAILED" not in report.out + report.err and "torch" not in report.out
        status = seedmagic.status()
        row = status.library("torch")
        assert (row.state, row.imported, row.fingerprint) == ("import blocked", False, "")
        assert "torch" not in ENGINE.marks().states
        assert not [flag for flag in status.flags if flag.name.startswith("torch") or flag.value == "unreadable"]
        run_ok(ip, "%seed --deterministic -q")
        run_ok(ip, "%seed --no-deterministic -q")
        assert "FAILED" not in capsys.readouterr().err
    finally:
        sys.modules["torch"] = module
    run_ok(ip, "%seed 4 -q")
    drawn = run_ok(ip, "torch.rand(2)")
    assert torch.equal(drawn, torch.rand(2, generator=torch.Generator().manual_seed(4)))
    assert seedmagic.status().library("torch").state == "seeded with 4 (session)"


# -- a library installed while the kernel runs -------------------------------------------------------------------


def test_a_library_installed_while_the_kernel_runs_is_seen_seeded_on_import_and_shown_with_its_version(
    fresh_python, tmp_path
):
    """torch is taken off the path of a fresh interpreter (its site-packages replaced by a directory of links to
    everything else), then put into that directory while the session runs, as pip puts it into site-packages."""
    site = tmp_path / "site-packages"
    site.mkdir()
    torch_site = os.path.dirname(os.path.dirname(torch.__file__))
    out = fresh_python(
        program(f"""
        import os, time
        import seedmagic
        real, site = {torch_site!r}, {str(site)!r}
        for name in os.listdir(real):
            if not name.startswith("torch"):
                os.symlink(os.path.join(real, name), os.path.join(site, name))
        sys.path[:] = [site if entry == real else entry for entry in sys.path]
        cell("%load_ext seedmagic")
        before = printed("%seed 0")
        row = seedmagic.status().library("torch")
        before_row = [row.state, row.version]
        for name in os.listdir(real):  # pip install torch
            if name.startswith("torch"):
                os.symlink(os.path.join(real, name), os.path.join(site, name))
        time.sleep(1.1)  # %pip install takes longer than the second for which %seed reuses what it found
        after = printed("%seed 0")
        row = seedmagic.status().library("torch")
        after_row = [row.state, row.version]
        cell("import torch\\nx = torch.rand(3).tolist()")
        row = seedmagic.status().library("torch")
        emit({{
            "before": before, "before row": before_row,
            "after": after, "after row": after_row,
            "x": shell.user_ns["x"],
            "imported row": [row.state, row.version, shell.user_ns["torch"].__version__],
            "file": shell.user_ns["torch"].__file__,
        }})
        """)
    )
    assert "torch" not in out["before"]
    assert out["before row"] == ["not installed", None]
    assert "torch" in out["after"].split("; ")[1]  # "numpy, torch, ... are seeded on import"
    assert out["after row"] == ["seeded on import", torch.__version__]
    assert out["file"].startswith(str(site))
    assert out["x"] == torch.rand(3, generator=torch.Generator().manual_seed(0)).tolist()
    assert out["imported row"] == ["seeded with 0 (import)", torch.__version__, torch.__version__]
