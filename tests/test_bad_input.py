"""Bad input to every option of every magic: a one-line UsageError naming the problem, and nothing changed.

Each case is run as a real cell. "Nothing changed" compares everything seedmagic could touch before and after: the
generators of random, NumPy and torch, the session (seed, selection, mode), the determinism flags, the environment,
the import hook and the shell's cell callbacks. For ``%%seeded`` the body must not have run either.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch
from conftest import generators_and_flags, run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.engine import ENGINE
from seedmagic.magics import SeedMagics

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
    # options it does not have
    ("5 --foo", "unrecognized arguments: --foo"),
    ("5 --isolate", "unrecognized arguments: --isolate"),
    ("5 -h", "unrecognized arguments: -h"),
    # options are never abbreviated
    ("5 --no", "unrecognized arguments: --no"),
    ("5 --deter", "unrecognized arguments: --deter"),
    ("--a", "unrecognized arguments: --a"),
    ("5 --qui", "unrecognized arguments: --qui"),
    ("5 --on torch", "unrecognized arguments: --on torch"),
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
    ("0 --only", "--only: expected one argument"),
    ("0 --only nope", f"{UNKNOWN} 'nope'"),
    ("0 --only ''", UNKNOWN),
    ("0 --only ,", "at least one library name"),
    ("0 --only torch --skip numpy", "only or skip, not both"),
    ("0 --skip", "--skip: expected one argument"),
    ("0 --skip nope", f"{UNKNOWN} 'nope'"),
    ("0 --skip ,", "at least one library name"),
    ("0 --isolate --check --only nope", f"{UNKNOWN} 'nope'"),
    ("0 --random", "unrecognized arguments: --random"),
    ("0 --deterministic", "unrecognized arguments: --deterministic"),
    ("0 -q", "unrecognized arguments: -q"),
    ("0 --foo", "unrecognized arguments: --foo"),
    ("0 --iso", "unrecognized arguments: --iso"),
    ("0 --che", "unrecognized arguments: --che"),
    ("0 --sk torch", "unrecognized arguments: --sk torch"),
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
