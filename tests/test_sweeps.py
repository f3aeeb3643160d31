"""%%seeds and seedmagic.sweep: one run per seed, as %%seeded k --isolate runs it, and the spread."""

from __future__ import annotations

import io
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.stats
import torch
from conftest import generators_and_flags, run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.arguments import derive_seed
from seedmagic.sweeps import SeedRun, SeedSweep, SweepInterrupted, parse_seeds, t_cdf, t_quantile

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
    assert "nan" in text and f"{np.isnan(values).sum()} of 6 seeds gave NaN: left out of the statistics" in text


# 1 / 0 is inf where the draw is at most 0.3: a loss that diverges on some seeds, as a 0-d tensor.
DIVERGES = "v = torch.rand(())\nloss = 1 / (v * (v > 0.3))\nloss"


def diverging_loss(seed: int) -> float:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        v = torch.rand(())
        return float(1 / (v * (v > 0.3)))


def edge_markers(ax, marker: str) -> list[float]:
    """The x (in axes coordinates) of the points drawn with ``marker`` on the axes' edges."""
    return [x for line in ax.lines if line.get_marker() == marker for x in line.get_xdata()]


def test_inf_values_are_shown_and_left_out_of_every_statistic(nb):
    sweep = run_ok(nb, f"%%seeds 0-15 -o sweep\n{DIVERGES}")
    expected = [diverging_loss(seed) for seed in range(16)]
    finite = [v for v in expected if math.isfinite(v)]
    diverged = [seed for seed, v in enumerate(expected) if not math.isfinite(v)]
    assert diverged and len(finite) >= 2 and all(expected[seed] == math.inf for seed in diverged)
    assert sweep.values == expected and sweep.seeds == tuple(range(16))
    mean, std = statistics.fmean(finite), statistics.stdev(finite)
    low, high = scipy.stats.t.interval(0.95, len(finite) - 1, loc=mean, scale=std / math.sqrt(len(finite)))
    assert sweep.n == len(finite)
    assert sweep.mean == pytest.approx(mean, rel=1e-12) and sweep.std == pytest.approx(std, rel=1e-12)
    assert sweep.ci() == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert (sweep.min, sweep.max) == (min(finite), max(finite))
    (summary,) = sweep.summary()
    assert (summary.inf, summary.nan) == (len(diverged), 0)
    text = str(sweep)
    lines_fit(text)
    assert f"loss: {len(diverged)} of 16 seeds gave inf: left out of the statistics" in text
    for seed in diverged:
        assert re.search(rf"(^|\s){seed}\s+inf(\s|$)", text, re.M), text
    page = sweep._repr_html_()
    assert page.count("<td>inf</td>") == len(diverged) and page.count("<svg") == 1
    assert f"{len(diverged)} of 16 seeds gave inf: left out of the statistics" in page
    assert set(sweep.extremes()).isdisjoint(diverged)  # the best-seed note is about the values in the statistics
    assert sweep.to_frame()["loss"].tolist() == expected
    # The plot's axis spans the finite values; the diverged seeds are arrowheads on its right edge, and counted.
    figure = sweep.plot()
    (ax,) = figure.axes
    left, right = ax.get_xlim()
    assert math.isfinite(left) and math.isfinite(right) and left <= min(finite) and max(finite) <= right
    assert right - left < 2 * (max(finite) - min(finite))
    assert edge_markers(ax, ">") == [1.0] * len(diverged) and edge_markers(ax, "<") == []
    assert [t.get_text() for t in ax.texts] == [f"left out: {len(diverged)} inf"]
    figure.savefig(io.BytesIO(), format="png")


