"""%%seeds and seedmagic.sweep: one run per seed, as %%seeded k --isolate runs it, and the spread."""

from __future__ import annotations

import math
import os
import random
import re
import signal
import threading

import numpy as np
import pytest
import scipy.stats
import torch
from conftest import generators_and_flags, run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.engine import derive_seed
from seedmagic.sweeps import SeedSweep, SweepInterrupted, parse_seeds, t_cdf, t_quantile

# Reads a list it changes in place, draws from random, NumPy and torch, binds a name.
BODY = (
    "lst.append(random.random())\nx = torch.rand(2)\nfloat(x.sum()) + float(np.random.rand()) + lst[-1] + 10 * len(lst)"
)


@pytest.fixture
def nb(ip):
    """A notebook with the frameworks imported and a list the cell appends to."""
    run_ok(ip, "import random\nimport numpy as np\nimport torch\nimport seedmagic\nlst = [0.5]")
    yield ip
    for name in ("lst", "x", "sweep", "other", "y"):
        ip.user_ns.pop(name, None)


def standalone(ip, seed: int, body: str = BODY):
    """The same cell as a plain %%seeded k --isolate cell, from the same namespace (lst as before)."""
    ip.user_ns["lst"] = [0.5]
    value = run_ok(ip, f"%%seeded {seed} --isolate\n{body}")
    ip.user_ns["lst"] = [0.5]
    return value


def lines_fit(text: str) -> None:
    assert all(len(line) <= 80 for line in text.splitlines()), text


# -- each run is a %%seeded k --isolate run ------------------------------------------------------------------------


def test_each_seed_gives_what_a_standalone_seeded_cell_gives(nb):
    sweep = run_ok(nb, f"%%seeds 0-4 -o sweep\n{BODY}")
    assert isinstance(sweep, SeedSweep) and nb.user_ns["sweep"] is sweep
    assert sweep.seeds == (0, 1, 2, 3, 4)
    assert sweep.values == [standalone(nb, seed) for seed in range(5)]
    # ... which is what the libraries' own seeding calls give.
    for seed, value in zip(sweep.seeds, sweep.values, strict=True):
        drawn = random.Random(seed).random()
        assert value == torch_sum(seed) + float(np.random.RandomState(seed).rand()) + drawn + 20


def test_runs_start_from_the_same_namespace_and_leave_it_as_it_was(nb):
    nb.user_ns.pop("z", None)  # the shell is shared: an earlier test may have left a z
    run_ok(nb, "y = 7\nmodel = {'w': [1.0]}")
    # What a first sweep imports on the way sets variables of its own (torch's inductor sets its cache directory).
    run_ok(nb, "%%seeds 0-1 -q\nmodel['w'].append(torch.rand(()).item())\nlen(model['w'])")
    before = generators_and_flags()
    sweep = run_ok(
        nb,
        "%%seeds 3,7,11\nmodel['w'].append(torch.rand(()).item())\nlst.append(1)\ndel y\nz = len(lst)\n"
        "sum(model['w']) * 0 + len(model['w']) * 100 + z",
    )
    assert sweep.values == [202.0, 202.0, 202.0]  # every run found model and lst as before the sweep
    assert nb.user_ns["lst"] == [0.5] and nb.user_ns["model"] == {"w": [1.0]} and nb.user_ns["y"] == 7
    assert "z" not in nb.user_ns
    assert generators_and_flags() == before
    nb.user_ns.pop("model")


def test_a_count_is_that_many_seeds_derived_from_the_session_seed(nb):
    run_ok(nb, "%seed 2023 -q")
    sweep = run_ok(nb, "%%seeds 4\ntorch.rand(()).item()")
    expected = tuple(derive_seed(2023, f"sweep:{i}") for i in range(4))
    assert sweep.seeds == expected
    assert sweep.values == [standalone(nb, seed, "torch.rand(()).item()") for seed in expected]
    assert "4 seeds derived from session seed 2023" in str(sweep)
    assert seedmagic.current_seed() == 2023


