"""TensorFlow's global generator and op determinism, Keras 3, JAX and CuPy, each against the library's own calls.

Every framework runs in a fresh interpreter (``fresh_python``): the main test process never imports TensorFlow, Keras,
JAX or CuPy.
"""

from __future__ import annotations

import importlib.util
import itertools

import pytest

from seedmagic.engine import Engine
from seedmagic.sources import JAX, NAMES, SOURCES, Keras, Source

TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


class _Probe(Source):
    """A library listed but never seeded, whose saved state leaves something out: what the engine must honour."""

    name = "jax"
    module = "sys"
    seedable = False
    note = "probe note"

    def seed(self, seed):
        raise AssertionError("an unseedable library must not be seeded")

    def get_state(self):
        return 0

    def set_state(self, state):
        pass

    def unsaved(self):
        return "probe unsaved"


def test_the_engine_lists_an_unseedable_library_with_its_note_and_says_what_a_snapshot_leaves_out():
    engine = Engine([_Probe()])
    try:
        report = engine.seed_all(0)
        assert report.seeded == () and report.on_import == ()
        row = engine.status().library("jax")
        assert (row.state, row.note) == ("imported", "probe note")
        assert engine.snapshot().unavailable == {"jax": "probe unsaved"}
    finally:
        engine.reset()
        engine.hook.uninstall()


def test_every_framework_has_a_unit():
    assert {"tensorflow", "keras", "jax", "cupy"} <= set(NAMES)
    by_name = {source.name: source for source in SOURCES}
    assert by_name["jax"].seedable is False and "jax_key" in by_name["jax"].note
    assert all(by_name[name].seedable for name in ("random", "numpy", "torch", "tensorflow", "cupy"))


def test_keras_2_is_listed_but_not_seeded(monkeypatch):
    unit = Keras()
    monkeypatch.setattr(unit, "version", lambda: "2.15.0")
    assert unit.seedable is False and "Keras 2" in unit.note
    monkeypatch.setattr(unit, "version", lambda: "3.15.1")
    assert unit.seedable is True and unit.note == ""


# -- TensorFlow ---------------------------------------------------------------------------------------------------


def test_tensorflow_seed_resets_the_global_generator_only_when_it_exists(fresh_python):
    result = fresh_python(
        """
        import tensorflow as tf
        from tensorflow.python.ops import stateful_random_ops
        import seedmagic
        shell.user_ns["tf"] = tf
        cell("%load_ext seedmagic")
        cell("%seed 5")
        streams_without = sorted(seedmagic.status().library("tensorflow").streams)
        snapshot = seedmagic.snapshot()
        not_created = stateful_random_ops.global_generator is None
        got_ops = cell("tf.random.uniform([3]).numpy().tolist()")
        tf.random.set_seed(5)
        expected_ops = tf.random.uniform([3]).numpy().tolist()

        # The user made the global generator and drew from it; %seed 5 then equals TF's documented reseeding.
        generator = tf.random.get_global_generator()
        generator.normal([4])
        state = generator.state.numpy().tolist()
        tf.random.set_seed(5)
        unchanged_by_set_seed = generator.state.numpy().tolist() == state
        tf.random.set_global_generator(tf.random.Generator.from_seed(5))
        expected = tf.random.get_global_generator().normal([3]).numpy().tolist()
        tf.random.set_global_generator(generator)
        generator.normal([2])
        cell("%seed 5")
        got = tf.random.get_global_generator().normal([3]).numpy().tolist()
        same_object = tf.random.get_global_generator() is generator
        streams_with = sorted(seedmagic.status().library("tensorflow").streams)

        # A tf.function that captured the generator sees the reset: it was reset in place.
        @tf.function
        def draw():
            return tf.random.get_global_generator().uniform([2])
        draw()
        cell("%seed 6")
        got_traced = draw().numpy().tolist()
        expected_traced = tf.random.Generator.from_seed(6).uniform([2]).numpy().tolist()

        emit({
            "not_created": not_created, "unavailable": "tensorflow" in snapshot.unavailable,
            "streams_without": streams_without, "streams_with": streams_with,
            "ops": got_ops == expected_ops, "unchanged_by_set_seed": unchanged_by_set_seed,
            "generator": [got, expected], "same_object": same_object,
            "traced": [got_traced, expected_traced],
        })
        """,
        env=TF_ENV,
    )
    assert result["not_created"] is True
    assert result["unavailable"] is True
    assert result["streams_without"] == ["global seed"]
    assert result["streams_with"] == ["global generator", "global seed"]
    assert result["ops"] is True
    assert result["unchanged_by_set_seed"] is True
    got, expected = result["generator"]
    assert got == expected
    assert result["same_object"] is True
    got, expected = result["traced"]
    assert got == expected


