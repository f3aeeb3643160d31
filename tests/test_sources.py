"""Each RNG unit: seeding equals the library's own call, state round-trips, the fingerprint tracks the stream."""

from __future__ import annotations

import functools
import random
import traceback
import warnings

import numpy as np
import pytest
import torch

import seedmagic
from seedmagic.sources import NAMES, SOURCES, NumPy, PythonRandom, Torch

UNITS = {
    "random": (PythonRandom(), lambda s: random.seed(s), lambda: random.random()),
    "numpy": (NumPy(), lambda s: np.random.seed(s), lambda: np.random.rand(4).tolist()),
    "torch": (Torch(), lambda s: torch.manual_seed(s), lambda: torch.rand(4).tolist()),
}


def test_every_library_has_one_unit_with_a_distinct_name():
    assert NAMES == ("random", "numpy", "torch", "tensorflow", "keras", "jax", "cupy")
    assert len({source.module for source in SOURCES}) == len(SOURCES)


@pytest.mark.parametrize("name", UNITS)
@pytest.mark.parametrize("seed", [0, 77, 2**32 - 1])
def test_seed_equals_the_librarys_own_call(name, seed):
    unit, own_seed, draw = UNITS[name]
    own_seed(seed)
    expected = [draw(), draw()]
    unit.seed(seed)
    assert [draw(), draw()] == expected


@pytest.mark.parametrize("name", UNITS)
def test_state_round_trips(name):
    unit, own_seed, draw = UNITS[name]
    own_seed(3)
    draw()
    state = unit.get_state()
    expected = draw()
    draw()
    unit.set_state(state)
    assert draw() == expected


@pytest.mark.parametrize("name", UNITS)
def test_fingerprint_changes_exactly_when_the_stream_moves(name):
    unit, own_seed, draw = UNITS[name]
    own_seed(3)
    before = unit.shown_streams()
    assert before == unit.shown_streams()
    assert all(len(value) == 8 for value in before.values())
    draw()
    assert unit.shown_streams() != before
    own_seed(3)
    assert unit.shown_streams() == before


def test_torch_reads_only_the_cpu_stream_while_no_accelerator_has_started(fresh_python):
    streams, state_kinds, initialized, new_modules = fresh_python(
        """
        import torch
        from seedmagic.sources import Torch
        before = set(sys.modules)
        streams = Torch().shown_streams()
        kinds = sorted(Torch().get_state().accelerators)
        Torch().seed(3)
        emit([sorted(streams), kinds, torch.cuda.is_initialized(), sorted(set(sys.modules) - before)])
        """
    )
    assert streams == ["cpu"]
    assert state_kinds == []
    assert initialized is False
    assert not [m for m in new_modules if m.split(".")[0] in ("numpy", "tensorflow", "jax", "ipywidgets")]


# -- torch: seeded by torch.manual_seed itself --------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2023, 2**31, 2**32 - 1])
def test_torch_unit_leaves_the_generators_as_torch_manual_seed_does(seed):
    torch.manual_seed(seed)
    expected = (torch.get_rng_state(), torch.initial_seed())
    torch.rand(7)
    Torch().seed(seed)
    assert torch.equal(torch.get_rng_state(), expected[0])
    assert torch.initial_seed() == expected[1]


def test_the_unit_calls_torch_manual_seed_itself_even_when_someone_wrapped_it(monkeypatch):
    calls = []
    own = torch.manual_seed

    @functools.wraps(own)
    def logged(seed):
        calls.append(seed)
        return own(seed)

    monkeypatch.setattr(torch, "manual_seed", logged)
    Torch().seed(11)
    assert calls == [11]
    own(11)
    expected = torch.rand(3)
    Torch().seed(11)
    assert torch.equal(torch.rand(3), expected)


def test_few_frames_stand_between_the_caller_and_torch_manual_seed(monkeypatch, ip):
    # torch.manual_seed formats the caller's whole stack to queue GPU seeding: every frame seedmagic adds costs there.
    depths = []
    own = torch.manual_seed

    def measured(seed):
        depths.append(len(traceback.extract_stack()))
        return own(seed)

    monkeypatch.setattr(torch, "manual_seed", measured)
    torch.manual_seed(0)
    direct = depths.pop()
    seedmagic.seed_all(0)
    assert depths.pop() - direct <= 3  # seed_all, seeding the imported libraries, the torch unit
    ip.run_cell("import torch; torch.manual_seed(0)")
    in_a_cell = depths.pop()
    ip.run_cell("%seed 0 -q")
    assert depths.pop() - in_a_cell <= 6  # IPython's dispatch of a line magic, then the same three


