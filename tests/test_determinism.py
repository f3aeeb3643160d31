"""The deterministic switch: on, off, and back to exactly what was there before."""

from __future__ import annotations

import os

import pytest
import torch

import seedmagic
from seedmagic import SeedmagicWarning
from seedmagic.engine import Engine
from seedmagic.sources import SOURCES, Source


def torch_flags():
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )


@pytest.fixture
def user_flags():
    """The user had set flags of their own before seedmagic; they are put back after the test."""
    before = torch_flags()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = True
    yield torch_flags()
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2:]


def test_off_restores_exactly_the_users_values(user_flags):
    seedmagic.set_deterministic(True)
    assert torch_flags() == (True, False, True, False)
    seedmagic.set_deterministic(True, warn_only=True)
    assert torch_flags() == (True, True, True, False)
    seedmagic.set_deterministic(False)
    assert torch_flags() == user_flags


def test_report_says_what_changed(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    report = seedmagic.set_deterministic(True)
    assert report.flags_changed == ("CUBLAS_WORKSPACE_CONFIG=:4096:8", "torch")
    assert str(report) == "seedmagic: deterministic mode on (CUBLAS_WORKSPACE_CONFIG=:4096:8, torch)"
    report = seedmagic.set_deterministic(False)
    assert "restored torch, CUBLAS_WORKSPACE_CONFIG" in str(report)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_off_without_on_changes_nothing(user_flags):
    report = seedmagic.set_deterministic(False)
    assert torch_flags() == user_flags
    assert "nothing to restore" in str(report)


def test_flags_give_a_verdict_and_a_reason(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    flags = {flag.name: flag for flag in seedmagic.status().flags}
    assert flags["torch.use_deterministic_algorithms"].ok is False
    seedmagic.set_deterministic(True)
    flags = {flag.name: flag for flag in seedmagic.status().flags}
    assert flags["torch.use_deterministic_algorithms"].ok is True
    assert flags["torch.backends.cudnn.benchmark"].ok is True
    assert flags["CUBLAS_WORKSPACE_CONFIG"].value == ":4096:8"
    assert all(flag.note for flag in flags.values())


def test_status_says_deterministic_mode():
    seedmagic.set_deterministic(True, warn_only=True)
    status = seedmagic.status()
    assert status.deterministic and status.warn_only
    assert "deterministic mode on (warn only)" in str(status)


def test_tensorflow_op_determinism_on_and_off(fresh_python):
    states = fresh_python(
        """
        import tensorflow as tf
        from tensorflow.python.framework import config
        import seedmagic
        before = config.is_op_determinism_enabled()
        seedmagic.seed_all(1, deterministic=True)
        on = config.is_op_determinism_enabled()
        flag = [f.ok for f in seedmagic.status().flags if f.name == "tf op determinism"]
        seedmagic.set_deterministic(False)
        emit([before, on, flag, config.is_op_determinism_enabled()])
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert states == [False, True, [True], False]


@pytest.mark.cuda
def test_cublas_set_after_cuda_started_warns_and_is_reported(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.zeros(1, device="cuda")
    with pytest.warns(SeedmagicWarning, match="certain only in a new process"):
        seedmagic.set_deterministic(True)
    flag = next(f for f in seedmagic.status().flags if f.name == "CUBLAS_WORKSPACE_CONFIG")
    assert flag.ok is False and "new process" in flag.note


class FailingSwitch(Source):
    """A library whose deterministic switch fails, after torch's has already been switched."""

    name = "tensorflow"
    module = "sys"
    has_flags = True

    def save_flags(self):
        return False

    def set_deterministic(self, warn_only):
        raise RuntimeError("cannot switch")


def test_a_failing_switch_changes_nothing(user_flags, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    engine = Engine([*SOURCES[:3], FailingSwitch()])
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="cannot switch"):
        engine.seed_all(3, deterministic=True)
    assert torch_flags() == user_flags
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert torch.equal(torch.get_rng_state(), state)
    assert engine.seed is None and not engine.determinism.enabled
    engine.reset()


def test_putting_back_flags_that_did_not_change_does_not_import_torchs_compiler(fresh_python):
    """torch.use_deterministic_algorithms imports torch._inductor and torch._dynamo (a second and 75 MB); a cell that
    leaves the flags as they were must not pay that at its end."""
    imported = fresh_python(
        """
        import torch
        before = "torch._dynamo" in sys.modules
        cell("import torch")
        cell("%load_ext seedmagic")
        cell("%seed 0 -q")
        cell("%%seeded 1 --isolate\\ny = torch.rand(2)")
        cell("%%seeds 0-2 -q\\nfloat(torch.rand(()))")
        cell("%%seeded 0 --check\\nz = torch.rand(2)")
        emit([before, "torch._dynamo" in sys.modules, "TORCHINDUCTOR_CACHE_DIR" in __import__("os").environ])
        """
    )
    assert imported == [False, False, False]
