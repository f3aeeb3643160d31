"""%seed and %%seeded in a real InteractiveShell, compared with the libraries' own seeding calls."""

from __future__ import annotations

import itertools
import os
import random
import re

import numpy as np
import pytest
import torch
from conftest import run_failing, run_ok
from IPython.core.error import UsageError

from seedmagic.engine import ENGINE


@pytest.fixture
def ip(ip):
    ip.user_ns.update(random=random, np=np, torch=torch)
    return ip


def torch_draws(seed: int, n: int = 3) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.rand(n)


def numpy_draws(seed: int, n: int = 3) -> np.ndarray:
    np.random.seed(seed)
    return np.random.rand(n)


def random_draws(seed: int, n: int = 3) -> list[float]:
    random.seed(seed)
    return [random.random() for _ in range(n)]


def test_seed_gives_the_draws_of_each_librarys_own_seeding_call(ip):
    run_ok(ip, "%seed 2023")
    got = run_ok(ip, "import random, numpy as np, torch\n(random.random(), np.random.rand(), torch.rand(1))")
    assert got[0] == random_draws(2023, 1)[0]
    assert got[1] == numpy_draws(2023, 1)[0]
    assert torch.equal(got[2], torch_draws(2023, 1))


def test_seed_fixes_the_sequence_not_each_call(ip):
    run_ok(ip, "%seed 0")
    first = run_ok(ip, "torch.rand(1)")
    second = run_ok(ip, "torch.rand(1)")
    expected = torch_draws(0, 2)
    assert torch.equal(first, expected[:1])
    assert torch.equal(second, expected[1:])


def test_seed_prints_one_line_naming_what_it_seeded(ip, capsys):
    run_ok(ip, "%seed 7")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "seeded random, numpy, torch with 7" in out


def test_quiet_prints_nothing(ip, capsys):
    run_ok(ip, "%seed 7 -q")
    run_ok(ip, "%seed 8 --quiet")
    assert capsys.readouterr().out == ""
    assert ENGINE.seed == 8


def test_seed_expands_variables(ip):
    ip.user_ns["my_seed"] = 11
    run_ok(ip, "%seed $my_seed")
    assert ENGINE.seed == 11
    run_ok(ip, "%seed {my_seed + 1}")
    assert ENGINE.seed == 12
    assert torch.equal(run_ok(ip, "torch.rand(2)"), torch_draws(12, 2))


def test_seed_and_seeded_expand_the_variables_where_they_are_written(ip):
    # As IPython expands them for every magic: the locals of a function the magic is written in.
    run_ok(ip, "def reseed(fold):\n    %seed {fold + 100} -q\n    return seedmagic.current_seed()")
    assert run_ok(ip, "import seedmagic\nreseed(3)") == 103
    ip.user_ns["cell_seed"] = 21
    assert torch.equal(run_ok(ip, "%%seeded $cell_seed\ntorch.rand(2)"), torch_draws(21, 2))
    assert torch.equal(ip.run_cell_magic("seeded", "{cell_seed + 1}", "torch.rand(2)"), torch_draws(22, 2))


def test_random_draws_a_fresh_seed_prints_it_and_seeds_with_it(ip, capsys):
    run_ok(ip, "%seed --random")
    seed = ENGINE.seed
    assert seed is not None and 0 <= seed < 2**32
    assert f"with {seed}" in capsys.readouterr().out
    assert torch.equal(run_ok(ip, "torch.rand(2)"), torch_draws(seed, 2))


def test_status_without_arguments(ip, capsys):
    run_ok(ip, "%seed")
    out = capsys.readouterr().out
    assert "session seed none" in out
    run_ok(ip, "%seed 5\ntorch.rand(1);")
    capsys.readouterr()
    run_ok(ip, "%seed")
    out = capsys.readouterr().out
    assert "session seed 5" in out
    for line in ("torch", "numpy", "random"):
        assert any(row.startswith(line) and "seeded with 5" in row for row in out.splitlines())
    assert "torch.use_deterministic_algorithms" in out
    assert "PYTHONHASHSEED" in out


def test_only_and_skip(ip):
    random.seed(99)
    before = random.getstate()
    run_ok(ip, "%seed 3 --only torch,numpy")
    assert random.getstate() == before
    assert torch.equal(torch.rand(1), torch_draws(3, 1))
    run_ok(ip, "%seed 4 --skip torch")
    assert random.random() == random_draws(4, 1)[0]
    assert torch.equal(torch.rand(1), torch_draws(3, 2)[1:])