def test_tensorflow_global_generator_is_put_back_and_checked(fresh_python):
    result = fresh_python(
        """
        import contextlib, io
        import tensorflow as tf
        import seedmagic
        shell.user_ns["tf"] = tf
        cell("%load_ext seedmagic")
        cell("%seed 3")
        generator = tf.random.get_global_generator()
        generator.normal([2])

        def continuation():
            # What the generator draws next, from a copy made with TF's own call.
            copy = tf.random.Generator.from_state(generator.state.numpy(), alg=generator.algorithm)
            return copy.normal([3]).numpy().tolist()

        expected = continuation()
        with seedmagic.isolated():
            generator.normal([5])
            tf.random.set_global_generator(tf.random.Generator.from_seed(99))
        api = [tf.random.get_global_generator() is generator, generator.normal([3]).numpy().tolist() == expected]

        expected = continuation()
        cell("%%seeded 1 --isolate\\nx = tf.random.get_global_generator().normal([4])")
        magic = generator.normal([3]).numpy().tolist() == expected

        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            cell("%%seeded 4 --check\\ny = tf.random.get_global_generator().normal([3])")
        emit({"api": api, "magic": magic, "check": out.getvalue()})
        """,
        env=TF_ENV,
    )
    assert result["api"] == [True, True]
    assert result["magic"] is True
    assert "reproducible: two runs from seed 4 gave the same y" in result["check"]


def test_tensorflow_snapshot_says_what_it_cannot_save_with_a_global_generator(fresh_python):
    unavailable, states = fresh_python(
        """
        import tensorflow as tf
        import seedmagic
        tf.random.get_global_generator()
        saved = seedmagic.snapshot()
        emit([saved.unavailable.get("tensorflow"), sorted(saved.states)])
        """,
        env=TF_ENV,
    )
    assert "inside their kernels" in unavailable and "global tf.random.Generator is saved" in unavailable
    assert "tensorflow" in states


@pytest.mark.parametrize("imported", ["before", "after"])
def test_tensorflow_op_determinism_on_and_off(fresh_python, imported):
    states = fresh_python(
        f"""
        import seedmagic
        IMPORTED = {imported!r}
        cell("%load_ext seedmagic")
        if IMPORTED == "before":
            cell("import tensorflow as tf")
        cell("%seed 1 --deterministic")
        if IMPORTED == "after":
            cell("import tensorflow as tf")
        from tensorflow.python.framework import config
        flag = [f.ok for f in seedmagic.status().flags if f.name == "tf op determinism"]
        on = config.is_op_determinism_enabled()
        cell("%seed --no-deterministic")
        off = config.is_op_determinism_enabled()
        # Switched on by the user first: --no-deterministic puts back exactly that.
        config.enable_op_determinism()
        cell("%seed --deterministic")
        cell("%seed --no-deterministic")
        emit([on, flag, off, config.is_op_determinism_enabled()])
        """,
        env=TF_ENV,
    )
    assert states == [True, [True], False, True]


def test_tensorflow_without_a_disable_call_says_so(fresh_python):
    message = fresh_python(
        """
        import types
        config = types.ModuleType("tensorflow.python.framework.config")
        config.is_op_determinism_enabled = lambda: True
        sys.modules["tensorflow.python.framework.config"] = config
        sys.modules["tensorflow.python.framework"] = types.SimpleNamespace(config=config)
        from seedmagic.sources import TensorFlow
        try:
            TensorFlow().restore_flags(False)
        except RuntimeError as exc:
            emit(str(exc))
        """
    )
    assert "no call that switches op determinism off" in message


# -- Keras 3 ------------------------------------------------------------------------------------------------------

# Layers' initial weights and Dropout's masks (seeded from Python's random), and unseeded keras.random calls (the
# global SeedGenerator).
KERAS_DRAWS = """
        def draws():
            layer = keras.layers.Dense(3)
            layer.build((None, 2))
            ops = keras.ops.convert_to_numpy
            dropout = keras.layers.Dropout(0.5)(keras.ops.ones((8,)), training=True)
            return [ops(layer.kernel).tolist(), ops(keras.random.uniform((3,))).tolist(),
                    ops(keras.random.normal((2,))).tolist(), ops(dropout).tolist()]
"""


