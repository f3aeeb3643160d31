"""%%seeded --check: both runs start from the same namespace, and the verdict is never wrong in either direction.

The comparison is exact, dtype- and shape-aware, NaN equal to NaN, 0.0 not equal to -0.0; a value without state that
can be read is "cannot compare", a third outcome.
"""

from __future__ import annotations

import collections
import copy
import io
import math
import random
import re
import socket
import struct
import threading
import warnings

import numpy as np
import pytest
import torch
from conftest import checked, names_in, run_failing, run_number, run_ok
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import seedmagic
from seedmagic.check import run_twice
from seedmagic.check_report import CheckReport, Difference, Uncomparable
from seedmagic.compare import difference

pytestmark = pytest.mark.usefixtures("both_watchings")


@pytest.fixture
def ip(ip):
    """The shell with the libraries imported; the names a test binds are gone afterwards."""
    names = {"random": random, "np": np, "torch": torch, "seedmagic": seedmagic, "warnings": warnings}
    with names_in(ip, **names, run_number=run_number):
        yield ip


check = checked


def nan_with_payload(payload: int) -> float:
    return struct.unpack("d", struct.pack("Q", 0x7FF8000000000000 | payload))[0]


class Node:
    def __init__(self, value, parent=None):
        self.value = value
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def family(value):
    root = Node(1)
    Node(value, root)
    return root


def cycle(value):
    items = [value]
    items.append(items)
    return items


def dict_cycle(value):
    d = {"value": value}
    d["self"] = d
    return d


def objects():
    return np.array([1, [2.0, math.nan], torch.tensor([math.nan]), None], dtype=object)


def sparse_coo(values):
    return torch.sparse_coo_tensor(torch.tensor([[0, 1], [1, 0]]), torch.tensor(values), (2, 2))


def quantized(values, scale=0.1):
    return torch.quantize_per_tensor(torch.tensor(values), scale, 10, torch.quint8)


def nested(last):
    return torch.nested.nested_tensor([torch.ones(2), torch.full((3,), last)])


# -- the comparison ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1),
        (0.5, 0.5),
        (math.nan, math.nan),
        (math.nan, -math.nan),
        (math.nan, nan_with_payload(1)),
        (complex(math.nan, 1.0), complex(math.nan, 1.0)),
        ("s", "s"),
        ([1, (2.0, "x")], [1, (2.0, "x")]),
        ({"k": [1.5]}, {"k": [1.5]}),
        ({"a", "b"}, {"b", "a"}),
        ({math.nan}, {math.nan}),
        (torch.tensor([1.0, math.nan]), torch.tensor([1.0, math.nan])),
        (torch.tensor([math.nan]), torch.tensor([-math.nan])),
        (torch.tensor([complex(math.nan, 1)]), torch.tensor([complex(math.nan, 1)])),
        (np.array([1.0, np.nan]), np.array([1.0, np.nan])),
        (np.array([np.nan]), np.array([nan_with_payload(5)])),
        (np.float32(0.25), np.float32(0.25)),
        (np.array(["a", "b"]), np.array(["a", "b"])),
        (objects(), objects()),
        (cycle(1.0), cycle(1.0)),
        (dict_cycle(1.0), dict_cycle(1.0)),
        (family(0.5), family(0.5)),
        (sparse_coo([1.0, 2.0]), sparse_coo([1.0, 2.0])),
        (torch.eye(3).to_sparse_csr(), torch.eye(3).to_sparse_csr()),
        (torch.eye(4).to_sparse_bsc((2, 2)), torch.eye(4).to_sparse_bsc((2, 2))),
        (nested(1.0), nested(1.0)),
        (quantized([0.1, 0.5]), quantized([0.1, 0.5])),
        (torch.empty(3, device="meta"), torch.empty(3, device="meta")),
        (collections.deque([1.0]), collections.deque([1.0])),
        (iter([1, 2]), iter([1, 2])),
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
        ({1: "a"}, {1.0: "a"}, "keys differ"),
        ({"k": 1.0}, {"k": 2.0}, "['k'] values differ"),
        ({1, 2}, {1.0, 2}, "elements differ: 1 is only in the first"),
        (complex(math.nan, 1.0), complex(math.nan, 2.0), "values differ"),
        (torch.zeros(2), torch.zeros(2, dtype=torch.float64), "dtype torch.float32 vs torch.float64"),
        (torch.zeros(2), torch.zeros(3), "shape (2,) vs (3,)"),
        (torch.zeros(2), torch.tensor([0.0, 1.0]), "values differ"),
        (torch.zeros(2), torch.zeros(2, requires_grad=True), "requires_grad False vs True"),
        (np.zeros(2), np.zeros(2, dtype=np.float32), "dtype float64 vs float32"),
        (np.zeros((2, 1)), np.zeros((1, 2)), "shape (2, 1) vs (1, 2)"),
        (np.array([0.0, np.nan]), np.array([np.nan, 0.0]), "values differ"),
        (np.array([1, [2.0]], dtype=object), np.array([1, [3.0]], dtype=object), "[1] [0] values differ"),
        (cycle(1.0), cycle(2.0), "[0] values differ"),
        (dict_cycle(1.0), dict_cycle(2.0), "['value'] values differ"),
        (family(0.5), family(0.25), "['children'] [0] ['value'] values differ"),
        (sparse_coo([1.0, 2.0]), sparse_coo([1.0, 3.0]), "[1] values differ"),
        (torch.eye(3).to_sparse_csr(), (2 * torch.eye(3)).to_sparse_csr(), "[2] values differ"),
        (torch.eye(3).to_sparse_csr(), torch.eye(3).to_sparse_csc(), "layout torch.sparse_csr vs torch.sparse_csc"),
        (nested(1.0), nested(2.0), "[1] values differ"),
        (quantized([0.1, 0.5]), quantized([0.1, 0.9]), "values differ"),
        (quantized([0.1, 0.5]), quantized([0.1, 0.5], scale=0.2), "quantization [0] values differ"),
        (torch.empty(3, device="meta"), torch.empty(4, device="meta"), "shape (3,) vs (4,)"),
        (collections.deque([1.0]), collections.deque([2.0]), "[0] values differ"),
    ],
)
def test_different_values(a, b, why):
    assert difference(a, b) == why