def test_seeded_repeats_its_draws_every_run(ip):
    cell = "%%seeded 0\nt = torch.rand(1)\nt"
    first = run_ok(ip, cell)
    torch.rand(5)
    second = run_ok(ip, cell)
    assert torch.equal(first, torch_draws(0, 1))
    assert torch.equal(second, first)
    assert torch.equal(ip.user_ns["t"], first)


def test_seeded_shows_the_last_expression_as_out(ip):
    count = ip.execution_count
    run_ok(ip, "%%seeded 0\nx = 1\nx + 41")
    assert ip.user_ns["Out"][count] == 42
    assert ip.user_ns["_"] == 42


def test_seeded_semicolon_silences_the_output(ip, capsys):
    count = ip.execution_count
    assert run_ok(ip, "%%seeded 0\nx = 5\nx * 2;") is None
    assert count not in ip.user_ns["Out"]
    assert "10" not in capsys.readouterr().out


def test_seeded_without_seed_uses_the_session_seed(ip):
    run_ok(ip, "%seed 9 -q")
    assert torch.equal(run_ok(ip, "%%seeded\ntorch.rand(2)"), torch_draws(9, 2))


def test_seeded_without_any_seed_is_a_clear_error(ip):
    error = run_failing(ip, "%%seeded\nx = 1")
    assert isinstance(error, UsageError)
    assert "%seed N" in str(error)


def test_seeded_does_not_change_the_session_seed(ip):
    run_ok(ip, "%seed 9 -q")
    run_ok(ip, "%%seeded 1\npass")
    assert ENGINE.seed == 9
    assert ENGINE.current_seed() == 9


def test_current_seed_inside_a_seeded_cell(ip):
    assert run_ok(ip, "%%seeded 31\nimport seedmagic\nseedmagic.current_seed()") == 31


def test_seeded_exception_propagates_and_keeps_variables(ip):
    error = run_failing(ip, "%%seeded 0\nbefore = torch.rand(1)\nraise ValueError('boom')\nafter = 1")
    assert isinstance(error, ValueError)
    assert str(error) == "boom"
    assert torch.equal(ip.user_ns["before"], torch_draws(0, 1))
    assert "after" not in ip.user_ns


def test_seeded_traceback_points_at_the_users_line(ip, capsys):
    run_failing(ip, "%%seeded 0\nx = 1\n1 / 0")
    err = capsys.readouterr()
    text = re.sub(r"\x1b\[[0-9;]*m", "", err.out + err.err)
    assert "ZeroDivisionError" in text
    assert "----> 3 1 / 0" in text


def test_seeded_runs_magics_and_shell_lines(ip, capfd):
    run_ok(ip, "%%seeded 0\n%time y = 3\n!echo from-the-shell\nz = y + 1")
    assert ip.user_ns["z"] == 4
    assert "from-the-shell" in capfd.readouterr().out


def test_seeded_fires_cell_events_once(ip):
    calls = []

    def pre_run_cell(info):
        calls.append(info.raw_cell)

    ip.events.register("pre_run_cell", pre_run_cell)
    try:
        run_ok(ip, "%%seeded 0\nx = 1")
    finally:
        ip.events.unregister("pre_run_cell", pre_run_cell)
    assert len(calls) == 1


def test_isolate_puts_every_generator_back(ip):
    run_ok(ip, "%seed 1 -q")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    run_ok(ip, "%seed 1 -q")
    run_ok(ip, "%%seeded 0 --isolate\na = random.random(), np.random.rand(), torch.rand(5)")
    got = (random.random(), np.random.rand(), torch.rand(1))
    assert got[:2] == expected[:2]
    assert torch.equal(got[2], expected[2])
    assert ip.user_ns["a"][0] == random_draws(0, 1)[0]


def test_isolate_restores_when_the_cell_raises(ip):
    run_ok(ip, "%seed 1 -q")
    expected = torch.rand(1)
    run_ok(ip, "%seed 1 -q")
    run_failing(ip, "%%seeded 0 --isolate\ntorch.rand(5)\nraise RuntimeError('inside')")
    assert torch.equal(torch.rand(1), expected)


def test_isolate_restores_when_the_cell_is_interrupted(ip):
    run_ok(ip, "%seed 1 -q")
    expected = np.random.rand()
    run_ok(ip, "%seed 1 -q")
    error = run_failing(ip, "%%seeded 0 --isolate\nnp.random.rand(7)\nraise KeyboardInterrupt")
    assert isinstance(error, KeyboardInterrupt)
    assert np.random.rand() == expected