def test_values_near_the_largest_float_keep_their_statistics(nb):
    # exp(709 + v) passes the largest float (about exp(709.78)) where v > 0.78: inf there, near 1e308 elsewhere.
    body = "v = np.random.rand()\nwith np.errstate(over='ignore'):\n    loss = np.exp(np.array(709.0 + v))\nloss"
    sweep = run_ok(nb, f"%%seeds 0-19\n{body}")
    with np.errstate(over="ignore"):
        expected = [float(np.exp(np.array(709.0 + np.random.RandomState(seed).rand()))) for seed in range(20)]
    finite = [v for v in expected if math.isfinite(v)]
    assert len(finite) >= 2 and sum(finite) == math.inf  # a plain sum of them overflows
    assert sweep.values == expected and sweep.n == len(finite)
    # statistics.mean and stdev work in exact fractions: no overflow on the way.
    assert sweep.mean == pytest.approx(statistics.mean(finite), rel=1e-12)
    assert sweep.std == pytest.approx(statistics.stdev(finite), rel=1e-12)
    text = str(sweep)
    assert f"loss: {20 - len(finite)} of 20 seeds gave inf: left out of the statistics" in text
    lines_fit(text.split("\n\n")[-1])  # (the summary table of numbers as wide as 1.225e+308 is wider than 80)
    # matplotlib cannot lay such values out: the HTML says so, with no warning, rather than draw overflowed points.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        page = sweep._repr_html_()
    assert "<table>" in page and "<svg" not in page and "too large for matplotlib to draw" in page


# A dict metric: -inf from a 0-d NumPy array on some seeds, inf (a 0-d tensor) or NaN on others, for one key each.
DICT_BODY = (
    "v = np.random.rand()\n"
    "with np.errstate(divide='ignore'):\n"
    "    log_gap = np.log(np.array(max(v - 0.3, 0.0)))\n"
    "{'acc': v, 'log_gap': log_gap, 'odd': torch.tensor(float('inf')) if v > 0.75 else float('nan') if v < 0.25 else v}"
)


def dict_metric(seed: int) -> dict[str, float]:
    v = np.random.RandomState(seed).rand()
    with np.errstate(divide="ignore"):
        log_gap = float(np.log(np.array(max(v - 0.3, 0.0))))
    return {"acc": v, "log_gap": log_gap, "odd": math.inf if v > 0.75 else math.nan if v < 0.25 else v}


def test_a_dict_metric_with_inf_minus_inf_and_nan_on_some_seeds(nb):
    sweep = run_ok(nb, f"%%seeds 0-19 -o sweep\n{DICT_BODY}")
    expected = {key: [dict_metric(seed)[key] for seed in range(20)] for key in ("acc", "log_gap", "odd")}
    assert sweep.values["acc"] == expected["acc"] and sweep.values["log_gap"] == expected["log_gap"]
    np.testing.assert_array_equal(sweep.values["odd"], expected["odd"])  # NaN where expected has NaN
    text = str(sweep)
    lines_fit(text)
    for key, values in expected.items():
        finite = np.array([v for v in values if math.isfinite(v)])
        assert len(finite) >= 2
        assert sweep.n[key] == len(finite) and sweep.mean[key] == pytest.approx(finite.mean(), rel=1e-12)
        assert sweep.std[key] == pytest.approx(finite.std(ddof=1), rel=1e-12)
        assert (sweep.min[key], sweep.max[key]) == (finite.min(), finite.max())
        assert sweep[key].mean == sweep.mean[key]
    minus, inf, nan = (
        expected["log_gap"].count(-math.inf),
        expected["odd"].count(math.inf),
        sum(math.isnan(v) for v in expected["odd"]),
    )
    assert minus and inf and nan
    assert f"log_gap: {minus} of 20 seeds gave -inf: left out of the statistics" in text
    assert f"odd: {inf + nan} of 20 seeds gave inf or NaN: left out of the statistics" in text
    assert "acc:" not in text
    frame = sweep.to_frame()
    np.testing.assert_array_equal(frame["odd"].to_numpy(), expected["odd"])
    assert frame["log_gap"].tolist() == expected["log_gap"]
    # The paired differences leave out the seeds where one side is not finite.
    comparison = sweep["log_gap"].compare(sweep["acc"])
    paired = [seed for seed in range(20) if math.isfinite(expected["log_gap"][seed])]
    differences = [expected["log_gap"][seed] - expected["acc"][seed] for seed in paired]
    mean, sem = statistics.fmean(differences), statistics.stdev(differences) / math.sqrt(len(differences))
    low, high = scipy.stats.t.interval(0.95, len(differences) - 1, loc=mean, scale=sem)
    assert comparison.seeds == tuple(paired) and comparison.mean == pytest.approx(mean, rel=1e-12)
    assert comparison.ci == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert comparison.left_out == tuple(seed for seed in range(20) if seed not in paired)
    assert "left out (no value, or inf or NaN, on one side)" in str(comparison)
    lines_fit(str(comparison))
    # The plot: a panel per metric, each axis finite; -inf on the left edge, inf on the right.
    figure = sweep.plot()
    acc_ax, log_ax, odd_ax = figure.axes
    for ax in figure.axes:
        assert all(math.isfinite(x) for x in ax.get_xlim())
    assert edge_markers(log_ax, "<") == [0.0] * minus and edge_markers(odd_ax, ">") == [1.0] * inf
    assert [t.get_text() for t in odd_ax.texts] == [f"left out: {inf} inf, {nan} NaN"] and not acc_ax.texts
    assert sweep._repr_html_().count("<svg") == 1