@pytest.mark.parametrize(
    ("positive", "negative"),
    [
        (0.0, -0.0),
        (complex(0.0, 1.0), complex(-0.0, 1.0)),
        (np.float16(0.0), np.float16(-0.0)),
        (np.float32(0.0), np.float32(-0.0)),
        (np.float64(0.0), np.float64(-0.0)),
        (np.longdouble(0.0), np.longdouble(-0.0)),
        (np.array([1.0, 0.0]), np.array([1.0, -0.0])),
        (torch.tensor([0.0]), torch.tensor([-0.0])),
        (torch.tensor([0.0], dtype=torch.float16), torch.tensor([-0.0], dtype=torch.float16)),
        (torch.tensor([0.0], dtype=torch.bfloat16), torch.tensor([-0.0], dtype=torch.bfloat16)),
        (torch.tensor([0.0]).to(torch.float8_e5m2), torch.tensor([-0.0]).to(torch.float8_e5m2)),
        (torch.tensor([0j]), torch.tensor([complex(-0.0, 0.0)])),
    ],
)
def test_zero_and_negative_zero_differ_because_a_division_tells_them_apart(positive, negative):
    assert bool(np.all(np.asarray(positive == negative)))  # equal by ==, but 1 / x is +inf for one, -inf for the other
    assert sign_bits(positive) != sign_bits(negative)
    assert difference(positive, negative) is not None


def sign_bits(x) -> list[bool]:
    """The sign bits, as each library reads them."""
    if isinstance(x, torch.Tensor):
        x = torch.view_as_real(x) if x.is_complex() else x
        return torch.signbit(x.float() if x.element_size() == 1 else x).flatten().tolist()
    if isinstance(x, complex):
        return [math.copysign(1, x.real) < 0, math.copysign(1, x.imag) < 0]
    if isinstance(x, float) and not isinstance(x, np.floating):
        return [math.copysign(1, x) < 0]
    return np.signbit(x).flatten().tolist()


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.longdouble, np.complex64, np.complex128, np.clongdouble]
)
def test_every_numpy_nan_equals_every_nan(dtype):
    nans = np.array([np.nan, -np.nan], dtype=dtype)
    assert np.isnan(nans).all()
    assert difference(nans, nans[::-1].copy()) is None
    assert difference(dtype(np.nan), dtype(-np.nan)) is None


def test_nan_payloads_are_ignored_in_float16():
    payloads = np.array([0x7E00, 0x7E01, 0xFE03], dtype=np.uint16).view(np.float16)
    assert np.isnan(payloads).all()
    assert difference(payloads, np.full(3, np.nan, dtype=np.float16)) is None


@pytest.mark.parametrize(
    "dtype",
    [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.float8_e5m2, torch.complex64, torch.complex128],
)
def test_every_torch_nan_equals_every_nan(dtype):
    a = torch.tensor([math.nan, 1.0, -math.nan]).to(dtype)
    b = torch.tensor([-math.nan, 1.0, math.nan]).to(dtype)
    assert torch.isnan(a).tolist() == [True, False, True]
    assert difference(a, b) is None
    assert difference(a, torch.tensor([math.nan, 2.0, math.nan]).to(dtype)) == "values differ"


def test_dict_order_counts_because_iteration_shows_it():
    first, second = {"a": 1, "b": 2}, {"b": 2, "a": 1}
    assert first == second and list(first) != list(second)
    assert difference(first, second) == "keys in another order"


def test_modules_compare_their_weights():
    torch.manual_seed(0)
    first = torch.nn.Linear(2, 2)
    torch.manual_seed(0)
    same = torch.nn.Linear(2, 2)
    other = torch.nn.Linear(2, 2)
    assert difference(first, same) is None
    assert difference(first, other) == "['weight'] values differ"
    same.eval()
    assert difference(first, same) == "training True vs False"


def test_modules_compare_their_gradients():
    first, second = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    second.load_state_dict(first.state_dict())
    first(torch.ones(1, 2)).sum().backward()
    assert difference(first, second).startswith("['weight'] grad tensor(")
    second(torch.ones(1, 2)).sum().backward()
    assert difference(first, second) is None


class Plain:
    def __init__(self, value):
        self.value = value


class Slots:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def test_plain_objects_compare_their_attributes_and_slots():
    assert difference(Plain([1]), Plain([1])) is None
    assert difference(Plain([1]), Plain([2])) == "['value'] [0] values differ"
    assert difference(Slots(1.0), Slots(1.0)) is None
    assert difference(Slots(1.0), Slots(-0.0)) is not None


