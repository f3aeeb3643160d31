"""A plot is what it draws: ``%%seeded --check`` and ``%%seeds`` on cells that plot with matplotlib.

Each test says what one plain run of the cell leaves in pyplot (its figures, what they draw) and checks that the
check leaves exactly that, with a verdict a careful reader would give. matplotlib draws with Agg here, and in a real
kernel with the inline backend, as a notebook does.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from conftest import checked, names_in, run_ok
from test_kernel import run_kernel

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.mixture import GaussianMixture


def check(shell, capsys, body: str) -> str:
    """The report of ``%%seeded 0 --check``, without the cell's ``Out[N]``."""
    return "".join(line for line in checked(shell, capsys, body).splitlines(True) if not line.startswith("Out["))


@pytest.fixture
def ip(ip):
    plt.close("all")
    with names_in(ip, np=np, plt=plt, GaussianMixture=GaussianMixture):
        yield ip
    plt.close("all")


def pixels(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="rgba", dpi=figure.dpi)
    return buffer.getvalue()


def plain(body: str, seed: int = 0) -> list[bytes]:
    """What one plain run of ``body`` draws, from ``seed``: each new figure's pixels. pyplot is left as it was."""
    before = set(plt.get_fignums())
    namespace = {"np": np, "plt": plt, "GaussianMixture": GaussianMixture}
    np.random.seed(seed)
    exec(body, namespace)
    made = [plt.figure(n) for n in plt.get_fignums() if n not in before]
    drawn = [pixels(figure) for figure in made]
    for figure in made:
        plt.close(figure)
    return drawn


def drawn_now(before: set[int]) -> list[bytes]:
    return [pixels(plt.figure(n)) for n in plt.get_fignums() if n not in before]


GAUSSIAN_MIXTURE = (
    "X = np.random.RandomState(0).randn(200, 2)\ngm = GaussianMixture(3, random_state=0).fit(X)\n"
    "plt.scatter(X[:, 0], X[:, 1], c=gm.predict(X));"
)


@pytest.mark.parametrize(
    "body",
    [
        GAUSSIAN_MIXTURE,
        "plt.figure()",
        "fig, ax = plt.subplots()\nax.plot(np.random.rand(5), label='x')\nax.legend()",
        "fig, axes = plt.subplots(2, 2)\nfor a in axes.flat:\n    a.hist(np.random.randn(50))\nfig.suptitle('hists')",
        "plt.plot(np.random.rand(4))\nplt.title('a title')\nplt.gca()",
    ],
)
def test_a_cell_that_plots_seeded_data_is_reproducible_and_leaves_the_figures_one_run_leaves(ip, capsys, body):
    expected = plain(body)
    report = check(ip, capsys, body)
    assert report.startswith("seedmagic: reproducible: two runs from seed 0 gave the same "), report
    assert drawn_now(set()) == expected  # one run's figures, drawing what one plain run draws


def test_a_plot_of_unseeded_data_differs_in_what_it_draws_and_names_the_generator(ip, capsys):
    report = check(ip, capsys, "fig, ax = plt.subplots()\nax.plot(np.random.default_rng().random(5))")
    lines = report.splitlines()
    assert lines[0] == "seedmagic: NOT reproducible: two runs from seed 0 differ in 1 of 3:"
    assert lines[1].startswith("  fig: what the figure draws differs (") and lines[1].endswith(" pixels)")
    assert " at 0x" not in report and "Figure size" not in report  # no excerpt: the difference is in the pixels
    assert (
        lines[2] == f"  cause: a NumPy Generator made without a seed at In [{ip.execution_count - 1}], line 3: "
        "make it with seedmagic.rng()"
    )
    assert len(lines) == 3
    assert len(plt.get_fignums()) == 1


def test_a_figure_no_name_holds_is_compared_as_a_plain_cell_shows_it(ip, capsys):
    report = check(ip, capsys, "plt.plot(np.random.default_rng().random(5));")
    assert "NOT reproducible" in report and "  figure 1: what the figure draws differs (" in report
    assert plt.get_fignums() == [1]
    report = check(ip, capsys, "plt.close('all')\nplt.plot(np.random.rand(5));")
    assert report == "seedmagic: reproducible: two runs from seed 0 gave the same figure 1\n"


def test_a_cell_that_draws_into_a_figure_made_before_it_runs_once_and_says_so(ip, capsys):
    run_ok(ip, "fig, ax = plt.subplots()\nax.plot([1, 2, 3])")
    fig = ip.user_ns["fig"]
    report = check(ip, capsys, "ax.plot(np.random.rand(3))")
    assert report == (
        "seedmagic: cannot tell whether the cell repeats: the cell draws into figure 1, made before it, which a "
        "second run would draw into again; make the figure in the cell (plt.subplots()) to check it; the notebook "
        "holds what that one run left\n"
    )
    assert len(fig.axes[0].lines) == 2  # one more line, as after one plain run
    # The same through pyplot's current figure, and through an axes the notebook holds in a list.
    run_ok(ip, "held = [ax]\ndel ax, fig")
    assert "the cell draws into figure 1" in check(ip, capsys, "plt.plot([0, 1])")
    assert "the cell draws into figure 1" in check(ip, capsys, "held[0].set_title('t')")
    assert len(fig.axes[0].lines) == 3