def test_versions_come_from_the_libraries():
    by_name = {source.name: source for source in SOURCES}
    assert by_name["torch"].version() == torch.__version__
    assert by_name["numpy"].version() == np.__version__
    import platform

    assert by_name["random"].version() == platform.python_version()


def test_tensorflow_unit(fresh_python):
    result = fresh_python(
        """
        import tensorflow as tf
        from seedmagic.sources import TensorFlow, StateUnavailable
        unit = TensorFlow()
        tf.random.set_seed(11)
        expected = tf.random.uniform([3]).numpy().tolist()
        unit.seed(11)
        got = tf.random.uniform([3]).numpy().tolist()
        before = unit.shown_streams()
        tf.random.uniform([1])
        moved = unit.shown_streams() != before
        try:
            unit.get_state()
            unavailable = None
        except StateUnavailable as exc:
            unavailable = str(exc)
        emit([got == expected, moved, unavailable, unit.version() == tf.__version__])
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result[:2] == [True, True]
    assert "cannot be saved" in result[2]
    assert result[3] is True


@pytest.mark.parametrize(
    ("env", "ok", "note"),
    [
        ({"PYTHONHASHSEED": "0"}, True, "hash randomization is off"),
        ({"PYTHONHASHSEED": "123"}, True, "the same in every run"),
        ({}, False, "a running process cannot change"),
    ],
)
def test_hash_seed_flag_reads_the_value_the_interpreter_started_with(fresh_python, env, ok, note):
    import os

    environ = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
    program = """
        import os
        from seedmagic.determinism import hash_seed_flag
        flag = hash_seed_flag()
        os.environ["PYTHONHASHSEED"] = "999"
        emit([flag.ok, flag.note, hash_seed_flag().note])
        """
    old = os.environ.pop("PYTHONHASHSEED", None)
    try:
        flag_ok, flag_note, after_change = fresh_python(program, env={**environ, **env})
    finally:
        if old is not None:
            os.environ["PYTHONHASHSEED"] = old
    assert flag_ok is ok
    assert note in flag_note
    assert "no effect" in after_change


@pytest.mark.cuda
def test_torch_unit_covers_every_started_cuda_device():
    torch.zeros(1, device="cuda")
    unit = Torch()
    torch.manual_seed(5)
    expected = torch.rand(3, device="cuda")
    unit.seed(5)
    assert torch.equal(torch.rand(3, device="cuda"), expected)
    streams = unit.shown_streams()
    assert {f"cuda:{i}" for i in range(torch.cuda.device_count())} <= set(streams)
    state = unit.get_state()
    expected = torch.rand(3, device="cuda")
    torch.rand(3, device="cuda")
    unit.set_state(state)
    assert torch.equal(torch.rand(3, device="cuda"), expected)


@pytest.fixture
def numpy_bit_generator():
    """Puts a bit generator of the test's choosing under NumPy's global functions (np.random.set_bit_generator), and
    NumPy's own MT19937 back afterwards."""
    original = np.random.get_bit_generator()
    yield lambda name: np.random.set_bit_generator(getattr(np.random, name)(1))
    np.random.set_bit_generator(original)


@pytest.mark.parametrize("bit_generator", ["PCG64", "PCG64DXSM", "Philox", "SFC64"])
def test_numpy_on_another_bit_generator_is_seeded_read_and_restored_without_a_warning(
    numpy_bit_generator, bit_generator
):
    """``np.random.set_bit_generator`` puts any bit generator under ``np.random.rand``: its state has no legacy form,
    and NumPy warns when one is asked for."""
    numpy_bit_generator(bit_generator)
    unit, engine = NumPy(), seedmagic.engine.Engine(SOURCES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit.seed(5)
        np.random.seed(5)
        expected = np.random.rand(3)
        unit.seed(5)
        assert np.array_equal(np.random.rand(3), expected)  # seeding equals NumPy's own call
        row = engine.status().library("numpy")
        assert row.state_error == "" and set(row.streams) == {"numpy.random"}
        mark, state = engine.marks().states["numpy"], unit.get_state()
        drawn = np.random.rand(3)
        assert engine.status().library("numpy").streams != row.streams  # the fingerprint tracks the stream
        assert engine.marks().states["numpy"] != mark  # and so does the panel's reading
        unit.set_state(state)
        assert np.array_equal(np.random.rand(3), drawn)
        unit.set_state(state)
        assert engine.status().library("numpy").streams == row.streams and engine.marks().states["numpy"] == mark
