"""Faults: a library that raises, exceptions and interrupts inside isolated blocks, and many load/unload cycles.

The failing library is a module object registered in ``sys.modules`` under the name ``tensorflow`` in a fresh
interpreter (torch, NumPy and random are the real ones); what it raises on is switched by the ``FAULTS`` dict there.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import weakref

import numpy as np
import pytest
import torch
from conftest import generators_and_flags, run_failing, run_ok

import seedmagic
from seedmagic.engine import ENGINE

# A module named `tensorflow` with the calls seedmagic makes; each group raises while FAULTS[group] is true.
FAKE_TENSORFLOW = """
import contextlib, importlib.machinery, io, random, sys, types
import numpy as np
import torch

def faulty(group, what, result=None):
    def call(*args, **kwargs):
        if FAULTS[group]:
            raise RuntimeError(f"fake tensorflow: {what} failed")
        return result() if callable(result) else result
    return call

def module(name, **attributes):
    made = types.ModuleType(name)
    made.__path__ = []
    made.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)  # torch looks tensorflow up
    made.__dict__.update(attributes)
    sys.modules[name] = made
    return made

context = module(
    "tensorflow.python.eager.context",
    context=faulty("read_state", "reading the state", lambda: types.SimpleNamespace(_seed=None, _rng=None)),
)
config = module(
    "tensorflow.python.framework.config",
    is_op_determinism_enabled=faulty("read_flags", "reading the flags", False),
    enable_op_determinism=faulty("set_flags", "enable_op_determinism"),
    disable_op_determinism=faulty("set_flags", "disable_op_determinism"),
)
module("tensorflow.python.eager", context=context)
module("tensorflow.python.framework", config=config)
module(
    "tensorflow",
    __version__="0.0+fake",
    random=types.SimpleNamespace(set_seed=faulty("set_seed", "set_seed")),
    config=types.SimpleNamespace(
        experimental=types.SimpleNamespace(enable_op_determinism=faulty("set_flags", "enable_op_determinism"))
    ),
)
shell.user_ns.update(random=random, np=np, torch=torch)
torch.use_deterministic_algorithms(False)  # its first call imports torch._inductor, which sets an environment variable

def captured(source):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = shell.run_cell(source, store_history=True)
    error = result.error_before_exec or result.error_in_exec
    return {"out": out.getvalue(), "err": err.getvalue(), "error": None if error is None else repr(error)}

DRAWS = "[random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()]"