def test_metrics_can_be_tensors_arrays_and_dicts(nb):
    assert run_ok(nb, "%%seeds 0-2\ntorch.rand(())").values == [torch_rand(s) for s in range(3)]
    assert run_ok(nb, "%%seeds 0-2\nnp.random.rand(3).sum(keepdims=True)[0]").values == [
        float(np.random.RandomState(s).rand(3).sum()) for s in range(3)
    ]
    zero_d = run_ok(nb, "%%seeds 0-2\narr = np.array(np.random.rand())\narr")
    assert zero_d.metric == "arr" and zero_d.values == [np.random.RandomState(s).rand() for s in range(3)]
    sweep = run_ok(nb, "%%seeds 0-2\n{'a': torch.rand(()), 'b': 1}")
    assert sweep.metric is None and sweep.metrics == ("a", "b")
    assert sweep.values == {"a": [torch_rand(s) for s in range(3)], "b": [1.0, 1.0, 1.0]}
    assert sweep.mean["b"] == 1.0 and sweep.std["b"] == 0.0
    assert sweep["a"].values == sweep.values["a"]


def torch_sum(seed: int) -> float:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return float(torch.rand(2).sum())


def torch_rand(seed: int) -> float:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return float(torch.rand(()))


def test_nested_in_a_seeded_cell(nb):
    sweep = run_ok(nb, "%%seeded 5\n%%seeds 0-2\ntorch.rand(()).item()")
    assert sweep.values == [torch_rand(s) for s in range(3)]
    # The %%seeded cell's seed holds again after the sweep, for the rest of the cell.
    assert run_ok(nb, "%%seeded 5\n%%seeds 0-1 -q\ntorch.rand(())") is None
    assert float(torch.rand(())) == torch_rand_after(5, 0)


def torch_rand_after(seed: int, draws: int) -> float:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.rand(draws)
        return float(torch.rand(()))


def test_sweep_function_matches_the_magic(nb):
    magic = run_ok(nb, "%%seeds 0-5\ntorch.rand(()).item()")

    def draw():
        return torch.rand(())

    function = seedmagic.sweep(draw, range(6))
    assert function.values == magic.values and function.metric == "draw"
    assert seedmagic.sweep(draw, "0-5").values == magic.values


# -- statistics ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 7, 9, 15, 29, 30.25, 99, 1000, 12345.6])
@pytest.mark.parametrize("p", [0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.9995, 0.025, 0.1])
def test_t_quantile_is_scipys(p, df):
    assert t_quantile(p, df) == pytest.approx(scipy.stats.t.ppf(p, df), rel=1e-10, abs=1e-12)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, rel=1e-10)


def test_the_interval_is_students_t_computed_by_hand(nb):
    sweep = run_ok(nb, "%%seeds 0-11\ntorch.randn(()).item() * 3 + 1")
    values = np.array(sweep.values)
    mean, sem = values.mean(), values.std(ddof=1) / math.sqrt(len(values))
    low, high = scipy.stats.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    assert sweep.mean == pytest.approx(mean, rel=1e-12)
    assert sweep.std == pytest.approx(values.std(ddof=1), rel=1e-12)
    assert sweep.ci() == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    low99, high99 = scipy.stats.t.interval(0.99, len(values) - 1, loc=mean, scale=sem)
    assert sweep.ci(0.99) == (pytest.approx(low99, rel=1e-10), pytest.approx(high99, rel=1e-10))
    assert (sweep.min, sweep.max, sweep.n) == (values.min(), values.max(), 12)