def test_a_trailing_semicolon_hides_the_value_and_the_figure_is_still_compared(ip, capsys):
    report = check(ip, capsys, "plt.hist(np.random.randn(100));")
    assert report == "seedmagic: reproducible: two runs from seed 0 gave the same figure 1\n"
    report = check(ip, capsys, "plt.close('all')\nplt.hist(np.random.default_rng().normal(size=100));")
    assert "  figure 1: what the figure draws differs" in report and "Out" not in report


def test_pyplot_imported_by_the_cell_itself_is_watched(fresh_python):
    figures, report = fresh_python(
        """
        import contextlib, io
        import matplotlib
        matplotlib.use("Agg")
        cell("%load_ext seedmagic")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            cell("%%seeded 0 --check\\nimport numpy as np\\nimport matplotlib.pyplot as plt\\n"
                 "plt.plot(np.random.rand(3));")
        import matplotlib.pyplot as plt
        emit([plt.get_fignums(), out.getvalue()])
        """
    )
    assert figures == [1]  # the first run's figure closed, as after one plain run
    assert report == "seedmagic: reproducible: two runs from seed 0 gave the same figure 1\n"


def test_a_sweep_over_a_plotting_cell_leaves_pyplot_as_before(ip):
    run_ok(ip, "kept = plt.figure()")
    run_ok(ip, "%%seeds 0-2 -q -o swept\nplt.figure()\nplt.plot(np.random.rand(3))\nfloat(np.random.rand())")
    assert plt.get_fignums() == [1] and plt.gcf() is ip.user_ns["kept"]
    assert len(ip.user_ns["swept"].values) == 3


def test_isolate_keeps_the_figures_the_cell_draws(ip):
    expected = plain("plt.plot(np.random.rand(3));")
    run_ok(ip, "%%seeded 0 --isolate\nplt.plot(np.random.rand(3));")
    assert drawn_now(set()) == expected


def test_check_in_a_kernel_shows_one_plot_and_says_reproducible():
    ran = run_kernel(
        "%load_ext seedmagic\n%matplotlib inline\nimport numpy as np, matplotlib.pyplot as plt\n"
        "from sklearn.mixture import GaussianMixture",
        f"%%seeded 0 --check\n{GAUSSIAN_MIXTURE}",
        "%%seeded 0 --check\nfig, ax = plt.subplots()\nax.plot(np.random.default_rng().random(5))\nax.set_title('x');",
        "plt.get_fignums()",
    )
    _, mixture, unseeded, left = ran
    mixture_images = [o for o in mixture.outputs if "image/png" in o.get("data", {})]
    assert len(mixture_images) == 1  # one figure, as a plain cell shows
    assert mixture.stdout.startswith("seedmagic: reproducible: two runs from seed 0 gave the same X, gm, figure 1")
    assert mixture.stderr == ""
    assert len([o for o in unseeded.outputs if "image/png" in o.get("data", {})]) == 1
    assert "  fig: what the figure draws differs (" in unseeded.stderr
    assert "cause: a NumPy Generator made without a seed at In [3], line 3: make it with seedmagic.rng()" in (
        unseeded.stderr
    )
    assert left.result == "[]"  # the inline backend closed every figure, the first runs' included


def test_a_sweep_that_draws_into_a_figure_made_before_it_stops_after_one_run(ip, capsys):
    run_ok(ip, "fig, ax = plt.subplots()")
    ip.run_cell("%%seeds 0-2 -o swept\nax.plot(np.random.rand(3))\nfloat(np.random.rand())", store_history=True)
    assert len(ip.user_ns["fig"].axes[0].lines) == 1  # one run's line, as the report says
    shown = capsys.readouterr().out
    assert "stopped after 0 of 3 seeds" in shown and "note: a run drew into figure 1, made before the sweep" in shown
    assert ip.user_ns["swept"].notes[-1].startswith("a run drew into figure 1, made before the sweep, which cannot")


def test_seaborn_plots_in_a_kernel_a_bootstrap_without_a_seed_is_charged_to_seaborn():
    """seaborn's histograms and density plots repeat under a seed; its bar plot bootstraps a confidence interval
    with a NumPy Generator of its own, made without a seed unless ``seed=`` is given."""
    pytest.importorskip("seaborn")
    ran = run_kernel(
        "%load_ext seedmagic\n%matplotlib inline\nimport numpy as np, pandas as pd, seaborn as sns\n"
        "df = pd.DataFrame({'g': list('ab') * 50, 'v': np.arange(100.0) % 7})",
        "%%seeded 0 --check\nsns.histplot(np.random.randn(200));",
        "%%seeded 0 --check\nsns.kdeplot(df['v']);",
        "%%seeded 0 --check\nsns.barplot(data=df, x='g', y='v');",
        "%%seeded 0 --check\nsns.barplot(data=df, x='g', y='v', seed=0);",
    )
    _, histogram, density, bootstrapped, seeded = ran
    for cell in (histogram, density, seeded):
        assert cell.stdout == "seedmagic: reproducible: two runs from seed 0 gave the same figure 1\n", cell.stderr
        assert len([o for o in cell.outputs if "image/png" in o.get("data", {})]) == 1
    assert "  figure 1: what the figure draws differs (" in bootstrapped.stderr
    assert "cause: a NumPy Generator made without a seed inside seaborn/" in bootstrapped.stderr
    assert "called at In [4], line 2: pass it one" in bootstrapped.stderr
