"""Properties that hold for any seed and any sequence of draws (hypothesis), checked against the libraries' own calls.

The draws are written once, as source text, and evaluated both in the notebook (through a real InteractiveShell) and
here after the libraries' own seeding calls, so that both sides run exactly the same code.
"""

from __future__ import annotations

import json
import random

import numpy as np
import torch
from conftest import run_ok
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seedmagic
from seedmagic.arguments import SEED_LIMIT
from seedmagic.engine import ENGINE

LIBRARIES = ("random", "numpy", "torch")
NAMESPACE = {"random": random, "np": np, "torch": torch, "seedmagic": seedmagic}

# One expression per library, drawing from every kind of stream the library keeps (the Gaussian caches included).
DRAWS = {
    "random": "[random.random(), random.getrandbits(64), random.gauss(0, 1), random.randrange(10**9)]",
    "numpy": "[np.random.rand(3).tolist(), np.random.randint(0, 2**31, 3).tolist(), np.random.standard_normal()]",
    "torch": "[torch.rand(3).tolist(), torch.randint(0, 2**62, (3,)).tolist(), torch.randn(1).item()]",
}

# A draw program: (operation, size) pairs; each operation is a source expression with {n} for the size.
OPERATIONS = {
    "random.random": "[random.random() for _ in range({n})]",
    "random.gauss": "[random.gauss(0, 1) for _ in range({n})]",
    "random.getrandbits": "random.getrandbits(7 * {n})",
    "random.shuffle": "(lambda items: (random.shuffle(items), items)[1])(list(range({n})))",
    "numpy.rand": "np.random.rand({n}).tolist()",
    "numpy.randn": "np.random.randn({n}).tolist()",
    "numpy.standard_normal": "np.random.standard_normal()",
    "numpy.randint": "np.random.randint(0, 1000, {n}).tolist()",
    "numpy.permutation": "np.random.permutation({n}).tolist()",
    "torch.rand": "torch.rand({n}).tolist()",
    "torch.randn": "torch.randn({n}).tolist()",
    "torch.normal": "torch.normal(0.0, 1.0, ({n},), dtype=torch.float64).tolist()",
    "torch.randint": "torch.randint(0, 1000, ({n},)).tolist()",
    "torch.randperm": "torch.randperm({n}).tolist()",
    "torch.exponential_": "torch.empty({n}).exponential_().tolist()",
    "seedmagic.seed_all": "seedmagic.seed_all({n}).seed",
}
programs = st.lists(st.tuples(st.sampled_from(sorted(OPERATIONS)), st.integers(1, 40)), max_size=10)
seeds = st.integers(0, SEED_LIMIT - 1)


def examples(count: int) -> settings:
    """``count`` examples, no deadline, no example database left in the work tree; the ``ip`` fixture is shared by
    the examples of one test (each example sets what it compares)."""
    return settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def rng_state() -> tuple:
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return random.getstate(), (name, keys.tolist(), position, has_gauss, gauss), torch.get_rng_state().tolist()