def test_paired_comparison_is_as_narrow_as_theory_says():
    # a and b share most of their variance (correlation 0.9): the paired interval is sqrt((1 - 0.9) / 1) narrower.
    def shared():
        return np.random.normal()

    def noise():
        return np.random.normal()

    rho = 0.9

    def method_a():
        z, e = np.random.normal(), np.random.normal()
        return math.sqrt(rho) * z + math.sqrt(1 - rho) * e

    def method_b():
        z = np.random.normal()  # the same draw as method_a's z: the same seed
        np.random.normal()
        return math.sqrt(rho) * z + math.sqrt(1 - rho) * np.random.normal() + 0.1

    seeds = range(400)
    a, b = seedmagic.sweep(method_a, seeds, name="a"), seedmagic.sweep(method_b, seeds, name="b")
    va, vb = np.array(a.values), np.array(b.values)
    assert np.corrcoef(va, vb)[0, 1] == pytest.approx(rho, abs=0.05)
    comparison = a.compare(b)
    d = va - vb
    half = scipy.stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert comparison.ci == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    welch = scipy.stats.ttest_ind(va, vb, equal_var=False).confidence_interval(0.95)
    assert comparison.unpaired_ci == (pytest.approx(welch.low), pytest.approx(welch.high))
    paired_width = comparison.ci[1] - comparison.ci[0]
    unpaired_width = comparison.unpaired_ci[1] - comparison.unpaired_ci[0]
    # Var(a - b) = 2 (1 - rho) against Var(a) + Var(b) = 2: the widths' ratio is sqrt(1 - rho) = 0.316.
    assert paired_width / unpaired_width == pytest.approx(math.sqrt(1 - rho), rel=0.15)
    assert comparison.a_higher + comparison.b_higher + comparison.ties == 400
    assert comparison.a_higher == int((d > 0).sum())
    # The true difference is -0.1: the paired interval finds it, the unpaired one cannot tell.
    assert comparison.ci[1] < 0 < comparison.unpaired_ci[1]
    lines_fit(str(comparison))
    assert str(comparison).startswith("seedmagic: a - b, paired seed by seed")


def test_compare_refuses_sweeps_over_different_seeds(nb):
    a = run_ok(nb, "%%seeds 0-4\ntorch.rand(()).item()")
    b = run_ok(nb, "%%seeds 0-3,7\ntorch.rand(()).item()")
    with pytest.raises(ValueError, match=r"different seeds \(only in this one: 4; only in the other: 7\)"):
        a.compare(b)
    assert a.compare(a).mean == 0 and a.compare(a).ties == 5


def test_one_seed_has_no_spread_and_says_so(nb):
    sweep = run_ok(nb, "%%seeds 5,\ntorch.rand(()).item()")
    assert sweep.seeds == (5,) and sweep.n == 1
    assert math.isnan(sweep.std) and all(math.isnan(bound) for bound in sweep.ci())
    assert "one value: the std and the CI are undefined" in str(sweep)


def test_nan_values_are_shown_and_left_out(nb):
    sweep = run_ok(nb, "%%seeds 0-5\nv = torch.rand(()).item()\nfloat('nan') if v < 0.5 else v")
    values = np.array(sweep.values)
    kept = values[~np.isnan(values)]
    assert np.isnan(values).sum() >= 1 and len(kept) >= 2
    assert sweep.n == len(kept) and sweep.mean == pytest.approx(kept.mean())
    text = str(sweep)
    assert "nan" in text and f"{np.isnan(values).sum()} NaN value" in text


def test_dict_metrics_with_differing_keys(nb):
    sweep = run_ok(nb, "%%seeds 0-3\nv = torch.rand(()).item()\n{'acc': v, 'extra': 1.0} if v > 0.5 else {'acc': v}")
    extra = [run.seed for run in sweep.runs if "extra" in run.metrics]
    assert sweep.values["acc"] == [torch_rand(s) for s in range(4)]
    assert sweep["extra"].seeds == tuple(extra) and sweep.n == {"acc": 4, "extra": len(extra)}
    assert "-" in str(sweep).split("\n\n")[0]  # a seed without the key shows "-"


# -- errors, interrupts --------------------------------------------------------------------------------------------


def test_a_run_that_raises_is_reported_and_the_sweep_goes_on(nb):
    sweep = run_ok(nb, "%%seeds 0-4 -o sweep\nv = torch.rand(()).item()\nif seedmagic.current_seed() == 2: 1 / 0\nv")
    assert sweep.seeds == (0, 1, 3, 4) and sweep.errors == {2: "ZeroDivisionError: division by zero"}
    assert "seed 2 raised ZeroDivisionError: division by zero" in str(sweep)
    assert sweep.values == [torch_rand(s) for s in (0, 1, 3, 4)]