@pytest.mark.parametrize(
    "make",
    [
        random.Random,
        np.random.default_rng,
        np.random.RandomState,
        np.random.PCG64,
        np.random.MT19937,
        np.random.SeedSequence,
        lambda seed: torch.Generator().manual_seed(seed),
    ],
)
def test_generators_compare_by_their_state(make):
    assert difference(make(1), make(1)) is None
    assert "state differs between runs" in difference(make(1), make(2))


def test_a_generator_that_advanced_differs():
    first, second = np.random.default_rng(1), np.random.default_rng(1)
    first.random()
    assert difference(first, second).startswith("a NumPy Generator whose state differs between runs")
    second.random()
    assert difference(first, second) is None


def test_system_random_never_repeats():
    assert "no seed repeats" in difference(random.SystemRandom(), random.SystemRandom())


def _thread():
    return threading.Thread(target=print)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (threading.Lock, "a lock"),
        (threading.RLock, "a lock"),
        (_thread, "a thread"),
        (lambda: (i for i in range(3)), "a generator object"),
        (lambda: io.StringIO("text"), "an open file"),
        (lambda: [1, threading.Lock()], "[1] a lock"),
    ],
)
def test_values_without_readable_state_cannot_be_compared(make, what):
    assert difference(make(), make()).startswith(f"cannot compare {what}")


def test_sockets_and_files_cannot_be_compared(tmp_path):
    (tmp_path / "f").write_text("x")
    with open(tmp_path / "f") as a, open(tmp_path / "f") as b:
        assert difference(a, b) == "cannot compare an open file"
    with socket.socket() as a, socket.socket() as b:
        assert difference(a, b) == "cannot compare a socket"


def test_a_difference_outweighs_what_cannot_be_compared():
    lock = threading.Lock()
    assert difference([threading.Lock(), 1], [lock, 2]) == "[1] values differ"


class Unreadable:
    __slots__ = ()

    def __reduce_ex__(self, protocol):
        raise RuntimeError("no state here")


def test_the_comparison_never_crashes():
    assert difference(Unreadable(), Unreadable()).startswith("cannot compare a ")
    deep_a, deep_b = [], []
    for outer in (deep_a, deep_b):
        for _ in range(50_000):
            inner = []
            outer.append(inner)
            outer = inner
    assert difference(deep_a, deep_b) == "cannot compare a value nested too deeply"


def test_big_tensors_compare_quickly():
    big = torch.rand(20_000_000)
    assert difference(big, big.clone()) is None
    changed = big.clone()
    changed[-1] = -1.0
    assert difference(big, changed) == "values differ"


def exactly(value):
    """A model of exact sameness: every NaN alike, every other float by its bits, dicts in order, types kept."""
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else ("float", struct.pack("<d", value))
    if isinstance(value, dict):
        return ("dict", tuple((exactly(k), exactly(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(exactly(item) for item in value))
    return (type(value).__name__, value)


SCALARS = st.one_of(
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from([0.0, -0.0, 1.0, math.inf, math.nan, -math.nan, nan_with_payload(3), 2.5]),
    st.text(max_size=2),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.integers(-2, 2), st.text(max_size=1)), inner, max_size=3),
    ),
    max_leaves=8,
)


@given(VALUES, VALUES)
@example(0.0, -0.0)
@example({"a": 1, "b": 2}, {"b": 2, "a": 1})
@example([math.nan], [nan_with_payload(3)])
@example(1, True)
def test_the_comparison_is_right_in_both_directions(first, second):
    assert (difference(first, second) is None) == (exactly(first) == exactly(second))
    assert difference(first, copy.deepcopy(first)) is None


FLOATS = hnp.arrays(
    st.sampled_from([np.float16, np.float32, np.float64]),
    st.integers(0, 4),
    elements=st.sampled_from([0.0, -0.0, 1.0, np.nan, -np.nan, np.inf]),
)


@given(FLOATS, FLOATS)
@example(np.array([0.0]), np.array([-0.0]))
def test_the_comparison_of_arrays_and_tensors_is_right_in_both_directions(first, second):
    same = first.dtype == second.dtype and [exactly(float(x)) for x in first] == [exactly(float(y)) for y in second]
    assert (difference(first, second) is None) == same
    assert (difference(torch.from_numpy(first), torch.from_numpy(second)) is None) == same


# -- the report --------------------------------------------------------------------------------------------------


def test_a_report_that_could_not_compare_everything_does_not_claim_reproducible():
    report = CheckReport(0, ("x", "f"), (), uncomparable=(Uncomparable("f", "an open file"),))
    assert report.reproducible and not report.proven
    assert str(report).startswith(
        "seedmagic: reproducible as far as it can tell: two runs from seed 0 gave the same x; cannot compare f:"
    )
    assert "  f: an open file" in str(report)
    proven = CheckReport(0, ("x",), ())
    assert proven.proven and str(proven) == "seedmagic: reproducible: two runs from seed 0 gave the same x"
    different = CheckReport(0, ("x", "f"), (Difference("x", "values differ", "1", "2"),), (), report.uncomparable)
    assert not different.reproducible and not different.proven
    assert "  cannot compare f: an open file" in str(different)


