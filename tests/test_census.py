"""The census of generators made without a seed, and ``%seed N --reach``, in a real shell and in real kernels.

A generator the census lists must be found at the cell and line that made it; one made with a seed must not be
listed. Under ``--reach`` a generator made without a seed must equal the one the library's own call makes with the
seed seedmagic says it derived, repeat in a fresh kernel, and ``--no-reach`` and ``%unload_ext`` must put back
exactly what was changed.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import sys

import numpy as np
import pytest
import torch
from conftest import run_failing, run_ok
from IPython.core.interactiveshell import InteractiveShell
from test_kernel import run_kernel

import seedmagic
from seedmagic.engine import ENGINE
from seedmagic.sources import TORCH_DEFAULT_SEED

os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

MARK = "# <- made here"

# Each makes one generator without a seed, on the line marked (the lines before it move it down the cell).
UNSEEDED = {
    "default_rng()": ("numpy", f"g = np.random.default_rng() {MARK}"),
    "default_rng(None)": ("numpy", f"x = 1\ng = np.random.default_rng(None) {MARK}"),
    "Generator(PCG64())": ("numpy", f"g = np.random.Generator(np.random.PCG64()) {MARK}"),
    "RandomState()": ("numpy", f"x = 1\ny = 2\ng = np.random.RandomState() {MARK}"),
    "RandomState(None)": ("numpy", f"g = np.random.RandomState(seed=None) {MARK}"),
    "PCG64()": ("numpy", f"g = np.random.PCG64() {MARK}"),
    "PCG64DXSM()": ("numpy", f"g = np.random.PCG64DXSM() {MARK}"),
    "MT19937()": ("numpy", f"g = np.random.MT19937() {MARK}"),
    "Philox()": ("numpy", f"g = np.random.Philox() {MARK}"),
    "SFC64()": ("numpy", f"g = np.random.SFC64() {MARK}"),
    "SeedSequence()": ("numpy", f"g = np.random.default_rng(np.random.SeedSequence()) {MARK}"),
    "default_rng imported by name": ("numpy", f"from numpy.random import default_rng\ng = default_rng() {MARK}"),
    "in a function": ("numpy", f"def make():\n    return np.random.default_rng() {MARK}\ng = make()"),
    "in a comprehension": ("numpy", f"gs = [np.random.default_rng() for _ in range(3)] {MARK}\ng = gs[0]"),
    "random.Random()": ("random", f"g = random.Random() {MARK}"),
    "random.Random(None)": ("random", f"x = 1\ng = random.Random(None) {MARK}"),
    "a random.Random subclass": ("random", f"class Dice(random.Random):\n    pass\ng = Dice() {MARK}"),
    "torch.Generator()": ("torch", f"g = torch.Generator() {MARK}"),
    "torch.Generator('cpu')": ("torch", f"x = 1\ng = torch.Generator(device='cpu') {MARK}"),
    "torch.Generator drawn from": ("torch", f"g = torch.Generator() {MARK}\nt = torch.rand(2, generator=g)"),
}

# Each makes generators with a seed: none of them may be listed.
SEEDED = {
    "default_rng(0)": "g = np.random.default_rng(0)",
    "default_rng(SeedSequence(1))": "g = np.random.default_rng(np.random.SeedSequence(1))",
    "default_rng(a Generator)": "g = np.random.default_rng(np.random.default_rng(2))",
    "Generator(PCG64(1))": "g = np.random.Generator(np.random.PCG64(1))",
    "RandomState(3)": "g = np.random.RandomState(3)",
    "RandomState(seed=3)": "g = np.random.RandomState(seed=3)",
    "RandomState(MT19937(3))": "g = np.random.RandomState(np.random.MT19937(3))",
    "PCG64(5)": "g = np.random.PCG64(5)",
    "MT19937(5)": "g = np.random.MT19937(5)",
    "Philox(5)": "g = np.random.Philox(5)",
    "Philox(key=K)": "g = np.random.Philox(key=5)",
    "Philox(None, None, K)": "g = np.random.Philox(None, None, 5)",
    "SFC64(5)": "g = np.random.SFC64(5)",
    "spawn": "g = np.random.default_rng(0).spawn(3)",
    "np.random.seed": "np.random.seed(1); g = np.random.rand()",
    "deepcopy": "import copy\ng = copy.deepcopy(np.random.default_rng(0))",
    "pickle": "import pickle\ng = pickle.loads(pickle.dumps(np.random.RandomState(0)))",
    "seedmagic.rng": "g = seedmagic.rng(4)",
    "random.Random(1)": "g = random.Random(1)",
    "random.SystemRandom()": "g = random.SystemRandom()",
    "torch.Generator().manual_seed(0)": "g = torch.Generator().manual_seed(0)",
    "seedmagic.torch_generator": "g = seedmagic.torch_generator(4)",
}

PRELUDE = "import random\nimport numpy as np\nimport torch\nimport seedmagic"


def marked_line(source: str) -> int:
    return next(number for number, line in enumerate(source.splitlines(), 1) if MARK in line)


def census_rows():
    return [(row.library, row.cell, row.line) for row in seedmagic.status().unseeded]


@pytest.fixture(autouse=True)
def census_on(request):
    """The census is off unless the profile asks for it (c.SeedMagics.census = True): on for these tests, as then;
    %load_ext in a test reads the same option."""
    shell = InteractiveShell.instance()
    shell.config.SeedMagics.census = True
    if "ip" in request.fixturenames:
        request.getfixturevalue("ip")
        ENGINE.census.set_enabled(True)
    yield
    shell.config.SeedMagics.census = False
    ENGINE.census.set_enabled(False)


@pytest.mark.parametrize("name", list(UNSEEDED))
def test_a_generator_made_without_a_seed_is_listed_with_its_cell_and_line(ip, name):
    library, source = UNSEEDED[name]
    run_ok(ip, PRELUDE)
    result = ip.run_cell(source, store_history=True)
    result.raise_error()
    rows = census_rows()
    assert rows == [(library, result.execution_count, marked_line(source))]
    site = seedmagic.status().unseeded[0]
    assert site.where == f"In [{result.execution_count}], line {marked_line(source)}"
    assert site.reached == 0 and site.last_seed is None
    assert f"In [{result.execution_count}], line {marked_line(source)}" in str(seedmagic.status())
    if library == "torch":
        assert "the same stream for every unseeded generator" in " ".join(str(seedmagic.status()).split())
        assert ip.user_ns["g"].initial_seed() == TORCH_DEFAULT_SEED


@pytest.mark.parametrize("name", list(SEEDED))
def test_a_generator_made_with_a_seed_is_not_listed(ip, name):
    run_ok(ip, PRELUDE)
    run_ok(ip, SEEDED[name])
    assert census_rows() == []
    assert "made without a seed" not in str(seedmagic.status())


def test_a_library_function_is_named_as_the_way_and_the_cell_as_the_place(ip):
    run_ok(ip, "from scipy.stats import qmc")
    result = ip.run_cell("x = 1\npoints = qmc.LatinHypercube(2).random(4)", store_history=True)
    result.raise_error()
    # (Importing SciPy may make generators of its own: those are listed at the import's line.)
    [site] = [site for site in seedmagic.status().unseeded if site.cell == result.execution_count]
    assert (site.library, site.line) == ("numpy", 2)
    assert site.via.startswith("scipy/stats/") and site.via.endswith(tuple("0123456789"))


def test_a_generator_made_inside_a_library_is_charged_to_it_in_one_line_not_to_the_users_row(ip, capsys):
    run_ok(ip, "from scipy.stats import qmc\nimport numpy as np")
    result = ip.run_cell("x = np.random.default_rng()\npoints = qmc.LatinHypercube(2).random(4)", store_history=True)
    result.raise_error()
    text = str(seedmagic.status())
    assert all(len(line) <= 80 for line in text.splitlines()), text
    table = text.split("made without a seed  at", 1)[1].split("made without a seed inside libraries")[0]
    assert f"In [{result.execution_count}], line 1" in table and "scipy" not in table  # the user's own row only
    inside = " ".join(text.split("made without a seed inside libraries, called from your code:", 1)[1].split())
    assert re.search(rf"scipy/stats/_qmc\.py:\d+ x1 \(In \[{result.execution_count}\], line 2\)", inside), inside


def test_check_names_a_generator_a_library_made_for_the_cell_as_made_inside_it(ip, capsys):
    run_ok(ip, "from scipy.stats import qmc")
    run_ok(ip, "%%seeded 0 --check\npoints = qmc.LatinHypercube(2).random(4)")
    number = ip.execution_count - 1
    cause = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(
        rf"  cause: a NumPy Generator made without a seed inside scipy/stats/_qmc\.py:\d+, called at In \[{number}\], "
        r"line 2: pass it one \(seedmagic\.rng\(\)\)",
        cause,
    ), cause


def test_a_generator_the_standard_library_makes_for_its_own_use_is_never_the_cause():
    from seedmagic.census import Unseeded
    from seedmagic.check_report import NO_KNOWN_CAUSE, CheckReport, Difference

    names = Unseeded("random", "<cell>", 3, 4, "tempfile.py:146", 1, 0, None)
    differing = Difference("x", "values differ", "0.1", "0.2")
    assert CheckReport(0, ("x",), (differing,), made_without_seed=(names,)).cause == f"{NO_KNOWN_CAUSE}"
    mine = Unseeded("numpy", "<cell>", 2, 4, "", 1, 0, None)
    report = CheckReport(0, ("x",), (differing,), made_without_seed=(names, mine))
    assert (
        report.cause == "cause: a NumPy Generator made without a seed at In [4], line 2: make it with seedmagic.rng()"
    )


def test_a_loop_is_one_row_with_its_count(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "for i in range(1000):\n    np.random.default_rng()")
    [site] = seedmagic.status().unseeded
    assert (site.line, site.count) == (2, 1000)


# -- --reach ---------------------------------------------------------------------------------------------------------


def reached_seed(ip, source: str) -> tuple[int, int]:
    """Run ``source`` as a cell; the seed the census says reach gave its one generator, and the cell's number."""
    result = ip.run_cell(source, store_history=True)
    result.raise_error()
    [site] = [s for s in seedmagic.status().unseeded if s.cell == result.execution_count]
    assert site.reached == site.count == 1
    return site.last_seed, result.execution_count


