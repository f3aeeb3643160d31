"""The comparison behind %%seeded --check: exact, dtype- and shape-aware, NaN equal to NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seedmagic.check import difference, run_twice


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1),
        (0.5, 0.5),
        (math.nan, math.nan),
        ("s", "s"),
        ([1, (2.0, "x")], [1, (2.0, "x")]),
        ({"k": [1.5]}, {"k": [1.5]}),
        ({"a", "b"}, {"b", "a"}),
        (torch.tensor([1.0, math.nan]), torch.tensor([1.0, math.nan])),
        (np.array([1.0, np.nan]), np.array([1.0, np.nan])),
        (np.float32(0.25), np.float32(0.25)),
        (np.array(["a", "b"]), np.array(["a", "b"])),
    ],
)
def test_equal_values(a, b):
    assert difference(a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        (1, 2, "values differ"),
        (1, 1.0, "type int vs float"),
        ([1, 2], [1, 2, 3], "length 2 vs 3"),
        ([1, [2, 3]], [1, [2, 4]], "[1] [1] values differ"),
        ({"k": 1}, {"j": 1}, "keys differ"),
        ({"k": 1.0}, {"k": 2.0}, "['k'] values differ"),
        (torch.zeros(2), torch.zeros(2, dtype=torch.float64), "dtype torch.float32 vs torch.float64"),
        (torch.zeros(2), torch.zeros(3), "shape (2,) vs (3,)"),
        (torch.zeros(2), torch.tensor([0.0, 1.0]), "values differ"),
        (np.zeros(2), np.zeros(2, dtype=np.float32), "dtype float64 vs float32"),
        (np.zeros((2, 1)), np.zeros((1, 2)), "shape (2, 1) vs (1, 2)"),
        (np.array([0.0, np.nan]), np.array([np.nan, 0.0]), "values differ"),
    ],
)
def test_different_values(a, b, why):
    assert difference(a, b) == why


def test_modules_compare_their_weights():
    torch.manual_seed(0)
    first = torch.nn.Linear(2, 2)
    torch.manual_seed(0)
    same = torch.nn.Linear(2, 2)
    other = torch.nn.Linear(2, 2)
    assert difference(first, same) is None
    assert difference(first, other) == "['weight'] values differ"


class Plain:
    def __init__(self, value):
        self.value = value


def test_plain_objects_compare_their_attributes():
    assert difference(Plain([1]), Plain([1])) is None
    assert difference(Plain([1]), Plain([2])) == "['value'] [0] values differ"


def test_run_twice_restores_the_names_between_runs_and_leaves_the_second_run():
    namespace = {"kept": 1, "counter": 0}
    runs = []

    def run():
        runs.append(dict(namespace))
        namespace["counter"] += 1
        namespace["new"] = len(runs)
        return namespace["counter"]

    value, report = run_twice(run, namespace, reseed=lambda: None, seed=3)
    assert runs[0] == runs[1] == {"kept": 1, "counter": 0}
    assert value == 1 and namespace == {"kept": 1, "counter": 1, "new": 2}
    assert report.compared == ("counter", "new", "Out")
    assert [d.name for d in report.differences] == ["new"]
    assert str(report).startswith("seedmagic: NOT reproducible: two runs from seed 3 differ in 1 of 3:")


def test_functions_classes_and_modules_are_not_compared():
    namespace = {"__builtins__": __builtins__}

    def run():
        exec("import math\ndef f(): pass\nclass C: pass\nx = 1", namespace)

    _, report = run_twice(run, namespace, reseed=lambda: None)
    assert report.reproducible
    assert report.compared == ("x",)
