"""The Python API: seed_all, current_seed, seeded, snapshot/restore, isolated, status, derive_seed."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from conftest import FailingLibrary, generators_and_flags, run_ok

import seedmagic
from seedmagic.arguments import parse_seed
from seedmagic.engine import Engine
from seedmagic.sources import SOURCES


def draws() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(2)


def own_calls(seed: int) -> tuple[float, float, torch.Tensor]:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return draws()


def same(a, b) -> bool:
    return a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


@pytest.mark.parametrize("seed", [0, 1, 2023, 2**31, 2**32 - 1])
def test_seed_all_equals_the_libraries_own_calls(seed):
    report = seedmagic.seed_all(seed)
    got = draws()
    assert same(got, own_calls(seed))
    assert report.seed == seed
    assert set(report.seeded) >= {"random", "numpy", "torch"}
    assert seedmagic.current_seed() == seed


def test_seed_all_accepts_numpy_integers():
    seedmagic.seed_all(np.uint32(5))
    assert seedmagic.current_seed() == 5
    assert type(seedmagic.current_seed()) is int


@pytest.mark.parametrize(
    ("seed", "error"),
    [("1", TypeError), (1.5, TypeError), (True, TypeError), (None, TypeError), (-1, ValueError), (2**32, ValueError)],
)
def test_seed_all_rejects_bad_seeds_before_touching_anything(seed, error):
    seedmagic.seed_all(3)
    state = random.getstate(), torch.get_rng_state()
    with pytest.raises(error, match="seed must be"):
        seedmagic.seed_all(seed)
    assert random.getstate() == state[0]
    assert torch.equal(torch.get_rng_state(), state[1])
    assert seedmagic.current_seed() == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"only": "torch,nope"}, "unknown library 'nope'"),
        ({"skip": ["random", "x"]}, "unknown library 'x'"),
        ({"only": ""}, "at least one"),
        ({"only": "torch", "skip": "numpy"}, "not both"),
        ({"deterministic": "yes"}, "True, False or None"),
        ({"warn_only": True}, "warn_only"),
    ],
)
def test_seed_all_rejects_bad_options_before_touching_anything(kwargs, message):
    state = random.getstate()
    with pytest.raises((ValueError, TypeError), match=message):
        seedmagic.seed_all(1, **kwargs)
    assert random.getstate() == state
    assert seedmagic.current_seed() is None
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize(
    ("text", "value"),
    [("2023", 2023), (" 7 ", 7), ("0x10", 16), ("1_000", 1000), ("007", 7), ("4294967295", 2**32 - 1)],
)
def test_parse_seed(text, value):
    assert parse_seed(text) == value


def test_only_accepts_lists_and_strings():
    random.seed(1)
    before = random.getstate()
    report = seedmagic.seed_all(4, only=["torch", "numpy"])
    assert random.getstate() == before
    assert report.seeded == ("numpy", "torch")
    report = seedmagic.seed_all(4, skip="numpy, torch")
    assert report.seeded == ("random",)


def test_report_text_is_one_line():
    text = str(seedmagic.seed_all(8))
    assert "\n" not in text
    assert text.startswith("seedmagic: seeded random, numpy, torch with 8")


def test_seeded_context():
    seedmagic.seed_all(1)
    with seedmagic.seeded(5) as report:
        assert report.seed == 5
        assert seedmagic.current_seed() == 5
        inside = torch.rand(2)
    assert seedmagic.current_seed() == 1
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(2))


def test_seeded_checks_before_changing():
    state = torch.get_rng_state()
    with pytest.raises(ValueError, match="no seed"):
        seedmagic.seeded()
    with pytest.raises(ValueError, match="unknown library"):
        seedmagic.seeded(1, only="nope")
    assert torch.equal(torch.get_rng_state(), state)


def test_snapshot_and_restore_round_trip():
    seedmagic.seed_all(12)
    saved = seedmagic.snapshot()
    expected = draws()
    draws()
    seedmagic.restore(saved)
    assert same(draws(), expected)


@pytest.mark.parametrize("given", [None, "snapshot", (), "as a plain tuple"])
def test_restore_takes_only_a_snapshot_and_changes_nothing_otherwise(given):
    seedmagic.seed_all(12)
    saved = seedmagic.snapshot()
    if given == "as a plain tuple":
        given = tuple(saved)  # the same values, not a Snapshot
    draws()
    before = seedmagic.status()  # every generator's fingerprint, the flags and the session
    with pytest.raises(TypeError, match="restore takes a Snapshot"):
        seedmagic.restore(given)
    assert seedmagic.status() == before


@pytest.mark.parametrize("exception", [RuntimeError, KeyboardInterrupt])
def test_isolated_restores_on_exceptions(exception):
    seedmagic.seed_all(12)
    expected = draws()
    seedmagic.seed_all(12)
    with pytest.raises(exception), seedmagic.isolated():
        random.seed(99)
        torch.rand(10)
        np.random.rand(10)
        raise exception
    assert same(draws(), expected)


def test_isolated_names_what_it_cannot_save():
    with seedmagic.isolated() as saved:
        pass
    assert {"random", "numpy", "torch"} <= set(saved.states)
    assert not {"random", "numpy", "torch"} & set(saved.unavailable)


def test_status_is_structured():
    seedmagic.seed_all(21)
    status = seedmagic.status()
    assert status.seed == 21
    torch_row = status.library("torch")
    assert torch_row.installed and torch_row.imported
    assert torch_row.version == torch.__version__
    assert torch_row.seeding.seed == 21 and torch_row.seeding.by == "session"
    assert set(torch_row.streams) == {"cpu"}
    assert status.library("numpy").version == np.__version__
    names = [flag.name for flag in status.flags]
    assert "torch.use_deterministic_algorithms" in names and "PYTHONHASHSEED" in names


def test_fingerprints_move_with_the_stream_and_only_then():
    seedmagic.seed_all(21)
    first = seedmagic.status()
    again = seedmagic.status()
    for name in ("random", "numpy", "torch"):
        assert first.library(name).streams == again.library(name).streams
    draws()
    moved = seedmagic.status()
    for name in ("random", "numpy", "torch"):
        assert first.library(name).streams != moved.library(name).streams
    seedmagic.seed_all(21)
    assert seedmagic.status().library("torch").streams == first.library("torch").streams


def test_status_text_lists_libraries_and_flags():
    seedmagic.seed_all(3)
    text = str(seedmagic.status())
    assert text.splitlines()[0] == "seedmagic: session seed 3; mode manual; deterministic mode off"
    assert "torch.backends.cudnn.benchmark" in text


def test_one_failing_library_leaves_the_others_seeded():
    engine = Engine([FailingLibrary(), *SOURCES[1:]])
    report = engine.seed_all(6)
    assert report.failed == {"random": "RuntimeError: cannot seed"}
    assert "numpy" in report.seeded and "torch" in report.seeded
    assert "random FAILED (RuntimeError: cannot seed)" in str(report)
    torch.manual_seed(6)
    expected = torch.rand(1)
    engine.seed_all(6)
    assert torch.equal(torch.rand(1), expected)
    row = engine.status().library("random")
    assert row.state == "seeding FAILED"
    assert row.error == "seeding failed: RuntimeError: cannot seed; state unreadable: RuntimeError: cannot read"
    engine.reset()


def test_marks_move_with_each_library_s_own_draws_and_some_libraries_read_no_flags():
    """The panel's cheap readings: a draw through a library's own call moves that library's mark and no other; asked
    for some libraries, only theirs are read, without the flags; a reading that fails is its error."""
    engine = Engine([FailingLibrary(), *SOURCES[1:]])
    before = engine.marks()
    assert before == engine.marks()  # reading changes nothing
    assert before.states["random"] == "RuntimeError: cannot read" and before.flags
    assert before.seeds == {"torch": torch.initial_seed()}
    for draw, library in ((lambda: np.random.rand(), "numpy"), (lambda: torch.rand(1), "torch")):
        draw()
        now = engine.marks()
        assert [name for name in now.states if now.states[name] != before.states[name]] == [library]
        before = now
    some = engine.marks(["random", "torch"])
    assert list(some.states) == ["random", "torch"] and some.flags == ()
    assert some.states == {name: before.states[name] for name in ("random", "torch")}
    assert some.seeds == before.seeds
    python = Engine(SOURCES).marks(["random"])
    random.random()
    assert Engine(SOURCES).marks(["random"]).states != python.states


def test_derive_seed_is_in_range_and_distinct():
    seeds = {seedmagic.derive_seed(0, key) for key in range(1000)}
    assert len(seeds) == 1000
    assert all(0 <= seed < 2**32 for seed in seeds)
    assert seedmagic.derive_seed(1, "a") == seedmagic.derive_seed(1, "a")
    assert seedmagic.derive_seed(1, "a") != seedmagic.derive_seed(2, "a")


# derive_seed's promise is the same number on every platform, Python version and release: these stored values are the
# promise itself (the seeds notebooks' stored outputs were drawn with). A change here breaks every --auto notebook.
DERIVED = [
    (0, "cell-id:abc", 1908169910),
    (2023, "rank:1", 812474266),
    (4294967295, "source:x = torch.rand(1)", 3393035568),
    (7, 3, 630886713),
    (0, "reach:numpy:cell-id:a:0", 4240079442),
    (1, "é ünïcode", 2390975847),
]


@pytest.mark.parametrize(("base", "key", "seed"), DERIVED)
def test_derive_seed_gives_the_stored_values(base, key, seed):
    assert seedmagic.derive_seed(base, key) == seed


def test_derive_seed_does_not_depend_on_hash_randomization(fresh_python):
    program = "import seedmagic\nemit([seedmagic.derive_seed(5, 'cell'), seedmagic.derive_seed(5, 7)])"
    one = fresh_python(program, env={"PYTHONHASHSEED": "1"})
    two = fresh_python(program, env={"PYTHONHASHSEED": "2"})
    assert one == two == [seedmagic.derive_seed(5, "cell"), seedmagic.derive_seed(5, 7)]


def test_isolated_puts_back_the_flags_and_the_session_too():
    seedmagic.seed_all(12)
    flags = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    with pytest.raises(KeyboardInterrupt), seedmagic.isolated():
        seedmagic.seed_all(99, deterministic=True, only="torch")
        torch.backends.cudnn.benchmark = True
        raise KeyboardInterrupt
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == flags
    status = seedmagic.status()
    assert status.seed == 12 and not status.deterministic
    assert status.library("torch").seeding.seed == 12
    assert seedmagic.seed_all(12).seeded == ("random", "numpy", "torch")


# -- booleans are booleans ------------------------------------------------------------------------------------------

BAD_BOOLEANS = [1, 0, np.True_, "no", "True"]
# Where None is the default, it means "leave as it is"; elsewhere it is refused too.
BOOLEAN_OPTIONS = {
    "deterministic": (lambda v: seedmagic.seed_all(1, deterministic=v), False),
    "auto": (lambda v: seedmagic.seed_all(1, auto=v), False),
    "per_rank": (lambda v: seedmagic.seed_all(1, per_rank=v), True),
    "warn_only": (lambda v: seedmagic.seed_all(1, deterministic=True, warn_only=v), True),
    "set_deterministic": (lambda v: seedmagic.set_deterministic(v), True),
    "its warn_only": (lambda v: seedmagic.set_deterministic(True, warn_only=v), True),
    "isolate": (lambda v: seedmagic.seeded(1, isolate=v), True),
}


@pytest.mark.parametrize(
    ("call", "value"),
    [
        pytest.param(call, value, id=f"{name}={value!r}")
        for name, (call, refuses_none) in BOOLEAN_OPTIONS.items()
        for value in [*BAD_BOOLEANS, *([None] if refuses_none else [])]
    ],
)
def test_boolean_options_take_true_or_false_only(call, value):
    before = generators_and_flags()
    with pytest.raises(TypeError, match=r"must be True or False|must be True, False or None"):
        call(value)
    assert generators_and_flags() == before


# -- isolation leaves everything as it was ---------------------------------------------------------------------------


def everything_seedmagic_shows() -> tuple:
    return generators_and_flags(), str(seedmagic.status())


@pytest.mark.parametrize(
    "body",
    [
        "%seed --deterministic -q\nx = torch.rand(2)",
        "%seed 7 --deterministic --warn-only --auto --only torch -q\nx = torch.rand(2)",
        "%seed 7 --per-rank -q\nimport os\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':16:8'",
        "%seed --no-deterministic -q\ntorch.backends.cudnn.benchmark = True",
        "seedmagic.set_deterministic(True)\nraise KeyError('the cell fails')",
        "%seed --random -q\nraise KeyboardInterrupt",
        "import os\nos.environ.pop('CUBLAS_WORKSPACE_CONFIG', None)\ntorch.use_deterministic_algorithms(True)",
    ],
)
@pytest.mark.parametrize("deterministic_before", [False, True])
def test_an_isolated_cell_leaves_every_generator_flag_variable_and_the_status_as_they_were(
    ip, body, deterministic_before
):
    run_ok(ip, "import torch, numpy, random, seedmagic")
    run_ok(ip, f"%seed 5 {'--deterministic' if deterministic_before else ''} -q")
    run_ok(ip, "%%seeded 3\nrandom.random(); torch.rand(1)")  # the status shows what the last cell got
    before = everything_seedmagic_shows()
    ip.run_cell(f"%%seeded 11 --isolate\n{body}")
    assert everything_seedmagic_shows() == before
    # What the status says is on, --no-deterministic undoes.
    run_ok(ip, "%seed --no-deterministic -q")
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_a_library_first_imported_in_an_isolated_cell_ends_as_the_session_seed_leaves_it(fresh_python):
    same_state, flags, mode, undone = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 4 -q")
        cell("%%seeded 9 --isolate\\n%seed --deterministic -q\\nimport numpy as np, torch\\n"
             "np.random.rand(3); torch.rand(2)")
        import numpy as np, torch, seedmagic
        numpy_state, torch_state = np.random.get_state()[1].tolist(), torch.get_rng_state()
        np.random.seed(4); torch.manual_seed(4)
        flags = [torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
                 torch.backends.cudnn.benchmark]
        status = seedmagic.status()
        cell("%seed --no-deterministic -q")
        emit([numpy_state == np.random.get_state()[1].tolist() and torch.equal(torch_state, torch.get_rng_state()),
              flags, [status.deterministic, status.library("torch").state, status.library("numpy").state],
              torch.are_deterministic_algorithms_enabled()])
        """
    )
    assert same_state
    assert flags == [False, False, False]
    assert mode == [False, "seeded with 4 (import)", "seeded with 4 (import)"]
    assert undone is False


