"""Bad input to every option of every magic: a one-line UsageError naming the problem, and nothing changed.

Each case is run as a real cell. "Nothing changed" compares everything seedmagic could touch before and after: the
generators of random, NumPy and torch, the session (seed, selection, mode), the determinism flags, the environment,
the import hook and the shell's cell callbacks. For ``%%seeded`` the body must not have run either.
"""

from __future__ import annotations

import random
import re
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import generators_and_flags, run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.engine import ENGINE
from seedmagic.magics import SeedMagics


def typo(token: str, meant: str) -> str:
    """The one line for an option mistyped: the nearest options, and nothing after."""
    return re.escape(f"unrecognized arguments: {token} (did you mean {meant}?)") + "$"


def unknown(token: str) -> str:
    """The one line for an option like none the magic has: no suggestion."""
    return re.escape(f"unrecognized arguments: {token}") + "$"


INTEGER = "seed must be an integer"
RANGE = r"seed must be between 0 and 2\*\*32 - 1"
UNKNOWN = "unknown library"

# (argument line, what the one-line message must say) for `%seed` after `%seed 4`.
SEED = [
    # the seed: wrong types, out of range, empty
    ("abc", f"{INTEGER}, got 'abc'"),
    ("1.5", f"{INTEGER}, got '1.5'"),
    ("1e3", f"{INTEGER}, got '1e3'"),
    ("nan", f"{INTEGER}, got 'nan'"),
    ("0x", f"{INTEGER}, got '0x'"),
    ("''", INTEGER),
    ('""', INTEGER),
    ("2**32", r"\{expression\}"),
    ("-1", f"{RANGE}.*, got -1$"),
    ("4294967296", f"{RANGE}.*, got 4294967296$"),
    ("0x100000000", f"{RANGE}.*, got 4294967296$"),
    ("1 2", "unrecognized arguments: 2"),
    ("$undefined_variable", rf"{INTEGER}, got '\$undefined_variable'"),
    ("{-1}", f"{RANGE}.*, got -1$"),
    ("{2**32}", f"{RANGE}.*, got 4294967296$"),
    ("{1.5}", f"{INTEGER}, got '1.5'"),
    ("{None}", f"{INTEGER}, got 'None'"),
    ("{1/0}", INTEGER),
    # --random
    ("5 --random", "a seed or --random, not both"),
    ("--random=3", "--random: ignored explicit argument '3'"),
    # --auto / --no-auto
    ("5 --auto --no-auto", "--auto or --no-auto, not both"),
    ("5 --auto=on", "--auto: ignored explicit argument 'on'"),
    ("--no-auto=1", "--no-auto: ignored explicit argument '1'"),
    # --reach / --no-reach
    ("5 --reach --no-reach", "--reach or --no-reach, not both"),
    ("5 --reach=on", "--reach: ignored explicit argument 'on'"),
    # --per-rank
    ("--per-rank", "need a seed"),
    ("5 --per-rank=2", "--per-rank: ignored explicit argument '2'"),
    # --deterministic / --no-deterministic
    ("5 --deterministic --no-deterministic", "--deterministic or --no-deterministic, not both"),
    ("--deterministic=yes", "--deterministic: ignored explicit argument 'yes'"),
    ("--no-deterministic=0", "--no-deterministic: ignored explicit argument '0'"),
    # --warn-only
    ("--warn-only", "--warn-only goes with --deterministic"),
    ("5 --warn-only", "--warn-only goes with --deterministic"),
    ("--no-deterministic --warn-only", "--warn-only goes with --deterministic"),
    ("--deterministic --warn-only=1", "--warn-only: ignored explicit argument '1'"),
    # --only / --skip
    ("5 --only", "--only: expected one argument"),
    ("5 --only nope", f"{UNKNOWN} 'nope'"),
    ("5 --only torch,nope", f"{UNKNOWN} 'nope'"),
    ("5 --only TORCH", f"{UNKNOWN} 'TORCH'"),
    ("5 --only 3", f"{UNKNOWN} '3'"),
    ("5 --only ''", UNKNOWN),
    ("5 --only ,", "at least one library name"),
    ("5 --only=", "at least one library name"),
    ("5 --only random,,torch", f"{UNKNOWN} ''"),
    ("5 --skip numpy,nope", f"{UNKNOWN} 'nope'"),
    ("--only torch", "need a seed"),
    ("5 --only torch --skip numpy", "only or skip, not both"),
    ("5 --skip", "--skip: expected one argument"),
    ("5 --skip nope", f"{UNKNOWN} 'nope'"),
    ("5 --skip ''", UNKNOWN),
    ("5 --skip ,", "at least one library name"),
    ("--skip torch", "need a seed"),
    # -q / --quiet
    ("5 -q=1", "-q/--quiet: ignored explicit argument '1'"),
    ("5 --quiet=no", "-q/--quiet: ignored explicit argument 'no'"),
    # --record
    ("5 --record=yes", "--record: ignored explicit argument 'yes'"),
    ("5 --recrd", typo("--recrd", "--record")),
    # options it does not have, and none near: the plain one line
    ("5 --foo", unknown("--foo")),
    ("5 --isolate", unknown("--isolate")),
    ("5 -h", unknown("-h")),
    # options are never abbreviated: the error names the options meant
    ("5 --no", typo("--no", "--no-auto, --no-reach or --no-deterministic")),
    ("0 --deter", typo("--deter", "--deterministic")),
    ("5 --deter=1", typo("--deter=1", "--deterministic")),
    ("--a", typo("--a", "--auto")),
    ("5 --qui", typo("--qui", "--quiet")),
    ("5 --on torch", typo("--on torch", "--only")),
    # nor misspelt
    ("--atuo", typo("--atuo", "--auto")),
    ("5 --determinstic", typo("--determinstic", "--deterministic")),
    ("5 --no-reahc", typo("--no-reahc", "--no-reach")),
    ("5 --per_rank", typo("--per_rank", "--per-rank")),
    ("5 --deter --atuo", re.escape("--deter --atuo (did you mean --deterministic for --deter, --auto for --atuo?)")),
]

