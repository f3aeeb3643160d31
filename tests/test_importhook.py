"""Seeding on import: libraries imported after %seed (in a later cell or the same one) get the seed at import."""

from __future__ import annotations

import importlib
import sys

import pytest

from seedmagic.importhook import ImportHook

FRAMEWORKS = ("torch", "numpy", "tensorflow", "jax", "ipywidgets", "keras")


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A real package on sys.path that records, in its module code, that it ran."""
    (tmp_path / "watchedpkg").mkdir()
    (tmp_path / "watchedpkg" / "__init__.py").write_text("ready = True\nfrom . import sub\n")
    (tmp_path / "watchedpkg" / "sub.py").write_text("value = 1\n")
    (tmp_path / "otherpkg.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield "watchedpkg"
    for name in ("watchedpkg", "watchedpkg.sub", "otherpkg"):
        sys.modules.pop(name, None)


def test_callback_runs_once_the_module_is_complete(package):
    seen = []

    def before(name):
        seen.append(("before", name, hasattr(sys.modules[name], "ready")))

    def after(name, loaded):
        seen.append(("after", name, loaded, sys.modules[name].ready, "watchedpkg.sub" in sys.modules))

    hook = ImportHook({package}, before, after)
    hook.install()
    try:
        import otherpkg  # noqa: F401
        import watchedpkg
    finally:
        hook.uninstall()
    assert seen == [("before", "watchedpkg", False), ("after", "watchedpkg", True, True, True)]
    # The module keeps its real loader.
    assert type(watchedpkg.__loader__).__name__ == "SourceFileLoader"
    assert watchedpkg.__spec__.loader is watchedpkg.__loader__


def test_install_is_idempotent_and_uninstall_removes_it():
    hook = ImportHook({"x"}, print, print)
    hook.install()
    hook.install()
    assert sum(finder is hook for finder in sys.meta_path) == 1
    hook.uninstall()
    assert hook not in sys.meta_path


def test_import_errors_propagate_unchanged(tmp_path, monkeypatch):
    (tmp_path / "brokenpkg.py").write_text("raise ImportError('no such thing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    seen = []
    hook = ImportHook({"brokenpkg"}, seen.append, lambda name, loaded: seen.append(loaded))
    hook.install()
    try:
        with pytest.raises(ImportError, match="no such thing"):
            import brokenpkg  # noqa: F401
    finally:
        hook.uninstall()
        sys.modules.pop("brokenpkg", None)
    assert seen == ["brokenpkg", False]


def test_import_seedmagic_and_load_ext_import_no_framework(fresh_python):
    loaded = fresh_python(
        f"""
        before = set(sys.modules)
        import seedmagic
        after_import = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)
        cell("%load_ext seedmagic")
        cell("%seed 1")
        seedmagic.status()
        str(seedmagic.status())
        frameworks = {FRAMEWORKS!r}
        emit([after_import, [m for m in frameworks if m in sys.modules], [m for m in frameworks if m in before]])
        """
    )
    assert loaded == [[], [], []]


def test_torch_imported_after_seed_gets_the_seed_in_a_later_cell(fresh_python):
    got, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 0")
        assert "torch" not in sys.modules
        a = cell("import torch\\ntorch.rand(3)").tolist()
        torch = sys.modules["torch"]
        torch.manual_seed(0)
        emit([a, torch.rand(3).tolist()])
        """
    )
    assert got == expected


def test_torch_imported_in_the_same_cell_gets_the_seed(fresh_python):
    got, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        got = cell("%seed 0\\nimport torch\\nx = torch.rand(1)\\ny = torch.rand(1)\\n[x.item(), y.item()]")
        import torch
        torch.manual_seed(0)
        emit([got, [torch.rand(1).item(), torch.rand(1).item()]])
        """
    )
    assert got == expected


def test_seeded_cell_seeds_a_library_it_imports(fresh_python):
    first, second, expected, after = fresh_python(
        """
        cell("%load_ext seedmagic")
        first = cell("%%seeded 0\\nimport torch\\ntorch.rand(2)").tolist()
        second = cell("%%seeded 0\\nimport torch\\ntorch.rand(2)").tolist()
        import torch
        torch.manual_seed(0)
        import seedmagic
        emit([first, second, torch.rand(2).tolist(), seedmagic.status().library("torch").seeding.by])
        """
    )
    assert first == second == expected
    assert after == "cell"


def test_numpy_imported_after_seed(fresh_python):
    got, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 123")
        a = cell("import numpy as np\\nnp.random.rand(3)").tolist()
        import numpy as np
        np.random.seed(123)
        emit([a, np.random.rand(3).tolist()])
        """
    )
    assert got == expected