def test_under_reach_each_constructor_equals_the_library_call_with_the_seed_it_says(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 7 --reach")
    seed, _ = reached_seed(ip, "x = np.random.default_rng().random(4)")
    assert ip.user_ns["x"].tolist() == np.random.default_rng(seed).random(4).tolist()
    seed, _ = reached_seed(ip, "x = np.random.RandomState().random_sample(4)")
    assert ip.user_ns["x"].tolist() == np.random.RandomState(np.random.MT19937(seed)).random_sample(4).tolist()
    seed, _ = reached_seed(ip, "x = np.random.Philox().random_raw(4)")
    assert ip.user_ns["x"].tolist() == np.random.Philox(seed).random_raw(4).tolist()
    seed, _ = reached_seed(ip, "x = [random.Random().random() for _ in range(1)]")
    assert ip.user_ns["x"] == [random.Random(seed).random()]
    seed, _ = reached_seed(ip, "x = torch.rand(3, generator=torch.Generator())")
    assert torch.equal(ip.user_ns["x"], torch.rand(3, generator=torch.Generator().manual_seed(seed)))
    assert seed != TORCH_DEFAULT_SEED
    # The seed is derived from the seed in force and the generator's number in the cell.
    run_ok(ip, "%seed 7 --reach")
    a, b = run_ok(ip, "a = np.random.default_rng().random()\nb = np.random.default_rng().random()\na, b")
    assert a != b


def test_reach_seeds_follow_the_documented_derivation(ip):
    """The n-th generator of a library in a cell gets (derive_seed(seed, "reach:<library>:<cell key>") + n) % 2**32:
    the README's formula, which a user can recompute; each library counts from 0."""
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 11 --reach")
    cell = (
        "xs = [np.random.default_rng().random() for _ in range(3)]\n"
        "r = random.Random().random()\n"
        "t = torch.rand(1, generator=torch.Generator()).item()"
    )
    run_ok(ip, cell)

    def base(library: str) -> int:
        return seedmagic.derive_seed(11, f"reach:{library}:source:{cell}")

    assert ip.user_ns["xs"] == [np.random.default_rng((base("numpy") + n) % 2**32).random() for n in range(3)]
    assert ip.user_ns["r"] == random.Random(base("random")).random()
    expected = torch.rand(1, generator=torch.Generator().manual_seed(base("torch"))).item()
    assert ip.user_ns["t"] == expected
    # Seeding inside the cell counts from 0 again, from the new seed.
    source = "a = np.random.default_rng().random()\n%seed 12 -q\nb = np.random.default_rng().random()"
    run_ok(ip, source)
    for name, seed in (("a", 11), ("b", 12)):
        expected = np.random.default_rng(seedmagic.derive_seed(seed, f"reach:numpy:source:{source}")).random()
        assert ip.user_ns[name] == expected


def test_under_reach_a_cell_repeats_and_two_cells_differ(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0 --reach")
    cell = "np.random.default_rng().random()"
    first, again = run_ok(ip, cell), run_ok(ip, cell)
    other = run_ok(ip, "np.random.default_rng().random() + 0")
    assert first == again != other - 0
    run_ok(ip, "%seed 1")  # another seed in force: other numbers
    assert run_ok(ip, cell) != first


def patchable(bit_generator) -> tuple:
    """What the census and reach may change, and what they must never change (the last three)."""
    return (
        bit_generator.randbits,
        np.random.RandomState,
        random.Random.__dict__["__init__"],
        torch.Generator,
        secrets.randbits,
        os.urandom,
        random.SystemRandom.__dict__.copy(),
    )


def test_no_reach_and_unload_put_back_exactly_what_was_changed(ip):
    import numpy.random.bit_generator as bit_generator

    ip.run_line_magic("unload_ext", "seedmagic")
    before = patchable(bit_generator)
    ip.run_line_magic("load_ext", "seedmagic")
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0 --reach")
    assert torch.Generator is not before[3] and bit_generator.randbits is not before[0]
    assert isinstance(torch.default_generator, torch.Generator) and isinstance(
        np.random.mtrand._rand, np.random.RandomState
    )
    # Never the OS's entropy: SystemRandom, secrets and os.urandom stay as they are and stay unpredictable.
    assert run_ok(ip, "random.SystemRandom().random()") != run_ok(ip, "random.SystemRandom().random()")
    assert (secrets.randbits, os.urandom, random.SystemRandom.__dict__) == (before[4], before[5], before[6])
    run_ok(ip, "%seed --no-reach")
    cell = "np.random.default_rng().random()"
    assert run_ok(ip, cell) != run_ok(ip, cell)
    assert torch.Generator().initial_seed() == TORCH_DEFAULT_SEED
    run_ok(ip, "%seed 0 --reach")
    ip.run_line_magic("unload_ext", "seedmagic")
    after = patchable(bit_generator)
    assert all(a is b for a, b in zip(before[:6], after[:6], strict=True)) and before[6] == after[6]
    assert seedmagic.current_seed() == 0  # unloading leaves the session seed, not the patches
    assert np.random.default_rng().random() != np.random.default_rng().random()
    ip.run_line_magic("load_ext", "seedmagic")


SUBCLASSES = """
class MyState(np.random.RandomState):
    def first(self):
        return super().random_sample()

class MyPhilox(np.random.Philox):
    def first(self):
        return int(self.random_raw())

class MyGenerator(torch.Generator):
    def first(self):
        return torch.rand(1, generator=self).item()

made = [MyState(3), MyPhilox(3), MyGenerator().manual_seed(3)]
firsts = [(type(x).__name__, x.first()) for x in made]
"""


@pytest.mark.parametrize("switch", ["--reach", "-q"])
def test_a_class_derived_from_a_patched_constructor_is_its_own(ip, switch):
    """A user's or a library's subclass of a constructor the census or reach patched (np.random.RandomState,
    np.random.Philox, torch.Generator) makes instances of itself, with its own methods and super(), derived from the
    library's own class; and it stays whole when the patches are put back."""
    run_ok(ip, PRELUDE)
    run_ok(ip, f"%seed 0 {switch}")
    assert torch.Generator is not torch._C.Generator, "the census (on in these tests) patches the constructors"
    expected = [
        ("MyState", np.random.RandomState(3).random_sample()),
        ("MyPhilox", int(np.random.Philox(3).random_raw())),
        ("MyGenerator", torch.rand(1, generator=torch.Generator().manual_seed(3)).item()),
    ]
    try:
        run_ok(ip, SUBCLASSES)
        assert ip.user_ns["firsts"] == expected
        assert ip.user_ns["MyState"].__mro__[1] is np.random.mtrand.RandomState
        assert ip.user_ns["MyPhilox"].__mro__[1] is sys.modules["numpy.random._philox"].Philox
        assert ip.user_ns["MyGenerator"].__mro__[1] is torch._C.Generator
        run_ok(ip, "%seed --no-reach")
        ENGINE.census.set_enabled(False)
        assert torch.Generator is torch._C.Generator, "the constructors are put back"
        run_ok(
            ip,
            "firsts = [(type(x).__name__, x.first()) for x in [MyState(3), MyPhilox(3), MyGenerator().manual_seed(3)]]",
        )
        assert ip.user_ns["firsts"] == expected
    finally:
        for name in ("MyState", "MyPhilox", "MyGenerator", "made", "firsts"):
            ip.user_ns.pop(name, None)


def test_reach_needs_a_seed_and_an_isolated_cell_puts_it_back(ip):
    error = run_failing(ip, "%seed --reach")
    assert "reach needs a session seed" in str(error)
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0")
    run_ok(ip, "%%seeded 1 --isolate\n%seed 2 --reach\nx = np.random.default_rng().random()")
    assert not seedmagic.status().reach
    assert np.random.default_rng().random() != np.random.default_rng().random()


def test_check_passes_under_reach_and_names_the_cause_without(ip, capsys):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0")
    run_ok(ip, "%%seeded 0 --check\nx = np.random.default_rng().random(3)")
    assert "NOT reproducible" in capsys.readouterr().err
    run_ok(ip, "%seed 0 --reach")
    run_ok(ip, "%%seeded 0 --check\nx = np.random.default_rng().random(3)")
    assert "seedmagic: reproducible: two runs from seed 0" in capsys.readouterr().out


def test_a_name_bound_before_the_patch_is_reported_as_not_reached(ip, capsys):
    run_ok(ip, PRELUDE)
    ip.run_line_magic("unload_ext", "seedmagic")
    module = type(sys)("user_code")
    module.Generator = torch.Generator  # `from torch import Generator` before seedmagic was loaded
    sys.modules["user_code"] = module
    try:
        ip.run_line_magic("load_ext", "seedmagic")
        run_ok(ip, "%seed 0 --reach")
        assert "NOT reached (bound before): user_code.Generator" in capsys.readouterr().out
        assert "user_code.Generator" in " ".join(str(seedmagic.status()).split())
        assert module.Generator().initial_seed() == TORCH_DEFAULT_SEED
    finally:
        del sys.modules["user_code"]


def test_per_rank_processes_reach_different_seeds(ip, monkeypatch):
    run_ok(ip, PRELUDE)
    draws = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        run_ok(ip, "%seed 0 --per-rank --reach")
        draws.append(run_ok(ip, "np.random.default_rng().random()"))
    monkeypatch.setenv("RANK", "0")
    run_ok(ip, "%seed 0 --per-rank --reach")
    assert run_ok(ip, "np.random.default_rng().random()") == draws[0] != draws[1]


DATALOADER = """
from torch.utils.data import DataLoader, Dataset

class Noisy(Dataset):
    def __len__(self):
        return 8
    def __getitem__(self, index):
        return float(np.random.default_rng().random())

def batches(**options):
    loader = DataLoader(Noisy(), batch_size=2, num_workers=2, **options)
    return [batch.tolist() for batch in loader]
"""


def test_dataloader_workers_each_derive_their_own_seeds(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, DATALOADER)
    for options in ("", "worker_init_fn=seedmagic.worker_init_fn, generator=seedmagic.torch_generator()"):
        runs = []
        for _ in range(2):
            run_ok(ip, "%seed 0 --reach")
            runs.append(run_ok(ip, f"batches({options})"))
        values = [value for batch in runs[0] for value in batch]
        assert runs[0] == runs[1], options
        assert len(set(values)) == len(values), options  # no two workers (nor items) drew the same


# -- fresh kernels -----------------------------------------------------------------------------------------------------


def _kernel_draws(reach: bool) -> list:
    """Each unseeded snippet, then SciPy functions that default to default_rng(), in a fresh kernel: what each drew."""
    cells = ["%load_ext seedmagic", "%seed 0" + (" --reach" if reach else ""), PRELUDE]
    for _, source in UNSEEDED.values():
        cells.append(source + "\nprint(json.dumps(draw(g)))")
    cells.append(SCIPY)
    return cells


DRAW = """
import json
def draw(g):
    if isinstance(g, torch.Generator):
        return torch.rand(3, generator=g).tolist()
    if isinstance(g, random.Random):
        return [g.random() for _ in range(3)]
    if isinstance(g, np.random.BitGenerator):
        return g.random_raw(3).tolist()
    if isinstance(g, np.random.RandomState):
        return g.random_sample(3).tolist()
    return g.random(3).tolist()
"""

SCIPY = """
from scipy import stats
from scipy.stats import qmc
print(json.dumps({
    "Sobol": qmc.Sobol(2).random(4).tolist(),
    "LatinHypercube": qmc.LatinHypercube(2).random(4).tolist(),
    "Halton": qmc.Halton(2).random(4).tolist(),
    "Normal().sample": stats.Normal().sample(3).tolist(),
}))
"""


@pytest.fixture(scope="module")
def kernel_runs():
    runs = {}
    for reach in (True, False):
        runs[reach] = []
        for _ in range(2):
            ran = run_kernel(*_kernel_draws(reach)[:3], DRAW, *_kernel_draws(reach)[3:])
            runs[reach].append([json.loads(cell.stdout) for cell in ran[4:]])
    return runs


def test_under_reach_each_unseeded_snippet_repeats_in_a_fresh_kernel(kernel_runs):
    first, second = kernel_runs[True]
    names = list(UNSEEDED)
    for name, a, b in zip(names, first, second, strict=False):
        assert a == b, name
    plain_first, plain_second = kernel_runs[False]
    for name, a, b in zip(names, plain_first, plain_second, strict=False):
        if UNSEEDED[name][0] == "torch":
            assert a == b, name  # the fixed seed: the same stream, with or without reach
            assert a != first[names.index(name)], name  # reach gives it a seed of its own
        else:
            assert a != b, name  # without reach, a stream from OS entropy


def test_scipy_functions_that_default_to_default_rng_repeat_under_reach(kernel_runs):
    reached = [run[-1] for run in kernel_runs[True]]
    plain = [run[-1] for run in kernel_runs[False]]
    assert len(reached[0]) == 4
    for name in reached[0]:
        assert reached[0][name] == reached[1][name], name
        assert plain[0][name] != plain[1][name], name  # %seed alone does not reach them


# -- one key per cell under --reach ----------------------------------------------------------------------------------

THREE_DRAWS = (
    "(np.random.default_rng().random(), random.Random().random(), torch.rand(1, generator=torch.Generator()).item())"
)


def own_calls(seed: int, key: str) -> tuple:
    """What each library's own call gives for the first generator of a cell keyed ``key`` under ``seed``."""
    return (
        np.random.default_rng(seedmagic.derive_seed(seed, f"reach:numpy:{key}")).random(),
        random.Random(seedmagic.derive_seed(seed, f"reach:random:{key}")).random(),
        torch.rand(
            1, generator=torch.Generator().manual_seed(seedmagic.derive_seed(seed, f"reach:torch:{key}"))
        ).item(),
    )


def test_under_reach_each_seeded_cell_gets_the_streams_of_its_own_key(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0 --reach -q")
    first, second = f"%%seeded 0\n{THREE_DRAWS}", f"%%seeded 0\nx = 1\n{THREE_DRAWS}"
    a, b = run_ok(ip, first), run_ok(ip, second)
    assert all(x != y for x, y in zip(a, b, strict=True)), "two cells share no stream"
    assert a == own_calls(0, f"source:{first}") and b == own_calls(0, f"source:{second}")
    assert run_ok(ip, first) == a, "a cell repeats"
    # A plain cell with the same body, under the session seed: its own streams too.
    assert run_ok(ip, THREE_DRAWS) == own_calls(0, f"source:{THREE_DRAWS}") != a
    # Two cells with the same source and different ids (JupyterLab): keyed by their ids.
    ids = []
    for cell_id in ("cell-a", "cell-b"):
        result = ip.run_cell(first, store_history=True, cell_id=cell_id)
        result.raise_error()
        ids.append(result.result)
    assert ids == [own_calls(0, "cell-id:cell-a"), own_calls(0, "cell-id:cell-b")]


def test_a_cell_that_switches_reach_on_is_keyed_by_itself(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0 --reach -q")
    run_ok(ip, f"%%seeded 0\n{THREE_DRAWS}")
    run_ok(ip, "%seed --no-reach -q")
    cell = f"%seed 0 --reach -q\n{THREE_DRAWS}"
    assert run_ok(ip, cell) == own_calls(0, f"source:{cell}")


def test_a_seeded_block_inside_a_cell_counts_anew_under_the_cell_key_and_leaves_it_to_the_cell(ip):
    run_ok(ip, PRELUDE)
    run_ok(ip, "%seed 0 --reach -q")
    cell = (
        "with seedmagic.seeded(0):\n"
        "    inner = np.random.default_rng().random()\n"
        "outer = np.random.default_rng().random()"
    )
    run_ok(ip, cell)
    base = seedmagic.derive_seed(0, f"reach:numpy:source:{cell}")
    assert ip.user_ns["inner"] == np.random.default_rng(base).random()
    assert ip.user_ns["outer"] == np.random.default_rng((base + 1) % 2**32).random()


# -- 80 columns, also for a generator made in a file with a long path ------------------------------------------------

MAKER = """import random

import numpy as np
import torch


def make():
    return np.random.default_rng(), random.Random(), torch.Generator()
"""


def test_the_census_table_fits_in_80_columns_with_a_long_path_and_says_where(ip, tmp_path, monkeypatch, capsys):
    directory = tmp_path.joinpath(*["a_rather_long_directory_name_for_a_project"] * 5)
    directory.mkdir(parents=True)
    path = directory / "makes_generators_unseeded.py"
    path.write_text(MAKER)
    monkeypatch.syspath_prepend(str(directory))
    run_ok(ip, PRELUDE)
    try:
        run_ok(ip, "import makes_generators_unseeded as maker\nmade = maker.make()")
        run_ok(ip, "%seed 1_000_000 --reach -q")
        run_ok(ip, "for made_again in range(12345):\n    made = maker.make()")
        capsys.readouterr()
        run_ok(ip, "%seed")
        printed = capsys.readouterr().out
    finally:
        sys.modules.pop("makes_generators_unseeded", None)
        for name in ("maker", "made", "made_again"):
            ip.user_ns.pop(name, None)
    for text in (printed, str(seedmagic.status())):
        assert all(len(line) <= 80 for line in text.splitlines()), text
        rows = [line for line in text.splitlines() if "makes_generators_unseeded.py:8" in line]
        assert len(rows) == 3, text  # one per library, each telling the file and the line
        for row in rows:
            shown = row.split()[1]
            assert shown.startswith(".../") and f"{path}:8".endswith(shown[3:]), row
