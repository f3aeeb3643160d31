"""SeedSweep, the result of a sweep, and the paired comparison of two sweeps (PairedDifference, Comparison)."""

from __future__ import annotations

import functools
import html
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..arguments import InvalidArgument, InvalidArgumentType
from . import display
from .metrics import SCALAR
from .seeds import describe_seeds
from .stats import LEVEL, Summary, check_level, interval, mean_std, welch

if TYPE_CHECKING:
    import pandas
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

_T = TypeVar("_T")


class UnknownMetric(InvalidArgument, KeyError):
    """``sweep["name"]`` for a metric the sweep does not have: a ``KeyError``."""

    __module__ = "seedmagic.sweeps"  # as a traceback names it: seedmagic.sweeps.UnknownMetric, its public home

    def __str__(self) -> str:  # the message, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class SeedRun:
    """One seed's run: its metric (a dict, a one-number metric under its name), or the one-line error it raised."""

    seed: int
    metrics: dict[str, float] | None
    error: str | None = None


@dataclass(frozen=True, eq=False)
class SeedSweep:
    """The result of ``%%seeds`` or ``seedmagic.sweep``: one value per seed, and the spread.

    ``values``, ``mean``, ``std``, ``ci()``, ``min``, ``max`` and ``n`` are numbers for a one-number metric and dicts
    (metric name to number) for a dict metric; ``sweep["acc"]`` is the sweep of one metric. ``seeds`` are the seeds
    that gave a value, in order (``values`` follows them); ``errors`` the seeds whose run raised."""

    #: The seeds the sweep was to run, in order.
    planned: tuple[int, ...]
    #: The seeds that ran, in order: each with its metric or error.
    runs: tuple[SeedRun, ...]
    #: The name of a one-number metric; None for a dict metric.
    metric: str | None = SCALAR
    #: What the sweep is called (``-o NAME``), in the text and in comparisons.
    name: str | None = None
    #: With ``%%seeds N``: the session seed the seeds were derived from.
    derived_from: int | None = None
    #: Stopped before every seed ran (an interrupt, or an error with ``stop_on_error``).
    interrupted: bool = False
    #: What may keep the runs from starting alike (a value the cell reads that could not be copied).
    notes: tuple[str, ...] = ()
    #: What stopped it early: ``"interrupt"`` or ``"error"`` (``stop_on_error``); else None.
    stopped_by: str | None = None

    # -- values --

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics' names, in the order the runs gave them."""
        if self.metric is not None:
            return (self.metric,)
        return tuple(dict.fromkeys(key for run in self.runs if run.metrics for key in run.metrics))

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds whose run gave a value."""
        return tuple(run.seed for run in self.runs if run.metrics is not None)

    @property
    def errors(self) -> dict[int, str]:
        """Each seed whose run raised, with the error in one line."""
        return {run.seed: run.error for run in self.runs if run.error is not None}

    def _column(self, metric: str) -> list[tuple[int, float]]:
        return [(run.seed, run.metrics[metric]) for run in self.runs if run.metrics and metric in run.metrics]

    def _per_metric(self, get: Callable[[str], _T]) -> _T | dict[str, _T]:
        if self.metric is not None:
            return get(self.metric)
        return {metric: get(metric) for metric in self.metrics}

    @property
    def values(self) -> list[float] | dict[str, list[float]]:
        """The value for each seed in ``seeds`` (inf and NaN included); for a dict metric, a list per metric."""
        return self._per_metric(lambda metric: [value for _, value in self._column(metric)])

    def __getitem__(self, metric: str) -> SeedSweep:
        """The sweep of one metric of a dict metric: its seeds are those whose run gave it."""
        metric = str(metric) if isinstance(metric, str) else metric  # np.str_("acc") is "acc"
        if metric not in self.metrics:
            raise UnknownMetric(
                f"{metric!r}: the metrics are {', '.join(self.metrics) or 'none (no run gave a value)'}"
            )
        runs = tuple(
            SeedRun(run.seed, {metric: run.metrics[metric]})
            if run.metrics is not None and metric in run.metrics
            else SeedRun(run.seed, None, run.error or f"no {metric!r} in its metric")
            for run in self.runs
        )
        name = f"{self.name}[{metric!r}]" if self.name else None
        return SeedSweep(
            self.planned, runs, metric, name, self.derived_from, self.interrupted, self.notes, self.stopped_by
        )

    def summary(self, level: float = LEVEL) -> tuple[Summary, ...]:
        """n, mean, standard deviation, the ``level`` interval (Student's t), min and max, for each metric."""
        level = check_level(level)
        return tuple(Summary.of(m, [v for _, v in self._column(m)], level) for m in self.metrics)

    def _stat(self, get: Callable[[Summary], _T]) -> _T | dict[str, _T]:
        summaries = {summary.metric: summary for summary in self.summary()}
        return self._per_metric(lambda metric: get(summaries[metric]))

    @property
    def n(self) -> int | dict[str, int]:
        """How many values the statistics use (inf and NaN left out)."""
        return self._stat(lambda summary: summary.n)

    @property
    def mean(self) -> float | dict[str, float]:
        return self._stat(lambda summary: summary.mean)

    @property
    def std(self) -> float | dict[str, float]:
        """The sample standard deviation (n - 1 in the denominator); NaN with fewer than two values."""
        return self._stat(lambda summary: summary.std)

    @property
    def min(self) -> float | dict[str, float]:
        return self._stat(lambda summary: summary.min)

    @property
    def max(self) -> float | dict[str, float]:
        return self._stat(lambda summary: summary.max)

    def ci(self, level: float = LEVEL) -> tuple[float, float] | dict[str, tuple[float, float]]:
        """The ``level`` confidence interval for the mean over seeds: ``mean ± t * std / sqrt(n)``, t from Student's
        t distribution with n - 1 degrees of freedom. NaN with fewer than two values."""
        summaries = {summary.metric: summary for summary in self.summary(level)}
        return self._per_metric(lambda metric: summaries[metric].ci)

    def to_frame(self) -> pandas.DataFrame:
        """A pandas DataFrame, one row per seed that ran (index ``seed``), a column per metric, and ``error`` where
        a run raised."""
        try:
            import pandas
        except ImportError:
            raise ImportError("SeedSweep.to_frame() needs pandas: pip install pandas") from None
        rows = [{**(run.metrics or {}), **({"error": run.error} if self.errors else {})} for run in self.runs]
        frame = pandas.DataFrame(rows, index=pandas.Index([run.seed for run in self.runs], name="seed"))
        return frame.reindex(columns=[*self.metrics, *(["error"] if self.errors else [])])

    # -- comparing --

    def compare(self, other: SeedSweep, level: float = LEVEL) -> Comparison:
        """This sweep against ``other`` over the same seeds, seed by seed: the mean difference (this minus other),
        its ``level`` interval from the paired differences, and how many seeds favour each side. Refused
        (``ValueError``) when the sweeps ran different seeds or share no metric."""
        level = check_level(level)
        if not isinstance(other, SeedSweep):
            raise InvalidArgumentType(f"compare takes another SeedSweep, got {type(other).__name__}")
        mine, theirs = [run.seed for run in self.runs], [run.seed for run in other.runs]
        if mine != theirs:
            raise InvalidArgument(_different_seeds(mine, theirs))
        shared = [metric for metric in self.metrics if metric in other.metrics]
        if self.metric is not None and other.metric is not None:
            shared = [self.metric]  # two one-number metrics compare whatever their names
        if not shared:
            raise InvalidArgument(
                f"the sweeps share no metric: {', '.join(self.metrics) or 'none'} vs "
                f"{', '.join(other.metrics) or 'none'}"
            )
        differences = []
        for metric in shared:
            theirs_metric = other.metric if self.metric is not None and other.metric is not None else metric
            a, b = dict(self._column(metric)), dict(other._column(theirs_metric))
            differences.append(PairedDifference.of(metric, a, b, mine, level))
        return Comparison(
            self.name or "this sweep", other.name or "the other sweep", tuple(differences), self.metric is not None
        )

    # -- the best seed --

    def extremes(self) -> dict[int, str]:
        """The seeds that gave a metric's highest or lowest value, with what they gave (for the best-seed note)."""
        found: dict[int, str] = {}
        for summary in self.summary():
            column = [(seed, value) for seed, value in self._column(summary.metric) if math.isfinite(value)]
            if summary.n < 2 or summary.min == summary.max:
                continue
            formatted = display.formatter([value for _, value in column])
            for word, target in (("highest", summary.max), ("lowest", summary.min)):
                for seed, value in column:
                    if value == target and seed not in found:
                        found[seed] = (
                            f"seed {seed} gave the {word} {summary.metric} of {len(column)} seeds in "
                            f"{self.name or 'a sweep'} ({formatted(value)}; mean {formatted(summary.mean)}, "
                            f"std {formatted(summary.std)})"
                        )
        return found

    def best_seed_note(self, seed: int) -> str | None:
        """The one-line note for reseeding with a seed that gave a metric's highest or lowest value, else None."""
        return self.best_seed_notes.get(seed)

    @functools.cached_property
    def best_seed_notes(self) -> dict[int, str]:
        """``best_seed_note`` for every seed that has one (worked out once: a sweep does not change)."""
        return {
            seed: "\n".join(
                textwrap.wrap(
                    f"seedmagic: note: {extreme}: report the mean and spread, not the best of {len(self.seeds)} seeds",
                    80,
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
            for seed, extreme in self.extremes().items()
        }

    # -- showing --

    def __str__(self) -> str:
        return "\n".join(display.text_lines(self))

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return display.sweep_html(self)

    def plot(self, ax: Axes | None = None) -> Figure | SubFigure:
        """Draw the spread with matplotlib: a strip of each metric's values (one point per seed), the mean and its
        interval. Draws onto ``ax`` (one metric) or a new figure (a panel per metric); returns the figure."""
        return display.plot(self, ax)


@dataclass(frozen=True)
class PairedDifference:
    """One metric of a comparison: ``a - b`` seed by seed."""

    metric: str
    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    mean: float
    std: float
    ci: tuple[float, float]
    #: Seeds where a is higher, where b is, and where they are equal.
    a_higher: int
    b_higher: int
    ties: int
    #: The interval the same values give when their pairing is ignored (Welch's), for contrast.
    unpaired_ci: tuple[float, float]
    #: Seeds left out: no value, or inf or NaN, on one side.
    left_out: tuple[int, ...] = ()
    level: float = LEVEL

    @classmethod
    def of(
        cls, metric: str, a: dict[int, float], b: dict[int, float], seeds: Sequence[int], level: float
    ) -> PairedDifference:
        paired = [s for s in seeds if s in a and s in b and math.isfinite(a[s]) and math.isfinite(b[s])]
        differences = tuple(a[s] - b[s] for s in paired)
        mean, std = mean_std(differences)
        return cls(
            metric,
            tuple(paired),
            differences,
            mean,
            std,
            interval(mean, std, len(differences), level),
            sum(d > 0 for d in differences),
            sum(d < 0 for d in differences),
            sum(d == 0 for d in differences),
            welch([a[s] for s in paired], [b[s] for s in paired], level),
            tuple(s for s in seeds if s not in paired),
            level,
        )


def _different_seeds(mine: Sequence[int], theirs: Sequence[int]) -> str:
    only_mine, only_theirs = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
    parts = [
        f"only in this one: {describe_seeds(only_mine)}" if only_mine else "",
        f"only in the other: {describe_seeds(only_theirs)}" if only_theirs else "",
    ]
    detail = "; ".join(p for p in parts if p) or "the same seeds in another order"
    return f"the sweeps ran different seeds ({detail}): a paired comparison needs the same seeds"


@dataclass(frozen=True)
class Comparison:
    """``a.compare(b)``: per metric, the paired difference ``a - b``. The attributes of a one-number metric's
    comparison (``mean``, ``ci``, ``a_higher``, ...) are those of its one ``PairedDifference``."""

    a: str
    b: str
    differences: tuple[PairedDifference, ...]
    scalar: bool = True

    def __getitem__(self, metric: str) -> PairedDifference:
        for difference in self.differences:
            if difference.metric == metric:
                return difference
        name = str(metric) if isinstance(metric, str) else metric
        compared = ", ".join(d.metric for d in self.differences)
        raise UnknownMetric(f"{name!r}: the metrics compared are {compared}")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in PairedDifference.__dataclass_fields__:
            raise AttributeError(f"'Comparison' object has no attribute {name!r}")
        if self.scalar:
            return getattr(self.differences[0], name)
        return {difference.metric: getattr(difference, name) for difference in self.differences}

    def __str__(self) -> str:
        return "\n".join(display.comparison_lines(self))

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"