def own_draws(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return eval(DRAWS)

def world():
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return [
        repr(random.getstate()),
        [name, keys.tolist(), position, has_gauss, gauss],
        torch.get_rng_state().tolist(),
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        dict(os.environ),
        ENGINE.seed,
        ENGINE.determinism.enabled,
    ]
"""

SCENARIO = """
import os
import seedmagic
from seedmagic.engine import ENGINE

def isolation(result, label):
    cell("%seed 3 -q")
    before = world()
    result[label + "cell"] = captured("%%seeded 5 --isolate\\n%seed 9 -q\\nx = " + DRAWS)
    result[label + "cell_restored"] = world() == before
    result[label + "cell_draws"], result[label + "cell_own"] = shell.user_ns.pop("x", None), own_draws(9)
    cell("%seed 3 -q")
    before = world()
    try:
        with seedmagic.isolated():
            seedmagic.seed_all(9)
            random.random(), np.random.rand(), torch.rand(1)
        result[label + "api"] = None
    except Exception as error:
        result[label + "api"] = repr(error)
    result[label + "api_restored"] = world() == before

def deterministic(result, label):
    cell("%seed 3 -q")
    before = world()
    result[label + "deterministic"] = captured("%seed 6 --deterministic")
    result[label + "deterministic_unchanged"] = world() == before

result = {"load": captured("%load_ext seedmagic"), "seed": captured("%seed 3")}
result["draws"], result["own"] = cell(DRAWS), own_draws(3)
result["status"] = captured("%seed")
result["seeded"] = captured("%%seeded 5\\nx = " + DRAWS)
result["seeded_draws"], result["seeded_own"] = shell.user_ns.pop("x", None), own_draws(5)
isolation(result, "isolated_")
deterministic(result, "")
result["deterministic_on"] = ENGINE.determinism.enabled and torch.are_deterministic_algorithms_enabled()
result["no_deterministic"] = captured("%seed --no-deterministic -q")

# The same library now also refuses to set its flags, either way.
FAULTS["set_flags"] = True
deterministic(result, "set_flags_")
isolation(result, "set_flags_isolated_")
emit(result)
"""

SEEDING = {"set_seed": True, "read_state": False, "read_flags": False, "set_flags": False}
SEEDING_AND_READING = {"set_seed": True, "read_state": True, "read_flags": True, "set_flags": False}
_results: dict[str, dict] = {}


def scenario(fresh_python, faults: dict[str, bool]) -> dict:
    """The scenario's results in a fresh interpreter, run once per set of faults (importing torch takes seconds)."""
    key = repr(faults)
    if key not in _results:
        _results[key] = fresh_python(f"FAULTS = {faults!r}\n{FAKE_TENSORFLOW}\n{SCENARIO}")
    return _results[key]


both = pytest.mark.parametrize("faults", [SEEDING, SEEDING_AND_READING], ids=["seeding raises", "reading raises too"])


@both
def test_a_library_whose_seeding_raises_leaves_the_others_seeded_and_is_named(fresh_python, faults):
    result = scenario(fresh_python, faults)
    assert result["load"]["error"] is None
    assert result["seed"]["error"] is None, "the cell must not crash"
    assert result["draws"] == result["own"], "random, NumPy and torch are seeded as their own calls"
    assert result["seed"]["out"] == ""
    report = result["seed"]["err"].strip()
    assert "\n" not in report, report
    assert "seeded random, numpy, torch with 3" in report
    assert "tensorflow FAILED (RuntimeError: fake tensorflow: set_seed failed)" in report


@both
def test_a_seeded_cell_still_runs_when_a_library_cannot_be_seeded(fresh_python, faults):
    result = scenario(fresh_python, faults)
    assert result["seeded"]["error"] is None
    assert result["seeded_draws"] == result["seeded_own"]
    assert "could not seed tensorflow" in result["seeded"]["err"]


def status_row(lines: list[str], name: str) -> str:
    """A library's row of the status, with the lines wrapped under it (indented)."""
    start = next(index for index, line in enumerate(lines) if line.startswith(f"{name} "))
    end = next((k for k in range(start + 1, len(lines)) if not lines[k].startswith(" ")), len(lines))
    return " ".join(line.strip() for line in lines[start:end])


@both
def test_status_names_the_library_that_could_not_be_seeded(fresh_python, faults):
    result = scenario(fresh_python, faults)
    status = result["status"]
    assert status["error"] is None
    lines = status["out"].splitlines()
    assert "set_seed failed" in status_row(lines, "tensorflow"), status["out"]
    for name in ("random", "numpy", "torch"):
        assert any(line.startswith(name) and "seeded with 3" in line for line in lines), status["out"]


def test_status_still_shows_the_other_flags_when_one_librarys_flags_cannot_be_read(fresh_python):
    lines = scenario(fresh_python, SEEDING_AND_READING)["status"]["out"].splitlines()
    for flag in ("torch.use_deterministic_algorithms", "torch.backends.cudnn.deterministic", "PYTHONHASHSEED"):
        assert any(line.startswith(flag) for line in lines), "\n".join(lines)


@pytest.mark.parametrize(
    ("faults", "label"),
    [
        (SEEDING, "isolated_"),
        (SEEDING_AND_READING, "isolated_"),
        (SEEDING, "set_flags_isolated_"),
    ],
    ids=["seeding raises", "reading raises too", "setting flags raises"],
)
def test_isolation_still_puts_the_others_back_when_a_library_fails(fresh_python, faults, label):
    result = scenario(fresh_python, faults)
    assert result[label + "cell"]["error"] is None, result[label + "cell"]
    assert result[label + "cell_draws"] == result[label + "cell_own"]
    assert result[label + "cell_restored"] is True
    assert result[label + "api"] is None
    assert result[label + "api_restored"] is True


def test_the_deterministic_switch_works_when_only_seeding_fails(fresh_python):
    result = scenario(fresh_python, SEEDING)
    assert result["deterministic"]["error"] is None
    assert result["deterministic_on"] is True
    assert "tensorflow FAILED (RuntimeError: fake tensorflow: set_seed failed)" in result["deterministic"]["err"]
    assert result["no_deterministic"]["error"] is None


@pytest.mark.parametrize(
    ("faults", "label"),
    [
        (SEEDING_AND_READING, ""),
        (SEEDING, "set_flags_"),
    ],
    ids=["reading raises", "setting flags raises"],
)
def test_the_deterministic_switch_changes_nothing_when_a_library_refuses(fresh_python, faults, label):
    result = scenario(fresh_python, faults)
    assert result[label + "deterministic"]["error"] is not None
    assert "fake tensorflow" in result[label + "deterministic"]["error"]
    assert result[label + "deterministic_unchanged"] is True


# -- exceptions and interrupts inside isolated blocks ------------------------------------------------------------------


@pytest.fixture
def ip(ip):
    ip.user_ns.update(random=random, np=np, torch=torch, seedmagic=seedmagic)
    return ip


@pytest.fixture
def torch_flags():
    """Put torch's determinism settings back after the test, whatever it did."""
    # The first call imports torch._inductor, which sets TORCHINDUCTOR_CACHE_DIR: let that happen before the test.
    torch.use_deterministic_algorithms(torch.are_deterministic_algorithms_enabled())
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]


def world() -> dict:
    """Everything an isolated block must leave as it found it."""
    return generators_and_flags()


INNER = {
    "%seed 9 --deterministic": "%seed 9 --deterministic -q",
    "seed_all(9, deterministic=True)": "seedmagic.seed_all(9, deterministic=True)",
}
BLOCKS = {
    "%%seeded --isolate": "%%seeded 1 --isolate\n{inner}\n{body}",
    "seedmagic.isolated()": "with seedmagic.isolated():\n    {inner}\n    {body}",
    "seedmagic.seeded(isolate=True)": "with seedmagic.seeded(1, isolate=True):\n    {inner}\n    {body}",
}
RAISES = {
    "exception": (ValueError, "raise ValueError('boom')"),
    "interrupt": (KeyboardInterrupt, "raise KeyboardInterrupt"),
}