# (argument line, message) for `%%seeded` after `%seed 4`.
SEEDED = [
    ("abc", f"{INTEGER}, got 'abc'"),
    ("1.5", f"{INTEGER}, got '1.5'"),
    ("''", INTEGER),
    ("-1", f"{RANGE}.*, got -1$"),
    ("4294967296", f"{RANGE}.*, got 4294967296$"),
    ("{2**32}", f"{RANGE}.*, got 4294967296$"),
    ("$undefined_variable", rf"{INTEGER}, got '\$undefined_variable'"),
    ("1 2", "unrecognized arguments: 2"),
    ("0 --isolate=1", "--isolate: ignored explicit argument '1'"),
    ("0 --check=yes", "--check: ignored explicit argument 'yes'"),
    ("0 --trace", "--trace goes with --check: %%seeded --check --trace"),
    ("0 --check --trace=1", "--trace: ignored explicit argument '1'"),
    ("0 --only", "--only: expected one argument"),
    ("0 --only nope", f"{UNKNOWN} 'nope'"),
    ("0 --only ''", UNKNOWN),
    ("0 --only ,", "at least one library name"),
    ("0 --only torch --skip numpy", "only or skip, not both"),
    ("0 --skip", "--skip: expected one argument"),
    ("0 --skip nope", f"{UNKNOWN} 'nope'"),
    ("0 --skip ,", "at least one library name"),
    ("0 --isolate --check --only nope", f"{UNKNOWN} 'nope'"),
    ("0 --random", unknown("--random")),
    ("0 --deterministic", unknown("--deterministic")),
    ("0 -q", unknown("-q")),
    ("0 --foo", unknown("--foo")),
    ("0 --iso", typo("--iso", "--isolate")),
    ("0 --che", typo("--che", "--check")),
    ("0 --sk torch", typo("--sk torch", "--skip")),
    ("0 --chekc", typo("--chekc", "--check")),
    ("0 --isolat", typo("--isolat", "--isolate")),
    ("0 --olny torch", typo("--olny torch", "--only")),
]

# Cases that are wrong only because no session seed is set yet.
WITHOUT_SESSION_SEED = [
    ("%seed --auto", "auto mode needs a session seed"),
    ("%%seeded", "no seed"),
    ("%%seeded --isolate", "no seed"),
    ("%%seeded --check", "no seed"),
    ("%%seeded --only torch", "no seed"),
]

SEEDPANEL = ["x", "0", "''", "--help", "-q", "--only torch"]

BODY = "bad_input_body_ran = True\nrandom.random(), np.random.rand(), torch.rand(1)"


@pytest.fixture
def ip(ip):
    ip.user_ns.update(random=random, np=np, torch=torch, seedmagic=seedmagic)
    ip.user_ns.pop("bad_input_body_ran", None)
    return ip


def everything(shell) -> dict:
    """All that a magic could change."""
    return {
        **generators_and_flags(),
        "selection": ENGINE.selection,
        "last cell seed": seedmagic.status().last_cell_seed,
        "callbacks": {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()},
        "seedings": dict(ENGINE.seedings),
    }