def test_seeded_only(ip):
    random.seed(5)
    before = random.getstate()
    run_ok(ip, "%%seeded 2 --only torch\nt = torch.rand(1)")
    assert random.getstate() == before
    assert torch.equal(ip.user_ns["t"], torch_draws(2, 1))


def test_deterministic_switch_and_restore(ip, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.backends.cudnn.benchmark = True
    try:
        run_ok(ip, "%seed 0 --deterministic -q")
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic is True
        assert torch.backends.cudnn.benchmark is False
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        run_ok(ip, "%seed --no-deterministic -q")
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic is False
        assert torch.backends.cudnn.benchmark is True
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    finally:
        torch.backends.cudnn.benchmark = False


def test_deterministic_warn_only(ip):
    run_ok(ip, "%seed --deterministic --warn-only -q")
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    run_ok(ip, "%seed --no-deterministic -q")
    assert not torch.is_deterministic_algorithms_warn_only_enabled()


def test_deterministic_keeps_a_users_cublas_setting(ip, monkeypatch):
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    run_ok(ip, "%seed 0 --deterministic -q")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    run_ok(ip, "%seed --no-deterministic -q")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_help_comes_from_the_docstrings(ip):
    from seedmagic.magics import SeedMagics

    seed_help = SeedMagics.seed_magic.__doc__
    assert "%seed [--random]" in seed_help
    assert "--deterministic" in seed_help and "--only LIBS" in seed_help
    assert "Seed every RNG library" in seed_help
    seeded_help = SeedMagics.seeded.__doc__
    assert "%seeded [--isolate]" in seeded_help or "%%seeded [--isolate]" in seeded_help
    assert "run the cell as a plain cell" in seeded_help
    info = ip.object_inspect("%seed")
    assert info["found"] and "Seed every RNG library" in info["docstring"]


@pytest.mark.cuda
def test_isolate_restores_the_cuda_generators(ip):
    torch.zeros(1, device="cuda")
    run_ok(ip, "%seed 1 -q")
    expected = torch.rand(2, device="cuda")
    run_ok(ip, "%seed 1 -q")
    run_ok(ip, "%%seeded 0 --isolate\ntorch.rand(5, device='cuda')")
    assert torch.equal(torch.rand(2, device="cuda"), expected)
    assert any(key.startswith("cuda:") for key in ENGINE.status().library("torch").streams)


# -- auto mode -----------------------------------------------------------------------------------------------------

CELL_A = "a = torch.rand(2)\na"
CELL_B = "b = torch.rand(2)\nb"


def test_auto_gives_each_cell_the_same_numbers_in_any_order(ip):
    run_ok(ip, "%seed 5 --auto -q")
    a1 = run_ok(ip, CELL_A)
    b1 = run_ok(ip, CELL_B)
    a2 = run_ok(ip, CELL_A)
    b2 = run_ok(ip, CELL_B)
    b3 = run_ok(ip, CELL_B)
    assert torch.equal(a1, a2)
    assert torch.equal(b1, b2) and torch.equal(b1, b3)
    assert not torch.equal(a1, b1)
    key = "source:" + CELL_A
    assert torch.equal(a1, torch_draws(seedmagic_derive(5, key), 2))


def seedmagic_derive(base, key):
    from seedmagic import derive_seed

    return derive_seed(base, key)


def test_auto_uses_the_cell_id_when_the_front_end_sends_one(ip):
    run_ok(ip, "%seed 5 --auto -q")
    first = ip.run_cell("x = torch.rand(2)\nx", store_history=True, cell_id="cell-1").result
    edited = ip.run_cell("y = torch.rand(2)  # edited\ny", store_history=True, cell_id="cell-1").result
    other = ip.run_cell("x = torch.rand(2)\nx", store_history=True, cell_id="cell-2").result
    assert torch.equal(first, edited)
    assert not torch.equal(first, other)
    assert torch.equal(first, torch_draws(seedmagic_derive(5, "cell-id:cell-1"), 2))


def test_auto_keys_by_source_a_cell_whose_id_the_notebook_does_not_store(ip):
    """VS Code sends its editor's URI for a cell whose notebook stores no id; nbval and seedmagic verify then send no
    id at all: both key the cell by its source, so they draw the same."""
    run_ok(ip, "%seed 5 --auto -q")
    cell = "x = torch.rand(2)\nx"
    uri = "vscode-notebook-cell:/home/user/draws.ipynb#W2sZmlsZQ%3D%3D"
    in_vscode = ip.run_cell(cell, store_history=True, cell_id=uri).result
    in_runner = ip.run_cell(cell, store_history=True).result
    assert torch.equal(in_vscode, in_runner)
    assert torch.equal(in_vscode, torch_draws(seedmagic_derive(5, "source:" + cell), 2))
    # Any other id, whatever its JSON type, is the cell's key.
    number = ip.run_cell(cell, store_history=True, cell_id=7).result
    assert torch.equal(number, torch_draws(seedmagic_derive(5, "cell-id:7"), 2))
    ip.user_ns.pop("x", None)


def test_auto_status_shows_the_mode_and_the_last_cells_seed(ip, capsys):
    run_ok(ip, "%seed 5 --auto")
    assert "auto mode on" in capsys.readouterr().out
    drawn = run_ok(ip, CELL_A)
    capsys.readouterr()
    state = torch.get_rng_state()
    run_ok(ip, "%seed\n# asking for the status reseeds nothing")
    out = capsys.readouterr().out
    expected = seedmagic_derive(5, "source:" + CELL_A)
    assert f"mode auto, last cell got {expected}" in out.splitlines()[0]
    assert torch.equal(torch.get_rng_state(), state)
    status = ENGINE.status()
    assert status.mode == "auto" and status.last_cell_seed is None  # the %seed cell, which got no seed, ran last
    assert torch.equal(drawn, torch_draws(expected, 2))


def test_a_cell_run_inside_a_seeded_cell_keeps_the_seed_in_force(ip):
    nested = "import seedmagic\nbefore = seedmagic.current_seed()\nget_ipython().run_cell('pass')\n"
    nested += "get_ipython().run_cell('')\nseeds = before, seedmagic.current_seed()"
    run_ok(ip, "%seed 0 -q")
    run_ok(ip, "%%seeded 5\n" + nested)
    assert ip.user_ns["seeds"] == (5, 5)
    run_ok(ip, "%seed 0 --auto -q")
    run_ok(ip, nested)
    assert ip.user_ns["seeds"] == (seedmagic_derive(0, "source:" + nested),) * 2


def test_auto_stays_on_when_the_seed_changes(ip):
    run_ok(ip, "%seed 5 --auto -q")
    run_ok(ip, "%seed 6 -q")
    assert ENGINE.status().mode == "auto"
    assert torch.equal(run_ok(ip, CELL_A), torch_draws(seedmagic_derive(6, "source:" + CELL_A), 2))


def test_explicit_seeded_wins_in_auto_mode(ip):
    run_ok(ip, "%seed 5 --auto -q")
    assert torch.equal(run_ok(ip, "%%seeded 0\ntorch.rand(2)"), torch_draws(0, 2))
    assert ENGINE.status().last_cell_seed == 0


def test_auto_seeds_libraries_the_cell_imports_and_the_cell_generators(ip):
    import seedmagic

    run_ok(ip, "%seed 5 --auto -q")
    cell = "import seedmagic\nseedmagic.current_seed(), seedmagic.rng().random()"
    seed, value = run_ok(ip, cell)
    assert seed == seedmagic_derive(5, "source:" + cell)
    assert value == np.random.default_rng(seed).random()
    assert seedmagic.current_seed() == 5  # between cells, the session seed


def test_empty_cells_do_not_reseed(ip):
    run_ok(ip, "%seed 5 --auto -q")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    ip.run_cell("   \n", store_history=True)
    assert torch.equal(torch.get_rng_state(), state)


def test_no_auto_stops_reseeding(ip, capsys):
    run_ok(ip, "%seed 5 --auto -q")
    run_ok(ip, "%seed --no-auto")
    assert "auto mode off" in capsys.readouterr().out
    first = run_ok(ip, CELL_A)
    assert not torch.equal(run_ok(ip, CELL_A), first)
    assert ENGINE.status().mode == "manual"


def test_auto_without_a_seed_is_a_usage_error_and_changes_nothing(ip):
    error = run_failing(ip, "%seed --auto")
    assert isinstance(error, UsageError) and "%seed N --auto" in str(error)
    assert not ENGINE.auto
    error = run_failing(ip, "%seed 1 --auto --no-auto")
    assert isinstance(error, UsageError) and "not both" in str(error)
    assert ENGINE.seed is None


def test_auto_survives_a_failing_cell(ip):
    run_ok(ip, "%seed 5 --auto -q")
    run_failing(ip, "t = torch.rand(1)\nraise ValueError('x')")
    assert ENGINE.current_seed() == 5
    assert ENGINE.status().cell_seed is None


# -- %%seeded --check ----------------------------------------------------------------------------------------------


def test_check_passes_a_seeded_cell_and_shows_its_value(ip, capsys):
    count = ip.execution_count
    value = run_ok(ip, "%%seeded 0 --check\nx = torch.rand(3)\ny = np.random.rand(2)\nx.sum()")
    out = capsys.readouterr().out
    assert "seedmagic: reproducible: two runs from seed 0 gave the same x, y, Out" in out
    assert torch.equal(value, torch_draws(0, 3).sum())
    assert ip.user_ns["Out"][count] is value


def test_check_names_what_differs_and_why(ip, capsys):
    run_ok(ip, "%%seeded 0 --check\nclean = torch.rand(2)\nnoisy = np.random.default_rng().random(3)")
    err = capsys.readouterr().err
    assert "NOT reproducible" in err
    assert "noisy: values differ: array([" in err
    assert "clean" not in err.split("\n", 1)[1]
    assert "make it with seedmagic.rng()" in err  # the fix


def test_check_compares_dtype_and_shape(ip, capsys):
    runs = itertools.count()
    ip.user_ns["next_run"] = lambda: next(runs)  # lives outside the namespace, as the clock does
    run_ok(ip, "%%seeded 0 --check\nt = torch.zeros(2, dtype=torch.float32 if next_run() == 0 else torch.float64)")
    assert "t: dtype torch.float32 vs torch.float64" in capsys.readouterr().err
    assert next(runs) == 2  # the cell ran twice


def test_check_runs_both_times_from_the_same_namespace(ip, capsys):
    ip.user_ns["total"] = torch.zeros(1)
    run_ok(ip, "%%seeded 0 --check\ntotal = total + torch.rand(1)")
    assert "reproducible" in capsys.readouterr().out
    assert torch.equal(ip.user_ns["total"], torch_draws(0, 1))


def test_check_notes_a_set_of_strings_without_a_fixed_hash_seed(ip, capsys, monkeypatch):
    from seedmagic import determinism

    if determinism.hash_seed_flag().ok:
        pytest.skip("PYTHONHASHSEED is fixed in this process")
    run_ok(ip, "%%seeded 0 --check\nnames = {'a', 'b', 'c'}")
    assert "names holds a set of strings" in capsys.readouterr().out


def test_check_with_isolate_and_an_exception(ip):
    run_ok(ip, "%seed 1 -q")
    expected = torch.rand(1)
    run_ok(ip, "%seed 1 -q")
    error = run_failing(ip, "%%seeded 0 --check --isolate\ntorch.rand(4)\nraise RuntimeError('first run fails')")
    assert str(error) == "first run fails"
    assert torch.equal(torch.rand(1), expected)


def test_check_semicolon_hides_the_value_so_it_is_not_compared(ip, capsys):
    assert run_ok(ip, "%%seeded 0 --check\nnp.random.default_rng().random();") is None
    assert capsys.readouterr() == (
        "seedmagic: nothing to compare: two runs from seed 0 bound, changed and showed nothing\n",
        "",
    )
    run_ok(ip, "%%seeded 0 --check\nx = np.random.default_rng().random();")  # what it binds is compared
    assert "x: values differ" in capsys.readouterr().err


# -- quiet, and what fits in 80 columns -------------------------------------------------------------------------------


def test_seed_quiet_alone_prints_nothing(ip, capsys):
    run_ok(ip, "%seed -q")
    assert capsys.readouterr() == ("", "")
    run_ok(ip, "%seed 3 -q")
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("magic", ["seed", "seeded", "seedpanel"])
def test_the_help_fits_in_80_columns(ip, magic, monkeypatch):
    shown = []
    monkeypatch.setitem(ip.hooks, "show_in_pager", lambda data, **kwargs: shown.append(data))
    ip.run_line_magic("pinfo", f"%{magic}")  # what %seed? shows
    [data] = shown
    text = re.sub(r"\x1b\[[0-9;]*m", "", data if isinstance(data, str) else data["text/plain"])
    assert max(map(len, text.splitlines())) <= 80, text
    assert "--quiet" in text or magic != "seed"


def test_a_warning_points_at_the_users_cell(ip, recwarn):
    import warnings

    warnings.simplefilter("always")
    run_ok(
        ip,
        "import dataclasses, random, seedmagic\n"
        "snap = seedmagic.snapshot()\n"
        "seedmagic.restore(snap._replace(states={**snap.states, 'random': 'not a state'}))",
    )
    [warning] = [w for w in recwarn if "could not restore random" in str(w.message)]
    assert "seedmagic" not in warning.filename and warning.lineno == 3  # the cell's third line


def test_auto_follows_every_change_of_the_session_seed_and_selection(ip):
    """Auto mode works each cell's seed out once per session: a new seed, a new selection, an isolated cell that put
    the session back, or a cell that changed the seed mid-cell each give the cell the seed the session says."""
    cell = "t = torch.rand(2)\nr = random.random()\nt, r"

    def drawn() -> tuple[torch.Tensor, float]:
        return ip.run_cell(cell, store_history=True, cell_id="same-cell").result

    def expected(seed: int) -> tuple[torch.Tensor, float]:
        derived = seedmagic_derive(seed, "cell-id:same-cell")
        return torch_draws(derived, 2), random_draws(derived, 1)[0]

    names = set(ip.user_ns)
    try:
        run_ok(ip, "%seed 5 --auto -q")
        for seed in (5, 6, 5):
            run_ok(ip, f"%seed {seed} -q")
            t, r = drawn()
            want_t, want_r = expected(seed)
            assert torch.equal(t, want_t) and r == want_r
        run_ok(ip, "%seed 5 --only torch -q")
        random.seed(99)
        t, r = drawn()
        assert torch.equal(t, expected(5)[0]) and r == random_draws(99, 1)[0]  # random is left alone
        # An isolated cell that changed the session puts it back: seed 5, torch only.
        run_ok(ip, "%%seeded 1 --isolate\nimport seedmagic\nseedmagic.seed_all(8, auto=True)")
        t, r = drawn()
        assert torch.equal(t, expected(5)[0])
        ip.run_cell("seedmagic.seed_all(9)", store_history=True, cell_id="other-cell").raise_error()
        t, r = drawn()
        assert torch.equal(t, expected(9)[0]) and r == expected(9)[1]
    finally:
        run_ok(ip, "%seed 0 --no-auto -q")
        for name in {"t", "r", "seedmagic"} - names:
            ip.user_ns.pop(name, None)


# -- a mistyped option ------------------------------------------------------------------------------------------------

MAGICS = {"seed": ("%seed 0", "seed_magic"), "seeded": ("%%seeded 0", "seeded"), "seeds": ("%%seeds 0-1", "seeds")}


def long_options(magic: str) -> list[str]:
    from seedmagic.magics import SeedMagics

    parser = getattr(SeedMagics, MAGICS[magic][1]).parser
    return [option for action in parser._actions for option in action.option_strings if option.startswith("--")]


def mistyped(shell, magic: str, option: str) -> str:
    """The one-line error for ``option`` in a cell of ``magic`` (the body must not run)."""
    shell.user_ns.pop("mistyped_body_ran", None)
    line = MAGICS[magic][0]
    source = f"{line} {option}" if magic == "seed" else f"{line} {option}\nmistyped_body_ran = True\n1.0"
    error = run_failing(shell, source)
    assert isinstance(error, UsageError) and "\n" not in str(error)
    assert "mistyped_body_ran" not in shell.user_ns
    return str(error)


@pytest.mark.parametrize("magic", list(MAGICS))
def test_every_option_of_every_magic_mistyped_or_cut_short_gets_its_name(ip, magic):
    for option in long_options(magic):
        middle = len(option) // 2 + 1
        swapped = option[:middle] + option[middle + 1] + option[middle] + option[middle + 2 :]
        for typo in (swapped, option[:-1]):
            assert mistyped(ip, magic, typo) == f"unrecognized arguments: {typo} (did you mean {option}?)"


@pytest.mark.parametrize("magic", list(MAGICS))
def test_an_option_like_none_gets_the_plain_error_and_abbreviations_never_work(ip, magic):
    assert mistyped(ip, magic, "--xyzzy") == "unrecognized arguments: --xyzzy"
    # argparse would take a prefix of one option for it: every magic refuses it, and names the option.
    from seedmagic.magics import SeedMagics

    assert getattr(SeedMagics, MAGICS[magic][1]).parser.allow_abbrev is False
    assert mistyped(ip, magic, "--onl") == "unrecognized arguments: --onl (did you mean --only?)"