def own_draws(seed: int, libraries=LIBRARIES) -> dict:
    """What each library's own seeding call followed by the draws gives."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return {name: eval(DRAWS[name], NAMESPACE) for name in libraries}


def run_program(program) -> list:
    return [eval(OPERATIONS[operation].format(n=size), NAMESPACE) for operation, size in program]


@examples(40)
@given(seed=seeds, spelling=st.sampled_from(["{:d}", "{:#x}", "{:_d}"]))
@example(seed=0, spelling="{:d}")
@example(seed=SEED_LIMIT - 1, spelling="{:d}")
def test_seed_gives_the_draws_of_the_libraries_own_calls(ip, seed, spelling):
    ip.user_ns.update(NAMESPACE)
    run_ok(ip, f"%seed {spelling.format(seed)} -q")
    got = {name: run_ok(ip, DRAWS[name]) for name in LIBRARIES}
    assert ENGINE.seed == seed
    assert got == own_draws(seed)


@examples(25)
@given(seed=seeds, only=st.sets(st.sampled_from(LIBRARIES), min_size=1), warm_up=programs)
def test_seed_only_seeds_the_selected_libraries_and_leaves_the_others_alone(ip, seed, only, warm_up):
    ip.user_ns.update(NAMESPACE)
    run_program([(operation, size) for operation, size in warm_up if operation != "seedmagic.seed_all"])
    before = dict(zip(LIBRARIES, rng_state(), strict=True))
    run_ok(ip, f"%seed {seed} --only {','.join(sorted(only))} -q")
    after = dict(zip(LIBRARIES, rng_state(), strict=True))
    got = {name: run_ok(ip, DRAWS[name]) for name in sorted(only)}
    assert got == own_draws(seed, sorted(only))
    for name in set(LIBRARIES) - only:
        assert after[name] == before[name], f"{name} was not selected but its generator moved"


@examples(60)
@given(seed=st.none() | seeds, before=programs, program=programs)
def test_restore_puts_back_any_sequence_of_draws(seed, before, program):
    if seed is not None:
        seedmagic.seed_all(seed)
    run_program(before)
    session = seedmagic.current_seed()
    state = rng_state()
    snap = seedmagic.snapshot()
    first = run_program(program)
    after_first = rng_state()

    seedmagic.restore(snap)
    assert rng_state() == state
    assert seedmagic.current_seed() == session
    assert run_program(program) == first
    assert rng_state() == after_first


@examples(30)
@given(seed=seeds, cell_seed=seeds, program=programs)
def test_isolated_cell_leaves_every_generator_where_it_was(ip, seed, cell_seed, program):
    ip.user_ns.update(NAMESPACE)
    run_ok(ip, f"%seed {seed} -q")
    run_ok(ip, "random.random(), np.random.rand(), torch.rand(1)")
    state = rng_state()
    body = "\n".join(
        f"%seed {size} -q" if operation == "seedmagic.seed_all" else OPERATIONS[operation].format(n=size)
        for operation, size in program
    )
    run_ok(ip, f"%%seeded {cell_seed} --isolate\n{body}\n")
    assert rng_state() == state
    assert seedmagic.current_seed() == ENGINE.seed == seed


keys = st.integers() | st.text()


@examples(200)
@given(base=seeds, key=keys)
def test_derive_seed_is_a_seed_and_the_same_for_the_same_inputs(base, key):
    derived = seedmagic.derive_seed(base, key)
    assert type(derived) is int
    assert 0 <= derived < SEED_LIMIT
    copy = type(key)(json.loads(json.dumps(key)))  # an equal key that is another object
    assert seedmagic.derive_seed(base, copy) == derived
    seedmagic.seed_all(derived)  # every library accepts it
    assert seedmagic.current_seed() == derived


@examples(20)
@given(base=st.integers(max_value=-1) | st.integers(min_value=SEED_LIMIT), key=keys)
def test_derive_seed_refuses_a_base_that_is_not_a_seed(base, key):
    try:
        seedmagic.derive_seed(base, key)
    except ValueError as error:
        assert "seed must be between" in str(error)
    else:
        raise AssertionError(f"derive_seed accepted the base {base}")


def test_derive_seed_is_the_same_in_processes_with_different_hash_seeds(fresh_python):
    inputs = [
        (0, 0),
        (0, ""),
        (1, "a"),
        (2023, "dataloader-worker:12345:0"),
        (SEED_LIMIT - 1, -1),
        (7, 2**100),
        (7, "ünïcødé ✓"),
        (42, "x" * 1000),
    ]
    body = f"""
        import seedmagic
        emit({{"hash": hash("seedmagic"), "seeds": [seedmagic.derive_seed(b, k) for b, k in {inputs!r}]}})
        """
    here = [seedmagic.derive_seed(base, key) for base, key in inputs]
    one = fresh_python(body, env={"PYTHONHASHSEED": "1"})
    two = fresh_python(body, env={"PYTHONHASHSEED": "2"})
    assert one["hash"] != two["hash"], "PYTHONHASHSEED did not reach the new interpreters"
    assert one["seeds"] == two["seeds"] == here