def check_usage_error(shell, capsys, source: str, message: str) -> None:
    capsys.readouterr()
    before = everything(shell)
    error = run_failing(shell, source)
    after = everything(shell)
    shown = capsys.readouterr()
    assert isinstance(error, UsageError), f"{source!r} raised {error!r}"
    text = str(error)
    assert "\n" not in text, f"not one line: {text!r}"
    assert re.search(message, text), f"{source!r}: {text!r} does not say {message!r}"
    assert (shown.out + shown.err).strip() == f"UsageError: {text}", "the user sees the one line and nothing else"
    assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert "bad_input_body_ran" not in shell.user_ns, "the cell body ran"


@pytest.fixture
def seeded_session(ip):
    """A session with seed 4 and a few draws: bad input must leave all of it as it is."""
    run_ok(ip, "%seed 4 -q")
    run_ok(ip, "random.random(), np.random.rand(), torch.rand(1)")
    return ip


@pytest.mark.parametrize(("line", "message"), SEED, ids=[line for line, _ in SEED])
def test_seed_rejects_bad_input_and_changes_nothing(seeded_session, capsys, line, message):
    check_usage_error(seeded_session, capsys, f"%seed {line}", message)


@pytest.mark.parametrize(("line", "message"), SEEDED, ids=[line for line, _ in SEEDED])
def test_seeded_rejects_bad_input_changes_nothing_and_does_not_run_the_body(seeded_session, capsys, line, message):
    check_usage_error(seeded_session, capsys, f"%%seeded {line}\n{BODY}", message)


@pytest.mark.parametrize(("magic", "message"), WITHOUT_SESSION_SEED, ids=[magic for magic, _ in WITHOUT_SESSION_SEED])
def test_without_a_session_seed(ip, capsys, magic, message):
    run_ok(ip, "random.random(), np.random.rand(), torch.rand(1)")
    source = f"{magic}\n{BODY}" if magic.startswith("%%") else magic
    check_usage_error(ip, capsys, source, message)


@pytest.mark.parametrize("line", SEEDPANEL)
def test_seedpanel_takes_no_arguments(seeded_session, capsys, line):
    check_usage_error(seeded_session, capsys, f"%seedpanel {line}", rf"takes no arguments, got {re.escape(repr(line))}")


def test_a_seeded_cell_with_a_syntax_error_changes_nothing(seeded_session):
    before = everything(seeded_session)
    error = run_failing(seeded_session, "%%seeded 0 --isolate\nbad_input_body_ran = True\nx = (")
    assert isinstance(error, SyntaxError)
    assert everything(seeded_session) == before
    assert "bad_input_body_ran" not in seeded_session.user_ns


def options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings if option.startswith("--")}


@pytest.mark.parametrize(("magic", "cases"), [("seed_magic", SEED), ("seeded", SEEDED)], ids=["%seed", "%%seeded"])
def test_every_option_has_bad_input_cases(magic, cases):
    """A new option needs its rows in the tables above."""
    parser = getattr(SeedMagics, magic).parser
    covered = {option for line, _ in cases for option in options(parser) if re.search(rf"{option}(?![\w-])", line)}
    assert options(parser) <= covered, sorted(options(parser) - covered)


# -- the Python API: the built-in type the docs name, one line, nothing changed ---------------------------------

NO_SEED = "no seed: set one with %seed N (or seedmagic.seed_all(N)), or pass seed="
OUT_OF_RANGE = "seed must be between 0 and 2**32 - 1 = 4294967295, got "
LEVEL = "level must be between 0 and 1 (e.g. 0.95), got "