# -- run_twice without IPython -------------------------------------------------------------------------------------


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
    # What either run changed is compared, whether or not the code is known: "kept" changed in neither.
    assert report.compared == ("counter", "new", "Out")
    assert [d.name for d in report.differences] == ["new"]
    assert str(report).startswith("seedmagic: NOT reproducible: two runs from seed 3 differ in 1 of 3:")


def test_functions_classes_and_modules_are_not_compared():
    namespace = {"__builtins__": __builtins__}

    def run():
        exec("import math\ndef f(): pass\nclass C: pass\nx = 1", namespace)

    _, report = run_twice(run, namespace, reseed=lambda: None)
    assert report.proven
    assert report.compared == ("x",)


def test_run_twice_reads_the_names_from_the_source_it_is_given():
    source = "items.append(seeded.random())\nitems.append(random.Random().random())"
    namespace = {
        "__builtins__": __builtins__,
        "items": [],
        "untouched": [1],
        "seeded": random.Random(),
        "random": random,
    }
    code = compile(source, "<cell>", "exec")
    _, report = run_twice(lambda: exec(code, namespace), namespace, reseed=lambda: None, code=source)
    # Both runs start from a copy of the same generator: the first draw repeats, the second does not.
    assert [(d.name, d.why) for d in report.differences] == [("items", "[1] values differ")]
    assert report.compared == ("items", "seeded")
    assert len(namespace["items"]) == 2


# -- 1. both runs start from the same namespace --------------------------------------------------------------------


def test_check_runs_a_cell_that_deletes_a_name(ip, capsys):
    ip.user_ns["doomed"] = torch.zeros(1)
    report = check(ip, capsys, "del doomed")
    assert "NameError" not in report
    assert report.startswith("seedmagic: reproducible")
    assert "doomed" not in ip.user_ns


def test_check_gives_both_runs_the_value_the_cell_rebinds(ip, capsys):
    ip.user_ns["x"] = 1
    report = check(ip, capsys, "x = x + 1\nx")
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same x, Out")
    assert ip.user_ns["x"] == 2


def test_check_catches_an_unseeded_generator_changing_a_list_in_place(ip, capsys):
    ip.user_ns["draws"] = []
    report = check(ip, capsys, "draws.append(np.random.default_rng().random())")
    assert "NOT reproducible" in report
    assert "draws: [0] values differ" in report


def test_check_passes_a_seeded_change_in_place_made_once(ip, capsys):
    ip.user_ns["draws"] = []
    report = check(ip, capsys, "draws.append(random.random())")
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same draws")
    assert ip.user_ns["draws"] == [random.Random(0).random()]  # random.seed(0), then one draw: the second run's


def test_check_catches_adding_unseeded_noise_to_an_existing_array(ip, capsys):
    ip.user_ns["arr"] = np.zeros(3)
    assert "arr: values differ" in check(ip, capsys, "arr += np.random.default_rng().random(3)")
    ip.user_ns["arr"] = np.zeros(3)
    assert check(ip, capsys, "arr += np.random.rand(3)").startswith("seedmagic: reproducible")
    np.testing.assert_array_equal(ip.user_ns["arr"], np.random.RandomState(0).rand(3))


def train_once(model, optimizer, seed):
    """One training step as the cell below takes it, from torch's own seeding call."""
    torch.manual_seed(seed)
    loss = model(torch.randn(4, 2)).pow(2).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


TRAIN = "loss = model(torch.randn(4, 2)).pow(2).sum()\nopt.zero_grad()\nloss.backward()\nopt.step()"


def test_check_trains_an_existing_model_once_and_the_optimizer_still_holds_it(ip, capsys):
    model = torch.nn.Linear(2, 1)
    expected = copy.deepcopy(model)
    train_once(expected, torch.optim.SGD(expected.parameters(), lr=0.1), 0)
    ip.user_ns.update(model=model, opt=torch.optim.SGD(model.parameters(), lr=0.1))
    report = check(ip, capsys, TRAIN)
    # SGD without momentum keeps no state: the optimizer is unchanged, and only what changed is listed.
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same loss, model\n")
    assert ip.user_ns["model"] is model
    assert difference(model, expected) is None  # trained once, not twice
    assert ip.user_ns["opt"].param_groups[0]["params"][0] is model.weight


def test_check_catches_training_an_existing_model_with_unseeded_noise(ip, capsys):
    model = torch.nn.Linear(2, 1)
    ip.user_ns.update(model=model, opt=torch.optim.SGD(model.parameters(), lr=0.1))
    noise = "g = torch.Generator()\ng.seed()\nwith torch.no_grad():\n    model.weight += torch.randn(1, 2, generator=g)"
    report = check(ip, capsys, f"{TRAIN}\n{noise}")
    assert "NOT reproducible" in report
    assert "model.weight: values differ: tensor(" in report


def test_check_compares_a_model_that_kept_its_gradients(ip, capsys):
    model = torch.nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    ip.user_ns["model"] = model
    assert check(ip, capsys, "total = model.weight.sum().item()").startswith("seedmagic: reproducible: ")


def test_check_follows_functions_defined_in_the_notebook_to_their_globals(ip, capsys):
    run_ok(ip, "buffer = []\ndef step():\n    buffer.append(np.random.default_rng().random())")
    report = check(ip, capsys, "step()")
    assert "buffer: [0] values differ" in report