def test_stop_on_error_raises_and_keeps_what_ran(nb):
    before = generators_and_flags()
    error = run_failing(nb, "%%seeds 0-4 -o sweep --stop-on-error\nif seedmagic.current_seed() == 2: 1 / 0\n3.0")
    assert isinstance(error, ZeroDivisionError)
    assert nb.user_ns["sweep"].seeds == (0, 1) and nb.user_ns["sweep"].interrupted
    assert generators_and_flags() == before


def test_every_run_raising(nb):
    sweep = run_ok(nb, "%%seeds 0-3\nraise ValueError('no data')\n1.0")
    assert sweep.seeds == () and sweep.errors == dict.fromkeys(range(4), "ValueError: no data")
    text = str(sweep)
    assert "seeds 0-3 raised ValueError: no data" in text and "no seed gave a value" in text
    assert sweep.values == [] and math.isnan(sweep.mean)
    assert "<svg" not in sweep._repr_html_()


def test_interrupt_keeps_and_shows_what_ran(nb, capsys):
    before = generators_and_flags()
    # A real SIGINT, as a notebook's interrupt button or Ctrl-C sends it, while the fourth run sleeps.
    nb.user_ns["arm"] = lambda: threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    sweep = run_ok(
        nb,
        "%%seeds 0-9 -o sweep\nimport time\nif seedmagic.current_seed() == 3: arm(); time.sleep(5)\n"
        "lst.append(1)\ntorch.rand(()).item()",
    )
    assert sweep.interrupted and sweep.seeds == (0, 1, 2) and nb.user_ns["sweep"] is sweep
    assert sweep.values == [torch_rand(s) for s in range(3)]
    assert "stopped after 3 of 10" in str(sweep) and "not run: 3-9" in str(sweep)
    assert nb.user_ns["lst"] == [0.5] and generators_and_flags() == before
    nb.user_ns.pop("arm")


def test_sweep_function_raises_an_interrupt_that_holds_what_ran():
    def draw():
        if seedmagic.current_seed() == 2:
            raise KeyboardInterrupt
        return torch.rand(())

    with pytest.raises(SweepInterrupted) as caught:
        seedmagic.sweep(draw, range(5))
    assert caught.value.sweep.seeds == (0, 1) and isinstance(caught.value, KeyboardInterrupt)