# (a call in a cell, with seed 4 in force, the type the docs name, the message)
API = [
    ("seedmagic.seed_all(torch.tensor(1.5))", TypeError, "seed must be an integer, got tensor(1.5000)"),
    ("seedmagic.seed_all(torch.ones(3, 3))", TypeError, "seed must be an integer, got a Tensor of shape (3, 3)"),
    ("seedmagic.seed_all(np.int64(-1))", ValueError, f"{OUT_OF_RANGE}-1"),
    (
        "seedmagic.seed_all(0, deterministic=np.True_)",
        TypeError,
        "deterministic must be True, False or None, got np.True_",
    ),
    (
        "seedmagic.seed_all(0, only=torch)",
        TypeError,
        "only takes library names ('torch,numpy' or ['torch', 'numpy']), got the module torch",
    ),
    (
        "seedmagic.seed_all(0, skip=['numpy', 'pytorch'])",
        ValueError,
        "skip: unknown library 'pytorch' (known: random, numpy, torch, tensorflow, keras, jax, cupy)",
    ),
    ("seedmagic.set_deterministic(torch.tensor(True))", TypeError, "enabled must be True or False, got tensor(True)"),
    (
        "seedmagic.set_deterministic(False, warn_only=True)",
        ValueError,
        "warn_only applies only when switching deterministic mode on",
    ),
    ("seedmagic.seeded(np.float64(1))", TypeError, "seed must be an integer, got np.float64(1.0)"),
    ("seedmagic.seeded(0, isolate=np.True_)", TypeError, "isolate must be True or False, got np.True_"),
    (
        "seedmagic.restore(np.random.get_state())",
        TypeError,
        "restore takes a Snapshot (from seedmagic.snapshot()), not tuple",
    ),
    ("seedmagic.derive_seed(torch.tensor([1, 2]), 'k')", TypeError, "seed must be an integer, got tensor([1, 2])"),
    ("seedmagic.derive_seed(0, np.array([1]))", TypeError, "key must be an int or a str, got array([1])"),
    ("seedmagic.rng(np.int64(2**40))", ValueError, f"{OUT_OF_RANGE}1099511627776"),
    ("seedmagic.torch_generator(np.float32(1))", TypeError, "seed must be an integer, got np.float32(1.0)"),
    ("seedmagic.sweep(torch.zeros(3), 3)", TypeError, "sweep() needs a function to call, got tensor([0., 0., 0.])"),
    (
        "seedmagic.sweep(lambda: 1.0, torch.tensor(2.5))",
        TypeError,
        "seeds must be a count, a text such as '0-9', or seeds, got tensor(2.5000)",
    ),
    (
        "seedmagic.sweep(lambda: 1.0, np.arange(3), stop_on_error=np.True_)",
        TypeError,
        "stop_on_error must be True or False, got np.True_",
    ),
    ("seedmagic.sweep(lambda: 1.0, [1, np.int64(1)])", ValueError, "seed 1 is named twice"),
    (
        "seedmagic.sweep(lambda: torch.rand(3), range(2))",
        ValueError,
        "the function returned a Tensor of shape (3,) (use .mean(), .item() or [i] to make it one number): return "
        "the metric, a number, a dict of numbers or a 0-d tensor or array",
    ),
    (
        "three.compare(four)",
        ValueError,
        "the sweeps ran different seeds (only in the other: 3): a paired comparison needs the same seeds",
    ),
    ("three.compare(torch.zeros(3))", TypeError, "compare takes another SeedSweep, got Tensor"),
    ("three.compare(both)", ValueError, "the sweeps share no metric: metric vs acc, loss"),
    ("three.ci(np.float64(1.5))", ValueError, f"{LEVEL}np.float64(1.5)"),
    ("three.summary('high')", TypeError, "level must be a number between 0 and 1 (e.g. 0.95), got 'high'"),
    ("three.plot(np.zeros(3))", TypeError, "plot(ax) draws onto a matplotlib Axes, got ndarray"),
    (
        "both.plot(Figure().subplots())",
        ValueError,
        "plot(ax) draws one metric: use sweep['name'].plot(ax), or plot() for all",
    ),
    ("both['accuracy']", KeyError, "'accuracy': the metrics are acc, loss"),
    ("three.compare(three)['acc']", KeyError, "'acc': the metrics compared are metric"),
]

# The same without a seed in force.
API_WITHOUT_SEED = [
    ("seedmagic.rng()", ValueError, NO_SEED),
    ("seedmagic.torch_generator()", ValueError, NO_SEED),
    (
        "with seedmagic.seeded():\n    bad_input_body_ran = True",
        ValueError,
        "no seed: give one (e.g. %%seeded 0) or set the session seed first with %seed N",
    ),
    (
        "seedmagic.sweep(lambda: 1.0, np.int64(3))",
        ValueError,
        "3 seeds derived from the session seed need one: set it with %seed N, or name the seeds (e.g. 0-2)",
    ),
]


@pytest.fixture
def sweeps(ip):
    """Sweeps to call with bad input: over seeds 0-2 and 0-3, and a dict metric."""
    from matplotlib.figure import Figure

    made = {
        "three": seedmagic.sweep(lambda: torch.rand(()), range(3)),
        "four": seedmagic.sweep(lambda: torch.rand(()), range(4)),
        "both": seedmagic.sweep(lambda: {"acc": torch.rand(()), "loss": torch.randn(())}, range(3)),
        "Figure": Figure,
    }
    ip.user_ns.update(made)
    yield ip
    for name in made:
        ip.user_ns.pop(name, None)