def test_a_sweep_where_every_seed_diverged_shows_undefined_statistics(nb):
    sweep = run_ok(nb, "%%seeds 0-3\nloss = torch.tensor(1.0) / torch.zeros(())\nloss")
    assert sweep.values == [float(torch.tensor(1.0) / torch.zeros(()))] * 4 == [math.inf] * 4
    assert sweep.n == 0 and all(math.isnan(v) for v in (sweep.mean, sweep.std, sweep.min, sweep.max, *sweep.ci()))
    text = str(sweep)
    lines_fit(text)
    assert re.search(r"^loss\s+0(\s+-){5}$", text, re.M), text
    assert "loss: all 4 seeds gave inf: the statistics are undefined" in text
    page = sweep._repr_html_()
    assert "all 4 seeds gave inf: the statistics are undefined" in page and page.count("<svg") == 1
    (ax,) = sweep.plot().axes
    assert all(math.isfinite(x) for x in ax.get_xlim()) and list(ax.get_xticks()) == []
    assert edge_markers(ax, ">") == [1.0] * 4
    # -inf everywhere, and a dict metric with one key NaN on every seed, from seedmagic.sweep().
    falling = seedmagic.sweep(lambda: -torch.tensor(1.0) / torch.zeros(()), range(3))
    assert falling.values == [-math.inf] * 3 and "all 3 seeds gave -inf: the statistics are undefined" in str(falling)
    falling._repr_html_()

    def metrics():
        return {"acc": np.random.rand(), "loss": np.float64("nan")}

    mixed = seedmagic.sweep(metrics, range(5))
    assert mixed.n == {"acc": 5, "loss": 0} and math.isnan(mixed.mean["loss"]) and math.isnan(mixed.std["loss"])
    assert mixed.mean["acc"] == pytest.approx(np.mean([np.random.RandomState(s).rand() for s in range(5)]))
    text = str(mixed)
    lines_fit(text)
    assert "loss: all 5 seeds gave NaN: the statistics are undefined" in text
    assert mixed._repr_html_().count("<svg") == 1


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


def test_an_interrupt_shows_and_binds_what_ran_and_leaves_the_cell_interrupted(nb, capsys):
    before = generators_and_flags()
    # A real SIGINT, as a notebook's interrupt button or Ctrl-C sends it, while the fourth run sleeps.
    nb.user_ns["arm"] = lambda: threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    capsys.readouterr()
    error = run_failing(
        nb,
        "%%seeds 0-9 -o sweep\nimport time\nif seedmagic.current_seed() == 3: arm(); time.sleep(5)\n"
        "lst.append(1)\ntorch.rand(()).item()",
    )
    # The cell is an interrupted cell, as any cell the interrupt stops: a kernel then aborts the cells queued after it.
    assert type(error) is KeyboardInterrupt
    assert str(error) == "%%seeds interrupted after 3 of 10 seeds; sweep holds what ran"
    sweep = nb.user_ns["sweep"]
    assert sweep.interrupted and sweep.stopped_by == "interrupt" and sweep.seeds == (0, 1, 2)
    assert sweep.values == [torch_rand(s) for s in range(3)]
    assert "interrupted after 3 of 10 seeds; not run: 3-9" in str(sweep)
    assert str(sweep) in capsys.readouterr().out  # shown before the interrupt's traceback
    assert nb.user_ns["lst"] == [0.5] and generators_and_flags() == before
    nb.user_ns.pop("arm")


def test_an_interrupted_quiet_sweep_shows_nothing_but_binds_what_ran(nb, capsys):
    capsys.readouterr()
    error = run_failing(nb, "%%seeds 0-4 -q -o sweep\nif seedmagic.current_seed() == 2: raise KeyboardInterrupt\n1.0")
    assert type(error) is KeyboardInterrupt and str(error).startswith("%%seeds interrupted after 2 of 5 seeds")
    assert nb.user_ns["sweep"].seeds == (0, 1) and "seedmagic: sweep:" not in capsys.readouterr().out