@pytest.mark.parametrize("backend", ["tensorflow", "torch", "jax"])
def test_keras_after_seed_draws_as_after_set_random_seed(fresh_python, backend):
    result = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 7")
        cell("import keras")
        keras = shell.user_ns["keras"]
        """
        + KERAS_DRAWS
        + """
        from keras.src.utils import rng_utils
        seed_at_import = rng_utils.get_random_seed()
        first = draws()
        keras.utils.set_random_seed(7)
        expected = draws()
        keras.utils.set_random_seed(8)
        keras.random.uniform((5,))  # the global SeedGenerator exists and has moved on
        cell("%seed 7")
        again = draws()
        emit({"backend": keras.backend.backend(), "seed": [seed_at_import, rng_utils.get_random_seed()],
              "first": first, "again": again, "expected": expected})
        """,
        env={**TF_ENV, "KERAS_BACKEND": backend},
    )
    assert result["backend"] == backend
    assert result["seed"] == [7, 7]
    assert result["first"] == result["expected"]
    assert result["again"] == result["expected"]


def test_keras_state_round_trips_and_fingerprints(fresh_python):
    result = fresh_python(
        """
        import seedmagic
        import keras
        import numpy as np
        seedmagic.seed_all(2)
        fresh = seedmagic.status().library("keras").streams
        keras.random.uniform((2,))
        drawn = seedmagic.status().library("keras").streams
        expected = keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist()
        seedmagic.seed_all(2)
        reseeded = seedmagic.status().library("keras").streams
        keras.random.uniform((2,))
        with seedmagic.isolated():
            keras.utils.set_random_seed(40)
            keras.random.uniform((9,))
        got = keras.ops.convert_to_numpy(keras.random.uniform((3,))).tolist()
        from keras.src.utils import rng_utils
        emit({"fresh": fresh, "drawn": drawn, "reseeded": reseeded, "same": got == expected,
              "seed": rng_utils.get_random_seed()})
        """,
        env={**TF_ENV, "KERAS_BACKEND": "jax"},
    )
    assert list(result["fresh"]) == ["keras.random"]
    assert result["fresh"] != result["drawn"]
    assert result["reseeded"] == result["fresh"]
    assert result["same"] is True
    assert result["seed"] == 2


# -- JAX ----------------------------------------------------------------------------------------------------------


def test_jax_key_is_jax_random_key_of_the_seed_in_force(fresh_python):
    result = fresh_python(
        """
        import jax
        import seedmagic
        shell.user_ns["seedmagic"] = seedmagic
        cell("%load_ext seedmagic")

        def same(key, seed):
            expected = jax.random.key(seed)
            return (
                jax.random.key_data(key).tolist() == jax.random.key_data(expected).tolist()
                and jax.random.uniform(key, (3,)).tolist() == jax.random.uniform(expected, (3,)).tolist()
            )

        try:
            seedmagic.jax_key()
            no_seed = None
        except ValueError as exc:
            no_seed = str(exc)
        cell("%seed 11")
        session = same(seedmagic.jax_key(), 11)
        explicit = same(seedmagic.jax_key(13), 13)
        cell("%%seeded 12\\nk = seedmagic.jax_key()")
        in_cell = same(shell.user_ns["k"], 12)
        after_cell = same(seedmagic.jax_key(), 11)
        cell("%seed 11 --auto")
        cell("k = seedmagic.jax_key()")
        auto_seed = seedmagic.status().last_cell_seed
        in_auto = same(shell.user_ns["k"], auto_seed)
        emit({"no_seed": no_seed, "checks": [session, explicit, in_cell, after_cell, in_auto], "auto_seed": auto_seed})
        """
    )
    assert "no seed" in result["no_seed"]
    assert result["checks"] == [True, True, True, True, True]
    assert result["auto_seed"] not in (None, 11)


def test_jax_key_is_exported():
    import seedmagic

    assert "jax_key" in seedmagic.__all__ and callable(seedmagic.jax_key)


def test_jax_unit_has_nothing_to_seed_or_save():
    unit = JAX()
    assert unit.get_state() is None
    unit.set_state(None)
    assert unit.shown_streams() == {}


def test_jax_is_listed_but_never_seeded(fresh_python):
    result = fresh_python(
        """
        import importlib.metadata
        import seedmagic
        cell("%load_ext seedmagic")
        report = seedmagic.seed_all(4)
        before = seedmagic.status().library("jax")
        cell("import jax")
        after = seedmagic.status().library("jax")
        report_after = seedmagic.seed_all(4)
        emit({
            "on_import": report.on_import, "seeded": report_after.seeded,
            "before": [before.installed, before.imported, before.version, before.state, before.note],
            "after": [after.imported, after.version, after.state, after.note, after.seeding is None],
            "versions": [importlib.metadata.version("jax"), sys.modules["jax"].__version__],
            "status": str(seedmagic.status()),
        })
        """
    )
    assert "jax" not in result["on_import"] and "jax" not in result["seeded"]
    installed, imported, version, state, note = result["before"]
    assert installed is True and imported is False and version == result["versions"][0]
    assert state == "not imported" and "jax_key" in note
    imported, version, state, note, unseeded = result["after"]
    assert imported is True and version == result["versions"][1]
    assert "seeded" not in state and "jax_key" in note and unseeded
    lines = result["status"].splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("jax "))
    row = " ".join([lines[start], *itertools.takewhile(lambda line: line.startswith(" "), lines[start + 1 :])])
    assert "no global generator" in row and "seeded" not in row


# -- Each framework stays lazy ------------------------------------------------------------------------------------

LAZY_IMPORT = """
import random
import numpy as np
SEEDMAGIC = {seedmagic}
if SEEDMAGIC:
    import seedmagic
    cell("%load_ext seedmagic")
    cell("%seed 0")