def check_api_error(shell, capsys, source: str, kind: type, message: str) -> None:
    """In a cell: the README's type (and seedmagic's), the message exactly, one line shown and no frame of seedmagic's;
    and nothing changed."""
    capsys.readouterr()
    before = everything(shell)
    error = run_failing(shell, source)
    after = everything(shell)
    shown = capsys.readouterr()
    assert isinstance(error, kind) and isinstance(error, seedmagic.InvalidArgument), repr(error)
    assert str(error) == message
    assert (shown.out + shown.err) == f"{kind.__name__}: {message}\n", "the user sees the one line and nothing else"
    assert after == before, {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert "bad_input_body_ran" not in shell.user_ns
    # From Python, the traceback names seedmagic's type, which the docs name too.
    printed = "".join(traceback.format_exception_only(type(error), error))
    assert printed == f"{type(error).__module__}.{type(error).__name__}: {message}\n"
    assert type(error).__module__ in ("seedmagic", "seedmagic.sweeps")


@pytest.mark.parametrize(("source", "kind", "message"), API, ids=[source for source, _, _ in API])
def test_the_python_api_raises_the_readmes_type_in_one_line_and_changes_nothing(
    seeded_session, sweeps, capsys, source, kind, message
):
    check_api_error(seeded_session, capsys, source, kind, message)


@pytest.mark.parametrize(
    ("source", "kind", "message"), API_WITHOUT_SEED, ids=[source for source, _, _ in API_WITHOUT_SEED]
)
def test_the_python_api_without_a_seed(ip, capsys, source, kind, message):
    run_ok(ip, "random.random(), np.random.rand(), torch.rand(1)")
    check_api_error(ip, capsys, source, kind, message)


def test_the_readme_names_the_types_the_api_raises():
    readme = (Path(__file__).parent.parent / "docs" / "magics.md").read_text()
    for name in ("`seedmagic.InvalidArgument`", "`ValueError`", "`seedmagic.InvalidArgumentType`", "`TypeError`"):
        assert name in readme
    assert seedmagic.InvalidArgument.__mro__[1] is ValueError
    assert issubclass(seedmagic.InvalidArgumentType, TypeError)
    try:
        seedmagic.rng(-1)
    except ValueError as error:  # what the README says: except ValueError catches it
        assert str(error) == f"{OUT_OF_RANGE}-1"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_from_a_function_of_the_notebooks_the_error_shows_its_frames_and_none_of_seedmagics(ip, capsys):
    run_ok(ip, "def make_generator():\n    return seedmagic.rng()")
    capsys.readouterr()
    error = run_failing(ip, "x = 1\nmake_generator()")
    assert isinstance(error, ValueError)
    shown = ANSI.sub("", capsys.readouterr().out)
    lines = shown.splitlines()
    assert lines[-1] == f"ValueError: {NO_SEED}"
    assert "----> 2 make_generator()" in shown and "----> 2     return seedmagic.rng()" in shown
    assert "seedmagic/" not in shown and "generators.py" not in shown and "InvalidArgument" not in shown


def test_in_a_kernel_an_error_is_one_line():
    from test_kernel import raises, run_kernel

    _, no_seed, compared, typo, deep = run_kernel(
        "%load_ext seedmagic\nimport seedmagic, torch\ndef make_generator():\n    return seedmagic.rng()",
        raises("seedmagic.torch_generator()"),
        raises(
            "a = seedmagic.sweep(lambda: torch.rand(()), range(3))\n"
            "b = seedmagic.sweep(lambda: torch.rand(()), range(1, 4))\n"
            "a.compare(b)"
        ),
        raises("%seed 0 --deter"),
        raises("make_generator()"),
    )
    assert [error["traceback"] for error in no_seed.errors] == [[f"ValueError: {NO_SEED}"]]
    assert [error["traceback"] for error in compared.errors] == [
        [
            "ValueError: the sweeps ran different seeds (only in this one: 0; only in the other: 3): a paired "
            "comparison needs the same seeds"
        ]
    ]
    assert typo.outputs == [
        {
            "output_type": "stream",
            "name": "stderr",
            "text": "UsageError: unrecognized arguments: --deter (did you mean --deterministic?)\n",
        }
    ]
    (error,) = deep.errors
    shown = ANSI.sub("", "\n".join(error["traceback"]))
    assert shown.splitlines()[-1] == f"ValueError: {NO_SEED}"
    assert "make_generator" in shown and "seedmagic/" not in shown
    for ran in (no_seed, compared, deep):
        assert ran.stdout == ran.stderr == ""