# -- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        ("9-0", "1.0", "the range 9-0 runs backwards: write 0-9"),
        ("0", "1.0", "no seeds"),
        (",", "1.0", "no seeds"),
        ("0-4294967296", "1.0", "seed must be between 0 and 2**32 - 1"),
        ("0,-1", "1.0", "seed must be between 0 and 2**32 - 1"),
        ("0,abc", "1.0", "seed must be an integer"),
        ("1,1", "1.0", "seed 1 is named twice"),
        ("0-2000000", "1.0", "more than 1,000,000 seeds"),
        ("10", "1.0", "need one: set it with %seed N"),
        ("0-2", "x = torch.rand(3)", "the cell has no last expression"),
        ("0-2", "lst.append(1)\ntorch.rand(3)", "a Tensor of shape (3,)"),
        ("0-2", "'high'", "a str ('high')"),
        ("0-2", "lst.append(1)\n{'acc': 'high'}", "whose 'acc' is a str"),
        ("0-2", "{}", "an empty dict"),
        ("0-2", "None", "None"),
        ("0-2", "torch.rand(()) + 1j", "a Tensor (tensor("),
        ("0-2 --only nothing", "1.0", "unknown library 'nothing'"),
        ("0-2 -o 1x", "1.0", "-o needs a name"),
        ("0-2 --stop", "1.0", "unrecognized arguments: --stop"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(nb, line, body, message):
    before = generators_and_flags()
    error = run_failing(nb, f"%%seeds {line} -o sweep\n{body}" if " -o " not in line else f"%%seeds {line}\n{body}")
    assert isinstance(error, UsageError), error
    assert message in str(error) and "\n" not in str(error)
    assert "sweep" not in nb.user_ns and nb.user_ns["lst"] == [0.5] and "x" not in nb.user_ns
    assert generators_and_flags() == before


def test_metric_kinds_must_agree(nb):
    error = run_failing(nb, "%%seeds 0-2\n{'a': 1.0} if seedmagic.current_seed() else 1.0")
    assert isinstance(error, UsageError) and "every run must give the same kind of metric" in str(error)


def test_parse_seeds():
    assert parse_seeds("0-3, 7,0x10") == (0, 1, 2, 3, 7, 16)
    assert parse_seeds("5,") == (5,)
    assert parse_seeds("3", session_seed=1) == tuple(derive_seed(1, f"sweep:{i}") for i in range(3))


def test_seeds_given_with_spaces_and_variables(nb):
    nb.user_ns["last"] = 3
    assert run_ok(nb, "%%seeds 1, 2, $last\n1.0").seeds == (1, 2, 3)
    assert run_ok(nb, "%%seeds 0-{last}\n1.0").seeds == (0, 1, 2, 3)


# -- showing -------------------------------------------------------------------------------------------------------


def test_text_fits_80_columns(nb):
    many = run_ok(nb, "%%seeds 0-99\ntorch.randn(()).item() * 1000")
    wide = run_ok(
        nb,
        "%%seeds 0-3\n{f'metric_with_a_long_name_{i}': torch.rand(()).item() * 10 ** i for i in range(8)}",
    )
    for sweep in (many, wide):
        lines_fit(str(sweep))
    per_seed = str(many).split("\n\n")[0].splitlines()[2:]  # below the header and "seed value"
    pairs = [pair for line in per_seed for pair in re.findall(r"(\d+)\s+(-?[\d.]+)", line)]
    assert [int(seed) for seed, _ in pairs] == list(range(100))
    assert [float(value) for _, value in pairs] == [pytest.approx(v, abs=0.51) for v in many.values]


def test_text_shows_the_table(nb):
    sweep = run_ok(nb, "%%seeds 0-9 -o sweep\nacc = 0.8 + torch.rand(()).item() / 10\nacc")
    text = str(sweep)
    summary = next(line for line in text.splitlines() if line.startswith("acc  ")).replace(",", " ").split()
    assert summary[:2] == ["acc", "10"]
    decimals = len(summary[2].split(".")[1])
    assert decimals >= 3  # three significant digits of the spread, at least
    shown = [float(token.strip("[]")) for token in summary[2:]]
    expected = [sweep.mean, sweep.std, *sweep.ci(), sweep.min, sweep.max]
    assert shown == [pytest.approx(value, abs=0.51 * 10**-decimals) for value in expected]
    assert text.startswith("seedmagic: sweep: acc over 10 seeds (0-9)")
    for seed, value in zip(sweep.seeds, sweep.values, strict=True):
        assert f"{seed}  {value:.{decimals}f}" in text


def test_html_has_the_table_and_a_plot_that_repeats(nb):
    sweep = run_ok(nb, "%%seeds 0-9\ntorch.rand(()).item()")
    page = sweep._repr_html_()
    assert "<table>" in page and page.count("<svg") == 1 and "95% CI" in page
    assert run_ok(nb, "%%seeds 0-9\ntorch.rand(()).item()")._repr_html_() == page


def test_matplotlib_is_imported_only_for_the_plot(fresh_python):
    loaded = fresh_python(
        """
        cell("%load_ext seedmagic")
        cell("import random")
        sweep = cell("%%seeds 0-4 -q -o s\\nrandom.random()")
        before = sorted(m for m in ("numpy", "torch", "matplotlib", "pandas", "ipywidgets") if m in sys.modules)
        shell.user_ns["s"]._repr_html_()
        emit([before, "matplotlib" in sys.modules, "torch" in sys.modules, sweep is None])
        """
    )
    assert loaded == [[], True, False, True]


def test_to_frame(nb):
    sweep = run_ok(nb, "%%seeds 0-3\nif seedmagic.current_seed() == 1: 1 / 0\n{'a': torch.rand(()), 'b': 2}")
    frame = sweep.to_frame()
    assert list(frame.index) == [0, 1, 2, 3] and list(frame.columns) == ["a", "b", "error"]
    assert frame.loc[2, "a"] == torch_rand(2) and math.isnan(frame.loc[1, "a"])
    assert frame.loc[1, "error"] == "ZeroDivisionError: division by zero"


def test_progress_line_in_a_terminal(nb, capsys):
    run_ok(nb, "%%seeds 0-2\n1.0")
    err = capsys.readouterr().err
    assert "seedmagic: 0 of 3 seeds ran; running seed 0" in err and err.endswith("\r")


# -- the best seed -------------------------------------------------------------------------------------------------


def test_seeding_with_the_best_seed_of_a_sweep_says_it_is_not_a_result(nb, capsys):
    sweep = run_ok(nb, "%%seeds 0-9\nacc = torch.rand(()).item()\nacc")
    best = sweep.seeds[int(np.argmax(sweep.values))]
    middle = sweep.seeds[int(np.argsort(sweep.values)[5])]
    capsys.readouterr()
    run_ok(nb, f"%seed {middle}")
    assert "note" not in capsys.readouterr().out
    run_ok(nb, f"%seed {best} -q")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"seedmagic: note: seed {best} gave the highest acc of 10 seeds")
    assert "the best of 10 seeds is not a result to report" in out[0]