def test_a_library_first_imported_in_an_isolated_block_without_a_session_seed_gets_its_import_state(fresh_python):
    same, deterministic = fresh_python(
        """
        import seedmagic
        with seedmagic.seeded(9, isolate=True):
            seedmagic.set_deterministic(True)
            import torch
            torch.rand(5)
        # torch seeds itself at import (from OS entropy in recent versions), and has drawn nothing then.
        at_import = torch.Generator().manual_seed(torch.initial_seed()).get_state()
        emit([torch.initial_seed() != 9 and torch.equal(torch.get_rng_state(), at_import),
              torch.are_deterministic_algorithms_enabled()])
        """
    )
    assert same and deterministic is False


def test_a_library_first_imported_under_deterministic_mode_in_an_isolated_cell_stays_deterministic(fresh_python):
    flags, undone = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 0 --deterministic -q")
        cell("%%seeded 1 --isolate\\nimport torch\\ntorch.use_deterministic_algorithms(False)")
        import torch
        flags = [torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic]
        cell("%seed --no-deterministic -q")
        emit([flags, [torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic]])
        """
    )
    assert flags == [True, True]
    assert undone == [False, False]


def _gpu_seed_when_it_starts(torch) -> int | None:
    """The seed the first CUDA device would get from what torch has queued, run as torch runs its queue when CUDA
    starts, with one simulated device: this build of torch queues CUDA seeding although it has no CUDA."""
    generator = torch.Generator()
    calls = [call for call in torch.cuda._lazy_seed_tracker.get_calls() if call]
    original = torch.cuda.random.device_count, torch.cuda.default_generators
    torch.cuda.random.device_count = lambda: 1
    torch.cuda.default_generators = (generator,)
    try:
        for callback, _ in calls:
            callback()
    finally:
        torch.cuda.random.device_count, torch.cuda.default_generators = original
    return generator.initial_seed() if calls else None


@pytest.mark.parametrize(
    "cell",
    [
        "%%seeded 9 --isolate\nx = torch.rand(1)",
        "%%seeded 9 --isolate\ntorch.manual_seed(123)",
        "%%seeded 9 --isolate\n%seed 77 -q",
        "%%seeded 9 --isolate\nraise KeyboardInterrupt",
    ],
)
def test_a_gpu_that_starts_after_an_isolated_cell_gets_the_session_seed(ip, cell):
    run_ok(ip, "import torch")
    run_ok(ip, "%seed 5 -q")
    assert _gpu_seed_when_it_starts(torch) == 5  # what torch.manual_seed(5) queued
    ip.run_cell(cell)
    assert _gpu_seed_when_it_starts(torch) == 5
    with seedmagic.isolated():
        torch.manual_seed(42)
    assert _gpu_seed_when_it_starts(torch) == 5


# -- %seed inside a cell ---------------------------------------------------------------------------------------------


def test_seed_then_import_in_one_auto_cell_seeds_the_library_with_the_new_seed(fresh_python):
    said, same = fresh_python(
        """
        import io, contextlib
        cell("%load_ext seedmagic")
        cell("%seed 0 --auto -q")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cell("%seed 7\\nimport torch\\nx = torch.rand(3)")
        import torch
        torch.manual_seed(7)
        emit([out.getvalue(), torch.equal(shell.user_ns["x"], torch.rand(3))])
        """
    )
    assert "seeded on import" in said
    assert same