cell("import random, numpy")  # both already imported; the cell machinery is warmed up in both runs
before = set(sys.modules)
cell("import {module}")
imported = sorted(set(sys.modules) - before)
draws = [random.random(), np.random.rand(2).tolist()]
random.seed(0)
np.random.seed(0)
emit({{"imported": imported, "draws": draws, "expected": [random.random(), np.random.rand(2).tolist()]}})
"""


@pytest.mark.parametrize(("module", "backend"), [("jax", None), ("keras", "jax"), ("keras", "tensorflow")])
def test_an_import_after_seed_imports_only_what_the_library_imports(fresh_python, module, backend):
    env = {**TF_ENV, **({"KERAS_BACKEND": backend} if backend else {})}
    plain = fresh_python(LAZY_IMPORT.format(seedmagic=False, module=module), env=env)
    seeded = fresh_python(LAZY_IMPORT.format(seedmagic=True, module=module), env=env)
    # seedmagic imports nothing during the import; its own modules were loaded before it, so the seeded run's list
    # can only be shorter, and never by a framework.
    assert set(seeded["imported"]) <= set(plain["imported"])
    frameworks = {"tensorflow", "keras", "jax", "torch", "cupy"}
    assert {m.split(".")[0] for m in seeded["imported"]} & frameworks == {
        m.split(".")[0] for m in plain["imported"]
    } & frameworks
    # The import moved neither random nor NumPy: they stay where %seed 0 put them.
    assert seeded["draws"] == seeded["expected"]


# -- CuPy (skipped without it; the main process never imports it) ---------------------------------------------------

needs_cupy = pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="needs CuPy")


@needs_cupy
def test_cupy_is_seeded_without_starting_a_gpu(fresh_python):
    result = fresh_python(
        """
        import os
        import seedmagic
        cell("%load_ext seedmagic")
        cell("%seed 7")
        cell("import cupy")
        from cupy.random import _generator
        at_import = [os.environ.get("CUPY_SEED"), dict(_generator._random_states)]
        with seedmagic.isolated():
            cell("%seed 9")
        status = seedmagic.status().library("cupy")
        emit({"at_import": at_import, "after_isolated": os.environ.get("CUPY_SEED"),
              "started": len(_generator._random_states), "state": status.state, "version": status.version,
              "cupy_version": sys.modules["cupy"].__version__})
        """
    )
    assert result["at_import"] == ["7", {}]
    assert result["after_isolated"] == "7"
    assert result["started"] == 0
    assert result["state"] == "seeded with 7 (import)"
    assert result["version"] == result["cupy_version"]


@needs_cupy
@pytest.mark.cuda
def test_cupy_draws_as_after_cupy_random_seed(fresh_python):
    result = fresh_python(
        """
        import seedmagic
        cell("%load_ext seedmagic")
        cell("%seed 7")
        import cupy
        first = cupy.random.rand(3).get().tolist()  # the device's generator starts here, from CUPY_SEED
        cupy.random.seed(7)
        expected = cupy.random.rand(3).get().tolist()
        cupy.random.rand(5)
        cell("%seed 7")
        again = cupy.random.rand(3).get().tolist()
        emit([first, again, expected])
        """
    )
    first, again, expected = result
    assert first == expected
    assert again == expected