# -- in a Jupyter kernel -------------------------------------------------------------------------------------------

SWEEP_CELLS = (
    "%load_ext seedmagic\n%seed 7 -q\nimport torch\nlst = [1.0]",
    "%%seeds 0-5 -o sweep\nlst.append(torch.rand(()).item())\nsum(lst)",
    "%%seeds 4\n{'a': torch.rand(()), 'b': torch.randn(()).item()}",
    "print(sweep.values, lst)",
    "%%seeded 3 --isolate\nlst.append(torch.rand(()).item())\nsum(lst)",
    "import sys\nprint('ipywidgets' in sys.modules)",
)


def test_two_fresh_kernels_give_identical_tables_and_the_values_of_seeded_cells():
    from test_kernel import run_kernel

    first, second = run_kernel(*SWEEP_CELLS), run_kernel(*SWEEP_CELLS)
    for one, other in zip(first[1:3], second[1:3], strict=True):
        (a,), (b,) = one.results, other.results
        assert a["data"]["text/plain"] == b["data"]["text/plain"]
        assert a["data"]["text/html"] == b["data"]["text/html"] and "<svg" in a["data"]["text/html"]
        # The progress bar was replaced by a line of text: the saved notebook holds the same output every time.
        shown = [o["data"] for o in one.outputs if o["output_type"] == "display_data"]
        count = 6 if one is first[1] else 4
        assert shown == [{"text/plain": f"seedmagic: a sweep over {count} seeds"}]
    values, lst = first[3].stdout.rsplit(" [", 1)
    values = [float(v) for v in values.strip("[]").split(", ")]
    assert lst.strip() == "1.0]"
    assert values == [1.0 + torch_rand(seed) for seed in range(6)]
    assert float(first[4].result) == values[3]
    table = first[1].result
    assert "sweep: sum(lst) over 6 seeds (0-5)" in table and all(len(line) <= 80 for line in table.splitlines())
    assert "4 seeds derived from session seed 7" in first[2].result
    assert first[5].stdout == "True\n"  # the progress bar


def test_the_best_seed_of_an_earlier_sweep_is_noted_too(nb, capsys):
    first = run_ok(nb, "%%seeds 0-9 -o sweep\nloss = torch.rand(()).item()\nloss")
    later = run_ok(nb, "%%seeds 0-9 -o other\ntorch.randn(()).item()")
    lowest = first.seeds[int(np.argmin(first.values))]
    note = first.best_seed_note(lowest)
    assert note.startswith(f"seedmagic: note: seed {lowest} gave the lowest loss of 10 seeds in sweep (")
    capsys.readouterr()
    run_ok(nb, f"%seed {lowest} -q")
    assert capsys.readouterr().out == (later.best_seed_note(lowest) or note) + "\n"  # the latest sweep first