@pytest.mark.parametrize("raises", list(RAISES))
@pytest.mark.parametrize("inner", list(INNER))
@pytest.mark.parametrize("block", list(BLOCKS))
@pytest.mark.usefixtures("torch_flags")
def test_an_isolated_block_that_raises_puts_everything_back(ip, block, inner, raises):
    run_ok(ip, "%seed 4 -q")
    run_ok(ip, "random.random(), np.random.randn(3), torch.rand(5)")  # somewhere in the middle of each stream
    torch.backends.cudnn.benchmark = True  # --deterministic switches it off: it must come back on
    os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    before = world()
    error_type, raise_line = RAISES[raises]
    body = "inside = (torch.are_deterministic_algorithms_enabled(), seedmagic.status().seed, torch.rand(2))\n"
    body += raise_line
    indent = "    " if block != "%%seeded --isolate" else ""
    source = BLOCKS[block].format(inner=INNER[inner], body=body.replace("\n", "\n" + indent))

    error = run_failing(ip, source)

    assert isinstance(error, error_type)
    inside = ip.user_ns.pop("inside")
    assert inside[:2] == (True, 9), "the block did switch deterministic mode on and seed 9"
    after = world()
    assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}


@pytest.mark.parametrize("raises", list(RAISES))
@pytest.mark.usefixtures("torch_flags")
def test_isolated_in_python_puts_everything_back_after_an_interrupt(raises):
    seedmagic.seed_all(4)
    torch.rand(3)
    before = world()
    error_type, _ = RAISES[raises]
    with pytest.raises(error_type), seedmagic.isolated():
        seedmagic.seed_all(9, deterministic=True)
        torch.rand(2)
        raise error_type()
    assert world() == before


@pytest.mark.usefixtures("torch_flags")
def test_an_isolated_block_puts_auto_mode_back(ip):
    run_ok(ip, "%seed 4 -q")
    before = world()
    run_failing(ip, "%%seeded 1 --isolate\n%seed 9 --auto -q\nraise KeyboardInterrupt")
    assert world() == before


# -- load / unload cycles ----------------------------------------------------------------------------------------------


def registrations(shell) -> dict:
    return {
        "callbacks": {event: len(callbacks) for event, callbacks in shell.events.callbacks.items()},
        "meta_path": len(sys.meta_path),
        "hooks": sum(finder is ENGINE.hook for finder in sys.meta_path),
        "magics": {kind: sorted(names) for kind, names in shell.magics_manager.magics.items()},
        "registry": sorted(shell.magics_manager.registry),
    }


@pytest.mark.usefixtures("torch_flags")
def test_200_load_unload_reload_cycles_leave_nothing_behind(ip, capsys):
    environ = dict(os.environ)
    flags = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark)
    loaded = registrations(ip)
    ip.run_line_magic("unload_ext", "seedmagic")
    bare = registrations(ip)
    assert bare["hooks"] == 0
    assert "seed" not in bare["magics"]["line"]

    for index in range(200):
        ip.run_line_magic("load_ext", "seedmagic")
        if index % 25 == 0:
            run_ok(ip, f"%seed {index} --deterministic -q")
        ip.run_line_magic("reload_ext", "seedmagic")
        if index % 40 == 0:
            run_ok(ip, "%seedpanel")
        now = registrations(ip)
        assert now["callbacks"] == loaded["callbacks"]
        assert now["magics"] == loaded["magics"]
        assert now["registry"] == loaded["registry"]
        assert now["hooks"] == (1 if ENGINE.seed is not None else 0)
        if index % 25 == 0:
            assert ENGINE.seed == index, "%reload_ext keeps the session seed"
            run_ok(ip, "%seed --no-deterministic -q")
        ip.run_line_magic("unload_ext", "seedmagic")
        assert registrations(ip) == bare, f"cycle {index}"

    ip.run_line_magic("load_ext", "seedmagic")  # the fixture unloads it
    capsys.readouterr()
    assert dict(os.environ) == environ
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == flags


def test_load_unload_cycles_do_not_pile_up_magics_objects(ip):
    ip.run_line_magic("unload_ext", "seedmagic")
    configurables = len(ip.configurables)
    loaded = []
    for _ in range(50):
        ip.run_line_magic("load_ext", "seedmagic")
        ip.run_line_magic("reload_ext", "seedmagic")
        loaded.append(weakref.ref(ip.magics_manager.registry["SeedMagics"]))
        ip.run_line_magic("unload_ext", "seedmagic")
    gc.collect()
    alive = sum(ref() is not None for ref in loaded)
    leaked = len(ip.configurables) - configurables
    ip.run_line_magic("load_ext", "seedmagic")  # the fixture unloads it
    assert (leaked, alive) == (0, 0), f"{leaked} configurables and {alive} SeedMagics left after 50 unloads"