class InterruptingStderr(io.StringIO):
    """A terminal's stderr that gets a real SIGINT as the progress line names seed ``at``: after one run, before the
    next."""

    def isatty(self) -> bool:
        return True

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.sent = at, False

    def write(self, text: str) -> int:
        written = super().write(text)
        if not self.sent and f"running seed {self.at}" in text:
            self.sent = True
            signal.raise_signal(signal.SIGINT)  # delivered to this thread, before raise_signal returns
        return written


def test_an_interrupt_between_two_seeds_is_the_same(nb, capsys, monkeypatch):
    before = generators_and_flags()
    monkeypatch.setattr(sys, "stderr", InterruptingStderr(3))
    capsys.readouterr()
    # Each run sleeps past the progress line's 0.1 s between updates, so that it names every seed.
    body = "import time\ntime.sleep(0.15)\nlst.append(1)\ntorch.rand(()).item()"
    error = run_failing(nb, f"%%seeds 0-9 -o sweep\n{body}")
    assert sys.stderr.sent and type(error) is KeyboardInterrupt
    sweep = nb.user_ns["sweep"]
    assert sweep.seeds == (0, 1, 2) and sweep.values == [torch_rand(s) for s in range(3)]
    assert "interrupted after 3 of 10 seeds; not run: 3-9" in capsys.readouterr().out
    assert nb.user_ns["lst"] == [0.5] and generators_and_flags() == before
    # seedmagic.sweep() raises SweepInterrupted, which holds what ran.
    monkeypatch.setattr(sys, "stderr", InterruptingStderr(2))

    def draw():
        time.sleep(0.15)
        return torch.rand(())

    with pytest.raises(SweepInterrupted) as caught:
        seedmagic.sweep(draw, range(5), progress=True)
    assert sys.stderr.sent and caught.value.sweep.seeds == (0, 1)
    assert caught.value.sweep.values == [torch_rand(s) for s in range(2)]


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
        ("0-2 --stop", "1.0", "unrecognized arguments: --stop (did you mean --stop-on-error?)"),
        ("0-2 --stop-on-eror", "1.0", "unrecognized arguments: --stop-on-eror (did you mean --stop-on-error?)"),
        ("0-2 --quite", "1.0", "unrecognized arguments: --quite (did you mean --quiet?)"),
        ("0-2 --otput s", "1.0", "unrecognized arguments: --otput s (did you mean --output?)"),
        ("0-2 --sk torch", "1.0", "unrecognized arguments: --sk torch (did you mean --skip?)"),
        ("0-2 --isolate", "1.0", "unrecognized arguments: --isolate"),  # %%seeded's: nothing near in %%seeds
        ("0-2 --foo", "1.0", "unrecognized arguments: --foo"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(nb, line, body, message):
    before = generators_and_flags()
    error = run_failing(nb, f"%%seeds {line} -o sweep\n{body}" if " -o " not in line else f"%%seeds {line}\n{body}")
    assert isinstance(error, UsageError), error
    assert message in str(error) and "\n" not in str(error)
    if message.startswith("unrecognized"):  # the nearest option, or none
        assert str(error) == message
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


def as_a_terminal_shows(text: str) -> list[str]:
    """The lines a terminal shows for ``text``: ``\\r`` goes back to the line's start, and what follows overwrites."""
    shown = []
    for line in text.split("\n"):
        screen: list[str] = []
        for index, part in enumerate(line.split("\r")):
            column = 0 if index else len(screen)
            screen[column : column + len(part)] = part
        shown.append("".join(screen).rstrip())
    return shown


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_in_a_terminal_and_none_where_stderr_is_redirected(nb, capsys, monkeypatch):
    run_ok(nb, "%%seeds 0-2\n1.0")
    assert capsys.readouterr().err == ""  # stderr is a pipe here: no progress kept in it
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_ok(nb, "%%seeds 0-2\n1.0")
    err = terminal.getvalue()
    assert err.startswith("\rseedmagic: 0 of 3 seeds ran; running seed 0")
    assert "\rseedmagic: 3 of 3 seeds ran" in err
    assert as_a_terminal_shows(err) == [""]  # one line, rewritten in place, and cleared at the end
    # -q: no progress at all (and no result shown).
    capsys.readouterr()
    terminal.seek(0)
    terminal.truncate()
    assert run_ok(nb, "%%seeds 0-2 -q -o sweep\n1.0") is None
    assert terminal.getvalue() == "" and capsys.readouterr() == ("", "")
    # seedmagic.sweep(progress=True) shows the same line on stderr; without it, nothing.
    seedmagic.sweep(lambda: 1.0, range(3), progress=True)
    err = terminal.getvalue()
    assert err.startswith("\rseedmagic: 0 of 3 seeds ran; running seed 0") and as_a_terminal_shows(err) == [""]
    terminal.seek(0)
    terminal.truncate()
    seedmagic.sweep(lambda: 1.0, range(3))
    assert terminal.getvalue() == "" and capsys.readouterr() == ("", "")


# -- the metric's name ---------------------------------------------------------------------------------------------

NAMED = [
    ("acc = torch.rand(()).item()\nacc", "acc"),
    ("acc = torch.rand(())\nfloat(acc)", "acc"),
    ("acc = torch.rand(())\nacc.item()", "acc"),
    ("acc = torch.rand(())\nround(float(acc), 3)", "acc"),
    ("loss = torch.rand(8)\nloss.mean().item()", "loss.mean()"),
    ("torch.rand(1).item()", "torch.rand(1)"),
    ("x = torch.rand(1000)\nfloat(x.mean())", "x.mean()"),
    ("def model_accuracy(n):\n    return torch.rand(n).mean()\nfloat(model_accuracy(1000) * 100)", "metric"),
    ("def model_accuracy(n):\n    return torch.rand(n).mean()\nfloat(model_accuracy(n=1000))", "model_accuracy"),
    ("history = {'val_acc': [torch.rand(()).item()]}\nhistory['val_acc'][-1]", "val_acc"),
    ("model = torch.nn.Linear(4, 1)\nmodel(torch.ones(4)).squeeze().item()", "model"),
    ("torch.nn.Linear(4, 1)(torch.ones(4)).squeeze().item()", "metric"),
    ("float(torch.rand(1000).mean().item()) + float(np.random.rand())", "metric"),
    ("validation_accuracy_final = torch.rand(()).item()\nvalidation_accuracy_final", "validation_accuracy_final"),
]


@pytest.mark.parametrize(("body", "name"), NAMED, ids=[name for _, name in NAMED])
def test_a_metric_is_named_for_what_the_last_expression_reads(nb, body, name):
    sweep = run_ok(nb, f"%%seeds 0-2\n{body}")
    assert sweep.metric == name and sweep.metrics == (name,)
    lines = str(sweep).splitlines()
    assert lines[0] == f"seedmagic: {name} over 3 seeds (0-2)"
    assert lines[1] == f"seed {name}"
    row = next(line for line in lines[3:] if line.startswith(f"{name} "))  # the summary's row, the name whole
    assert row.split()[:2] == [name, "3"]
    assert all("…" not in line for line in lines) and all(len(line) <= 80 for line in lines)
    page = sweep._repr_html_()
    assert f"<td>{name}</td>" in page and f"<th>{name}</th>" in page
    assert f">{name}<" in page.split("<svg", 1)[1]  # the plot's label
    for variable in ("acc", "loss", "x", "model_accuracy", "history", "model", "validation_accuracy_final"):
        nb.user_ns.pop(variable, None)


def test_a_dict_metric_is_named_by_its_keys_and_a_function_by_its_name(nb):
    sweep = run_ok(nb, "%%seeds 0-2\n{'acc': torch.rand(()), 'loss': torch.randn(()).item()}")
    assert sweep.metrics == ("acc", "loss") and str(sweep).startswith("seedmagic: acc, loss over 3 seeds (0-2)")

    def draw():
        return torch.rand(())

    assert seedmagic.sweep(draw, range(3)).metric == "draw"
    assert seedmagic.sweep(lambda: torch.rand(()), range(3)).metric == "metric"
    error = run_failing(nb, "seedmagic.sweep(lambda: torch.rand(3), range(2))")
    assert str(error) == (
        "the function returned a Tensor of shape (3,) (use .mean(), .item() or [i] to make it one number): return "
        "the metric, a number, a dict of numbers or a 0-d tensor or array"
    )


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
    assert out[0].startswith(f"seedmagic: note: seed {best} gave the highest acc of 10 seeds")
    assert all(len(line) <= 80 for line in out) and all(line.startswith("    ") for line in out[1:])
    assert " ".join(line.strip() for line in out).endswith("report the mean and spread, not the best of 10 seeds")


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
        # The progress bar was emptied away: the saved notebook holds the same empty display every time.
        assert [o["data"] for o in one.outputs if o["output_type"] == "display_data"] == [{}]
    values, lst = first[3].stdout.rsplit(" [", 1)
    values = [float(v) for v in values.strip("[]").split(", ")]
    assert lst.strip() == "1.0]"
    assert values == [1.0 + torch_rand(seed) for seed in range(6)]
    assert float(first[4].result) == values[3]
    table = first[1].result
    assert "sweep: sum(lst) over 6 seeds (0-5)" in table and all(len(line) <= 80 for line in table.splitlines())
    assert "4 seeds derived from session seed 7" in first[2].result
    assert first[5].stdout == "False\n"  # the progress is no widget


PROGRESS_CELLS = (
    "%load_ext seedmagic\nimport torch",
    "%%seeds 0-2\ntorch.rand(()).item()",
    "%%seeds 0-2 -q -o quiet\ntorch.rand(()).item()",
)


def test_the_progress_shows_while_a_sweep_runs_and_the_saved_notebook_keeps_none(tmp_path):
    import nbclient
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    class Recording(nbclient.NotebookClient):
        """nbclient, keeping every message of each cell's as it handles it."""

        messages: dict[int, list[tuple[str, dict]]]

        def process_message(self, msg, cell, cell_index):
            self.messages.setdefault(cell_index, []).append((msg["msg_type"], msg["content"]))
            return super().process_message(msg, cell, cell_index)

    nb = new_notebook(cells=[new_code_cell(source) for source in PROGRESS_CELLS])
    client = Recording(nb, kernel_name="python3", timeout=120, record_timing=False)
    client.messages = {}
    client.execute()
    runs = tuple(SeedRun(seed, {"torch.rand(())": torch_rand(seed)}) for seed in range(3))
    table = str(SeedSweep((0, 1, 2), runs, "torch.rand(())"))
    shown = {"display_data", "update_display_data", "stream", "execute_result", "error"}
    sent = {index: [(kind, c["data"]) for kind, c in client.messages[index] if kind in shown] for index in (1, 2)}
    # While it runs: an empty display, rewritten with a bar and a line (at most every 0.1 s), emptied at the end.
    (start, empty), *updates, (end, emptied), (result, data) = sent[1]
    assert (start, empty, end, emptied, result) == ("display_data", {}, "update_display_data", {}, "execute_result")
    assert data["text/plain"] == table
    assert {kind for kind, _ in updates} == {"update_display_data"}
    lines = [update["text/plain"] for _, update in updates]
    assert lines[0] == "seedmagic: 0 of 3 seeds ran; running seed 0" and lines[-1] == "seedmagic: 3 of 3 seeds ran"
    assert updates[-1][1]["text/html"] == "<progress value='3' max='3'></progress> seedmagic: 3 of 3 seeds ran"
    # -q: nothing at all.
    assert sent[2] == []
    # The notebook as saved: an empty display where the progress was, and nothing else of it.
    assert [o.output_type for o in nb.cells[1].outputs] == ["display_data", "execute_result"]
    assert nb.cells[1].outputs[0].data == {} and nb.cells[1].outputs[1].data["text/plain"] == table
    assert nb.cells[2].outputs == []
    kept = json.dumps([[cell.outputs for cell in nb.cells], nb.metadata])
    assert "seeds ran" not in kept and "progress" not in kept and "widget" not in kept
    # nbval, which sees the displays but not their updates, finds every output as saved.
    (tmp_path / "sweep.ipynb").write_text(nbformat.writes(nb))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            "sweep.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_best_seed_of_an_earlier_sweep_is_noted_too(nb, capsys):
    first = run_ok(nb, "%%seeds 0-9 -o sweep\nloss = torch.rand(()).item()\nloss")
    later = run_ok(nb, "%%seeds 0-9 -o other\ntorch.randn(()).item()")
    lowest = first.seeds[int(np.argmin(first.values))]
    note = first.best_seed_note(lowest)
    assert note.startswith(f"seedmagic: note: seed {lowest} gave the lowest loss of 10 seeds in sweep (")
    capsys.readouterr()
    run_ok(nb, f"%seed {lowest} -q")
    assert capsys.readouterr().out == (later.best_seed_note(lowest) or note) + "\n"  # the latest sweep first


# Seed 3 sleeps: the interrupt stops it (a SIGINT the kernel sends itself, or the test's, once it reads the line).
SWEEP_TO_INTERRUPT = (
    "%%seeds 0-9 -o sweep\nif seedmagic.current_seed() == 3:\n    {}\n    time.sleep(60)\ntorch.rand(()).item()"
)
INTERRUPTED_SWEEP = SWEEP_TO_INTERRUPT.format("threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()")
KERNEL_IMPORTS = "%load_ext seedmagic\nimport json, os, signal, threading, time\nimport torch\nimport seedmagic"


def the_sweep_of_seeds_0_to_2() -> SeedSweep:
    """What the interrupted sweep ran, made here from torch's own values: its text is what the kernel must show."""
    from seedmagic.sweeps import SeedRun

    runs = tuple(SeedRun(seed, {"torch.rand(())": torch_rand(seed)}) for seed in range(3))
    return SeedSweep(tuple(range(10)), runs, "torch.rand(())", "sweep", None, True, (), "interrupt")


def test_an_interrupted_sweep_stops_the_notebook_with_what_ran_in_its_outputs():
    import nbclient
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(c) for c in (KERNEL_IMPORTS, INTERRUPTED_SWEEP, "print('it ran')")])
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120, record_timing=False)
    with pytest.raises(CellExecutionError) as caught:
        client.execute()
    expected = "%%seeds interrupted after 3 of 10 seeds; sweep holds what ran"
    assert (caught.value.ename, caught.value.evalue) == ("KeyboardInterrupt", expected)
    swept, after = nb.cells[1], nb.cells[2]
    assert after.execution_count is None and after.outputs == []  # the cell after it did not run
    (shown,) = [o for o in swept.outputs if o.output_type == "display_data" and "text/html" in o.data]
    assert shown.data["text/plain"] == str(the_sweep_of_seeds_0_to_2())
    assert (
        "interrupted after 3 of 10 seeds; not run: 3-9" in shown.data["text/html"] and "<svg" in shown.data["text/html"]
    )
    (error,) = [o for o in swept.outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("KeyboardInterrupt", expected)
    assert swept.outputs.index(shown) < swept.outputs.index(error)


def test_run_all_stops_at_a_sweep_interrupted_as_the_interrupt_button_does():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:

        def reply(msg_id: str) -> dict:
            while True:
                message = kc.get_shell_msg(timeout=120)
                if message["parent_header"].get("msg_id") == msg_id:
                    return message["content"]

        assert reply(kc.execute(KERNEL_IMPORTS))["status"] == "ok"
        # Run All: the cells are queued at once, each to stop the queue on an error.
        marked = SWEEP_TO_INTERRUPT.format("print('seed 3 runs', flush=True)")
        swept, after = kc.execute(marked, stop_on_error=True), kc.execute("print('it ran')", stop_on_error=True)
        outputs: dict[str, list[tuple[str, dict]]] = {swept: [], after: []}
        while True:
            message = kc.get_iopub_msg(timeout=120)
            parent, kind = message["parent_header"].get("msg_id"), message["msg_type"]
            if parent not in outputs:
                continue
            if kind == "stream" and message["content"]["text"] == "seed 3 runs\n":
                km.interrupt_kernel()  # what the interrupt button does
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs[parent].append((kind, message["content"]))
            if kind == "status" and message["content"]["execution_state"] == "idle" and parent == after:
                break
        first, second = reply(swept), reply(after)
        assert (first["status"], first["ename"]) == ("error", "KeyboardInterrupt")
        assert second["status"] == "aborted" and outputs[after] == []
        shown = [
            c["data"]["text/plain"] for kind, c in outputs[swept] if kind == "display_data" and "text/html" in c["data"]
        ]
        assert shown == [str(the_sweep_of_seeds_0_to_2())]
        values = kc.execute("print(json.dumps(sweep.values))")
        assert reply(values)["status"] == "ok"
        while True:
            message = kc.get_iopub_msg(timeout=120)
            if message["parent_header"].get("msg_id") == values and message["msg_type"] == "stream":
                break
        assert json.loads(message["content"]["text"]) == [torch_rand(seed) for seed in range(3)]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