def test_check_follows_methods_of_notebook_classes(ip, capsys):
    run_ok(
        ip,
        "history = []\nclass Trainer:\n    def fit(self):\n        history.append(np.random.default_rng().random())\n"
        "trainer = Trainer()",
    )
    assert "history: [0] values differ" in check(ip, capsys, "trainer.fit()")


def test_check_of_a_cell_with_a_magic_copies_every_name(ip, capsys):
    ip.user_ns["draws"] = []
    report = check(ip, capsys, "%time draws.append(np.random.default_rng().random())")
    assert "draws: [0] values differ" in report


def test_check_leaves_what_one_plain_run_leaves_when_the_first_run_fails(ip):
    draws = []
    ip.user_ns["draws"] = draws
    error = run_failing(ip, "%%seeded 0 --check\ndraws.append(1)\nraise ValueError('bad cell')")
    assert isinstance(error, ValueError)
    assert ip.user_ns["draws"] is draws and draws == [1]  # what one plain run that raises leaves


def test_check_puts_back_a_tensor_that_is_not_a_leaf_and_sees_when_the_cell_changes_it(ip, capsys):
    scaled = torch.ones(2, requires_grad=True) * 2  # not a leaf: deepcopy would refuse it; nothing copies it here
    ip.user_ns["scaled"] = scaled
    assert check(ip, capsys, "total = scaled.sum().item()").startswith("seedmagic: reproducible: ")
    report = check(ip, capsys, "with torch.no_grad():\n    scaled.add_(torch.rand(2))")
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same scaled")
    torch.manual_seed(0)
    assert torch.equal(ip.user_ns["scaled"], torch.ones(2) * 2 + torch.rand(2))  # changed once, not twice
    assert ip.user_ns["scaled"] is scaled
    report = check(
        ip,
        capsys,
        "with torch.no_grad():\n    scaled.add_(torch.rand(2, generator=torch.Generator().manual_seed(run_number())))",
    )
    assert "scaled: values differ: tensor(" in report


def test_check_says_it_cannot_compare_what_the_cell_reads_and_has_no_state_to_read(ip, capsys, tmp_path):
    with open(tmp_path / "log.txt", "w") as log:
        ip.user_ns["log"] = log
        report = check(ip, capsys, "log.write('x')\nn = 1")
    del ip.user_ns["log"]
    assert report.startswith(
        "seedmagic: reproducible as far as it can tell: two runs from seed 0 gave the same n; cannot compare log:"
    )
    assert "log: an open file, so both runs used it: the second started from what the first left in it" in report