def test_only_library_selection_applies_at_import(fresh_python):
    seeded_by = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 5 --skip torch")
        cell("import torch, numpy")
        import seedmagic
        status = seedmagic.status()
        emit([status.library("torch").seeding, status.library("numpy").seeding.seed])
        """
    )
    assert seeded_by == [None, 5]


def test_tensorflow_imported_after_seed_matches_tf_set_seed(fresh_python):
    got, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 7")
        draw = "[tf.random.uniform([3]).numpy().tolist(), tf.random.normal([2]).numpy().tolist()]"
        a = cell("import tensorflow as tf\\n" + draw)
        import tensorflow as tf
        tf.random.set_seed(7)
        emit([a, eval(draw)])
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert got == expected


def test_an_import_does_not_move_the_other_generators_while_a_seed_is_in_force(fresh_python):
    # TensorFlow's import draws from Python's random (through a dependency); after `%seed 0` the draws must still be
    # those of random.seed(0), and a %%seeded cell importing TensorFlow must repeat from its first run on.
    after_seed, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 0")
        after_seed = cell("import random, tensorflow\\n[random.random(), random.random()]")
        python = __import__("random").Random(0)
        emit([after_seed, [python.random(), python.random()]])
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert after_seed == expected
    first_run, second_run = fresh_python(
        """
        cell("%load_ext seedmagic")
        draw = "%%seeded 1\\nimport random, tensorflow as tf\\n"
        draw += "[random.random(), tf.random.uniform([2]).numpy().tolist()]"
        emit([cell(draw), cell(draw)])
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert first_run == second_run


def test_deterministic_before_import_applies_at_import(fresh_python):
    flags = fresh_python(
        """
        import os
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        cell("%load_ext seedmagic")
        cell("%seed --deterministic")
        import torch
        def flags():
            cublas = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
            return [torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic, cublas]
        on = flags()
        cell("%seed --no-deterministic")
        emit([on, flags()])
        """
    )
    assert flags == [[True, True, ":4096:8"], [False, False, None]]


def test_no_seed_no_hook(fresh_python):
    hooked = fresh_python(
        """
        cell("%load_ext seedmagic")
        from seedmagic.engine import ENGINE
        emit(ENGINE.hook in sys.meta_path)
        """
    )
    assert hooked is False


def test_without_a_seed_the_census_alone_keeps_the_hook(fresh_python):
    hooked, unloaded = fresh_python(
        """
        shell.config.SeedMagics.census = True
        cell("%load_ext seedmagic")
        from seedmagic.engine import ENGINE
        hooked = ENGINE.hook in sys.meta_path
        cell("%unload_ext seedmagic")
        emit([hooked, ENGINE.hook in sys.meta_path])
        """
    )
    assert (hooked, unloaded) == (True, False)


@pytest.mark.cuda
def test_seeding_and_reading_never_start_cuda_and_gpus_get_the_seed_when_they_start(fresh_python):
    started, got, expected = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("%seed 0 --deterministic")
        import torch, seedmagic
        cell("%seed")
        seedmagic.snapshot()
        cell("%%seeded 1 --isolate\\ntorch.rand(1)")
        started = torch.cuda.is_initialized()
        cell("%seed 0")
        got = torch.rand(3, device="cuda").tolist()
        torch.manual_seed(0)
        emit([started, got, torch.rand(3, device="cuda").tolist()])
        """
    )
    assert started is False
    assert got == expected


def test_two_hooks_on_sys_meta_path_both_see_the_import_and_never_ask_each_other_back():
    import importlib
    import sys

    from seedmagic.importhook import ImportHook

    seen: list[tuple[str, str]] = []
    hooks = [
        ImportHook({"json"}, lambda name, who=who: seen.append((who, name)), lambda name, loaded: None)
        for who in ("a", "b")
    ]
    saved = sys.modules.pop("json")
    try:
        for hook in hooks:
            hook.install()
        assert importlib.util.find_spec("json") is not None  # no RecursionError
        importlib.import_module("json")
        assert sorted(seen) == [("a", "json"), ("b", "json")]
    finally:
        for hook in hooks:
            hook.uninstall()
        sys.modules["json"] = saved