class Counter:
    """Counts its calls; holds a lock, which has no state to read."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count = 0

    def next(self):
        with self.lock:
            self.count += 1
            return self.count


def test_check_puts_back_an_object_holding_a_lock_and_names_the_lock(ip, capsys):
    counter = Counter()
    ip.user_ns["counter"] = counter
    report = check(ip, capsys, "k = counter.next()")
    assert report.startswith(
        "seedmagic: reproducible as far as it can tell: two runs from seed 0 gave the same k, counter; cannot compare "
        "counter.lock:"
    )
    assert counter.count == 1 and ip.user_ns["k"] == 1  # as after one plain run


def test_check_does_not_blame_the_cell_for_a_difference_a_value_without_state_may_cause(ip, capsys):
    ip.user_ns["numbers"] = iter(range(10))
    report = check(ip, capsys, "k = next(numbers)")
    assert report.startswith(
        "seedmagic: NOT reproducible as far as it can tell: two runs from seed 0 differ in 1 of 1, but may not have "
        "started from the same numbers:"
    )
    assert "  cannot compare numbers: an iterator (range_iterator), whose position cannot be read" in report


class Forgetful:
    """A value whose deep copy loses its state."""

    def __init__(self):
        self.items = [1, 2]

    def __deepcopy__(self, memo):
        return Forgetful.__new__(Forgetful)


def test_check_copies_nothing_the_cell_only_reads(ip, capsys):
    kept = Forgetful()
    ip.user_ns["kept"] = kept
    assert check(ip, capsys, "n = len(kept.items)") == "seedmagic: reproducible: two runs from seed 0 gave the same n\n"
    assert ip.user_ns["kept"] is kept


def test_objects_compare_attributes_in_any_order_and_dicts_keyed_by_id_by_their_values():
    first, second = Plain(1), Plain(1)
    first.other = second.other = 2.0
    del second.value
    second.value = 1
    assert list(vars(first)) != list(vars(second))
    assert difference(first, second) is None
    a, b = Plain([1.0]), Plain([1.0])
    assert difference({id(a): a}, {id(b): b}) is None
    c = Plain([2.0])
    assert difference({id(a): a}, {id(c): c}) == "[0] ['value'] [0] values differ"


# -- 2. values the cell makes, however odd ------------------------------------------------------------------------


def test_check_compares_a_module_class_the_cell_defines(ip, capsys):
    net = (
        "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layer = torch.nn.Linear(2, 2)\n        self.scale = SCALE\nnet = Net()"
    )
    assert check(ip, capsys, net.replace("SCALE", "random.random()")).startswith(
        "seedmagic: reproducible: two runs from seed 0 gave the same net"
    )
    report = check(ip, capsys, net.replace("SCALE", "np.random.default_rng().random()"))
    assert "net: ['scale'] values differ" in report


@pytest.mark.parametrize(
    "definition",
    [
        "import dataclasses\n@dataclasses.dataclass\nclass Point:\n    x: float\nvalue = Point(DRAW)",
        "class Box:\n    def __init__(self, x):\n        self.x = x\nvalue = Box(DRAW)",
        "class Box:\n    __slots__ = ('x',)\n    def __init__(self, x):\n        self.x = x\nvalue = Box(DRAW)",
        "import collections\nPair = collections.namedtuple('Pair', 'x y')\nvalue = Pair(DRAW, 1)",
        "import enum\nclass Colour(enum.Enum):\n    RED = 1\n    BLUE = 2\nvalue = [Colour.RED, DRAW]",
        "class Tree:\n    def __init__(self, x, parent=None):\n        self.x, self.parent, self.kids = x, parent, []\n"
        "value = Tree(DRAW)\nvalue.kids.append(Tree(1.0, value))",
    ],
)
def test_check_compares_instances_of_classes_the_cell_defines_by_their_state(ip, capsys, definition):
    seeded = check(ip, capsys, definition.replace("DRAW", "random.random()"))
    assert seeded.startswith("seedmagic: reproducible: two runs from seed 0 gave the same value")
    unseeded = check(ip, capsys, definition.replace("DRAW", "np.random.default_rng().random()"))
    assert "NOT reproducible" in unseeded and "value:" in unseeded


def test_check_tells_zero_from_negative_zero(ip, capsys):
    report = check(ip, capsys, "z = torch.tensor([0.0]) * (-1) ** run_number()")  # 0.0 in one run, -0.0 in the other
    assert "z: values differ" in report


def test_check_counts_nan_as_the_same(ip, capsys):
    cell = "a = torch.tensor([math.nan]) * torch.rand(1)\nb = np.float16('nan') * np.random.rand()\nc = math.nan"
    ip.user_ns["math"] = math
    assert check(ip, capsys, cell).startswith("seedmagic: reproducible: two runs from seed 0 gave the same a, b, c")


def test_check_of_sparse_nested_quantized_and_meta_tensors(ip, capsys):
    cell = (
        "coo = torch.rand(3, 3).relu().to_sparse()\ncsr = torch.rand(3, 3).to_sparse_csr()\n"
        "nt = torch.nested.nested_tensor([torch.rand(2), torch.rand(3)])\n"
        "q = torch.quantize_per_tensor(torch.rand(3), 0.1, 10, torch.quint8)\nm = torch.empty(3, device='meta')"
    )
    assert check(ip, capsys, cell).startswith(
        "seedmagic: reproducible: two runs from seed 0 gave the same coo, csr, nt, q, m"
    )
    unseeded = cell.replace("torch.rand(2)", "torch.rand(2, generator=torch.Generator().manual_seed(run_number()))")
    assert "nt: [0] values differ" in check(ip, capsys, unseeded)


# -- 3. generators compare by their state ------------------------------------------------------------------------


def test_check_names_an_unseeded_random_random(ip, capsys):
    report = check(ip, capsys, "r = random.Random()")
    assert "NOT reproducible" in report
    assert "r: a random.Random whose state differs between runs: it was not seeded from the cell's seed" in report


@pytest.mark.parametrize(
    ("cell", "what", "fix"),
    [
        ("g = np.random.default_rng()", "NumPy Generator", "seedmagic.rng()"),
        ("g = np.random.RandomState()", "NumPy RandomState", "np.random.RandomState(seedmagic.current_seed())"),
        ("g = np.random.PCG64()", "NumPy bit generator", "seedmagic.rng().bit_generator"),
        ("g = np.random.SeedSequence()", "NumPy SeedSequence", "np.random.SeedSequence(seedmagic.current_seed())"),
        ("g = torch.Generator()\ng.seed();", "torch.Generator", "seedmagic.torch_generator()"),
        ("g = random.Random()", "random.Random", "random.Random(seedmagic.current_seed())"),
    ],
)
def test_check_names_an_unseeded_generator_with_one_cause_and_one_fix(ip, capsys, cell, what, fix):
    headline, difference, cause = check(ip, capsys, cell).splitlines()
    assert headline == "seedmagic: NOT reproducible: two runs from seed 0 differ in 1 of 1:"
    assert difference.startswith(f"  g: a {what} whose state differs between runs: it was not seeded from the cell's")
    assert " at 0x" not in difference
    assert cause == f"  cause: g was not made from the cell's seed: make it with {fix}"
    # Each fix makes a generator that repeats.
    assert check(ip, capsys, f"g = {fix}").startswith("seedmagic: reproducible")


def test_check_passes_generators_made_from_the_cells_seed(ip, capsys):
    report = check(ip, capsys, "g = seedmagic.rng()\nt = seedmagic.torch_generator()\nr = random.Random(0)")
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same g, t, r")


# -- 4. cannot compare -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "what"),
    [
        ("made = threading.Lock()", "a lock"),
        ("made = threading.Thread(target=print)", "a thread"),
        ("made = (i for i in range(3))", "a generator object"),
        ("made = [1, io.StringIO('x')]", "[1] an open file"),
        ("made = socket.socket()\nmade.close()", "a socket"),
    ],
)
def test_check_says_what_it_cannot_compare(ip, capsys, cell, what):
    ip.user_ns.update(threading=threading, io=io, socket=socket)
    report = check(ip, capsys, cell + "\nx = 1")
    assert report.startswith(
        "seedmagic: reproducible as far as it can tell: two runs from seed 0 gave the same x; cannot compare made:"
    )
    assert f"  made: {what}" in report


def test_check_reports_a_difference_and_what_it_cannot_compare(ip, capsys):
    ip.user_ns["threading"] = threading
    report = check(ip, capsys, "lock = threading.Lock()\nnoise = np.random.default_rng().random()")
    assert "NOT reproducible" in report
    assert "noise: values differ" in report and "cannot compare lock: a lock" in report


# -- 5. what the first run leaves behind that is not the cell's doing -------------------------------------------


def test_check_ignores_the_warning_registry(ip, capsys):
    cell = "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\nwarnings.warn('once')\nx = 1"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        report = check(ip, capsys, cell)
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same x")


def test_check_ignores_the_names_ipython_binds_when_it_shows_every_expression(ip, capsys):
    ip.ast_node_interactivity = "all"
    try:
        report = check(ip, capsys, "r = random.random()\nr\nr + 1")
    finally:
        ip.ast_node_interactivity = "last_expr"
    assert "seedmagic: reproducible: two runs from seed 0 gave the same r, Out" in report
    # IPython still updates _ afterwards: the check left its names as IPython bound them.
    assert run_ok(ip, "'after'") == "after" and ip.user_ns["_"] == "after"


def test_check_names_what_it_compared_in_the_order_the_cell_binds_it(ip, capsys):
    ip.user_ns.update(zeta=0, alpha=0)  # already in the namespace, in the other order
    report = check(ip, capsys, "alpha = 1\nmiddle = 2\nzeta = 3")
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same alpha, middle, zeta")


# -- generators made without a seed: named as the likely cause ---------------------------------------------------------

UNSEEDED_CELLS = {  # the generator is not kept: only the census can name it
    "numpy": "x = np.random.default_rng().random()",
    "random": "x = random.Random().random()",
}
FIX = {
    "numpy": "NumPy Generator made without a seed at In [{}], line 2: make it with seedmagic.rng()",
    "random": (
        "random.Random made without a seed at In [{}], line 2: make it with random.Random(seedmagic.current_seed())"
    ),
}


@pytest.mark.parametrize("library", UNSEEDED_CELLS)
def test_check_names_a_generator_made_without_a_seed_as_the_likely_cause(ip, capsys, library):
    entropy, init = np.random.bit_generator.randbits, random.Random.__init__
    cell = f"%%seeded 0 --check\n{UNSEEDED_CELLS[library]}"
    run_ok(ip, cell)
    number = ip.execution_count - 1
    err = capsys.readouterr().err
    assert "NOT reproducible" in err
    assert err.splitlines()[-1] == f"  cause: a {FIX[library].format(number)}"
    # The census was on for the two runs only: every constructor is as it was.
    assert not seedmagic.engine.ENGINE.census.enabled
    assert (np.random.bit_generator.randbits, random.Random.__init__) == (entropy, init)


@pytest.mark.parametrize("reseeding", ["torch.seed()", "torch.random.seed()", "torch.manual_seed(time.time_ns())"])
def test_check_names_torch_seeded_differently_by_the_two_runs_as_the_likely_cause(ip, capsys, reseeding):
    """A cell that seeds torch from the OS or the clock: the two runs leave torch.initial_seed() different, and the
    report says so with both seeds, the second of which is what torch reads after the cell."""
    run_ok(ip, f"%%seeded 0 --check\nimport time\n{reseeding}\nx = torch.rand(2)")
    err = capsys.readouterr().err
    assert "NOT reproducible" in err and "x: values differ" in err
    found = re.search(
        r"  cause: the cell seeds torch from the OS or the clock, another seed in each run \(torch\.initial_seed\(\) "
        r"(\d+), then (\d+)\): give it a fixed seed, or let %%seeded seed it$",
        err,
    )
    assert found, err
    first, second = int(found[1]), int(found[2])
    assert first != second and second == torch.initial_seed()


def test_check_names_no_cause_where_the_generators_are_seeded_or_reached(ip, capsys):
    run_ok(ip, "%%seeded 0 --check\nr = np.random.default_rng(5)\nx = r.random()")
    run_ok(ip, "%%seeded 0 --check\ng = torch.Generator()\nx = torch.rand(2, generator=g)")  # torch's fixed seed
    run_ok(ip, "%%seeded 0 --check\ntorch.manual_seed(5)\nx = torch.rand(2)")  # the same seed in both runs
    out = capsys.readouterr()
    assert out.out.count("seedmagic: reproducible") == 3 and "cause" not in out.err
    run_ok(ip, "%seed 0 --reach -q")
    try:
        run_ok(ip, f"%%seeded 0 --check\n{UNSEEDED_CELLS['numpy']}")
    finally:
        run_ok(ip, "%seed --no-reach -q")
    out = capsys.readouterr()
    assert "seedmagic: reproducible" in out.out and "cause" not in out.err


def test_an_error_in_a_check_cell_shows_the_traceback_a_plain_cell_shows(ip):
    import re

    plain = run_failing(ip, "x = 1\n1/0")
    checked = run_failing(ip, "%%seeded 0 --check\nx = 1\n1/0")
    assert type(checked) is type(plain) and str(checked) == str(plain)
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(checked._render_traceback_()))
    assert "run_cell_magic" not in shown and "skipping hidden" not in shown
    assert "----> 3 1/0" in shown and "ZeroDivisionError: division by zero" in shown
    assert shown.count("Cell In[") == 1


def test_what_the_cell_prints_is_compared_as_verify_compares_a_stream(ip, capsys):
    report = check(ip, capsys, "import time\nprint('at', time.time_ns())")
    assert "seedmagic: NOT reproducible: two runs from seed 0 differ in 1 of 1:" in report.splitlines()
    assert re.search(r"  what it printed: line 1 differs: 'at \d+'  vs  'at \d+'", report), report
    assert report.count("\nat ") + report.startswith("at ") == 2  # both runs' prints show, as they happen
    # Addresses and timings are not results; what is drawn from the seed repeats.
    report = check(ip, capsys, "print(object())\nprint(np.random.rand())\n%timeit -n 2 -r 2 sum(range(10))")
    # (%timeit is a call of get_ipython(), which reaches the whole notebook: what it cannot compare is named too.)
    verdict = next(line for line in report.splitlines() if line.startswith("seedmagic: "))
    assert verdict.startswith("seedmagic: reproducible") and "gave the same what it printed" in verdict, report
    assert "NOT reproducible" not in report
    report = check(ip, capsys, "print(np.random.default_rng().random())")
    assert "  what it printed: line 1 differs: " in report
    assert report.splitlines()[-1].startswith("  cause: a NumPy Generator made without a seed at In [")


# -- the clock, and the order of sets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, clock",
    [
        ("import time\nt = time.time()", "time.time()"),
        ("import time\nt = time.time_ns()", "time.time()"),
        ("import time\nt = time.perf_counter()", "time.perf_counter()"),
        ("import time\nt = time.monotonic_ns()", "time.monotonic()"),
        ("import datetime\nt = datetime.datetime.now()", "time.time()"),
    ],
    ids=["time", "time_ns", "perf_counter", "monotonic_ns", "datetime"],
)
def test_a_value_read_from_the_clock_is_named_as_the_cause(ip, capsys, body, clock):
    report = checked(ip, capsys, body)
    assert report.startswith("seedmagic: NOT reproducible"), report
    cause = next(line for line in report.splitlines() if line.startswith("  cause:"))
    assert cause.startswith("  cause: t is a reading of the clock ("), cause
    assert clock in cause and cause.endswith("another in each run: keep times out of what should repeat")


def test_printed_time_is_named_as_the_clock(ip, capsys):
    report = checked(ip, capsys, "import time\nprint('now', time.time())")
    assert "  what it printed: line 1 differs" in report
    assert "  cause: what it printed shows a reading of the clock (time.time() or the date)" in report


def test_a_number_that_only_differs_is_not_blamed_on_the_clock(ip, capsys):
    ip.user_ns["os"] = __import__("os")
    report = checked(ip, capsys, "t = int.from_bytes(os.urandom(4), 'big')")
    assert report.startswith("seedmagic: NOT reproducible") and "a reading of the clock" not in report
    assert "no known cause" in report


def _hash_seed_fixed() -> bool:
    from seedmagic import determinism

    return determinism.hash_seed_flag().ok


@pytest.mark.skipif(_hash_seed_fixed(), reason="PYTHONHASHSEED is fixed in this process")
@pytest.mark.parametrize(
    "body, note",
    [
        ("d = {word: 1 for word in words}", "the cell goes through words, a set of strings, in its order"),
        ("line = ' '.join(words)", "the cell goes through words, a set of strings, in its order"),
        ("print(list(words))", "the cell goes through words, a set of strings, in its order"),
        ("print({'alpha', 'beta', 'gamma'})", "the cell makes a set of strings"),
        ("line = ' '.join(sorted(words))", None),
        ("found = 'alpha' in words", None),
        ("found = 'alpha' in {'alpha', 'beta', 'gamma'}", None),
        ("d = {n: 1 for n in numbers}", None),
    ],
)
def test_going_through_a_set_of_strings_in_its_order_gets_a_note(ip, capsys, body, note):
    ip.user_ns.update(words={"alpha", "beta", "gamma"}, numbers={1, 2, 3})
    report = checked(ip, capsys, body)
    assert "\nseedmagic: reproducible" in "\n" + report, report
    notes = [line for line in report.splitlines() if line.startswith("  note:")]
    if note is None:
        assert notes == [], report
    else:
        assert notes == [
            f"  note: {note}: that order differs between processes unless PYTHONHASHSEED is set before the kernel "
            "starts, which one process cannot check"
        ]


@pytest.mark.parametrize(
    "body",
    [
        "import sys, time\nfrom tqdm import tqdm\nfor i in tqdm(range(30), file=sys.stdout, mininterval=0):\n"
        "    time.sleep(0.001)",
        "%timeit -n 3 -r 2 sum(range(100))",
        "import pandas as pd\npd.DataFrame({'a': range(10)}).sample(3)",
    ],
    ids=["tqdm", "timeit", "pandas-sample"],
)
def test_progress_bars_timings_and_seeded_pandas_samples_repeat(ip, capsys, body):
    report = checked(ip, capsys, body)
    assert "\nseedmagic: reproducible" in "\n" + report, report
