"""``%%seeds`` and ``seedmagic.sweep``: run the same code under many seeds and show the spread.

A seed is a source of variance: a result that holds for one seed may not hold for the next. A sweep runs the code
once per seed, each run as ``%%seeded k --isolate`` runs (reseeded with ``k``, every generator, flag and the session
put back afterwards), and collects one metric per run: a number, a dict of numbers, or a 0-d tensor or array. The
result, a ``SeedSweep``, gives the value for each seed, and for each metric n, the mean, the standard deviation, a
confidence interval for the mean (Student's t), the minimum and maximum; two sweeps over the same seeds compare seed
by seed (``SeedSweep.compare``: the paired difference and its interval).

- A run that raises is reported for its seed and the sweep goes on (``stop_on_error=True`` stops it and raises).
  An interrupt (``KeyboardInterrupt``) stops the sweep and keeps what ran: ``%%seeds`` shows it, then raises
  ``KeyboardInterrupt``, so that the cell is an interrupted cell; ``sweep()`` raises ``SweepInterrupted``.
- Values that are not finite (``inf``, ``-inf``, NaN: a run that diverged) are kept in ``values`` and shown, and
  left out of the statistics (the text says how many, and which); with none left, the statistics are NaN.
- With one value, the standard deviation and the interval are undefined: NaN, and the text says so.

The statistics, the text and HTML forms and the plot know nothing of IPython. The notebook side (running a cell's
body once per seed from the same starting namespace, and the progress display) is at the end of this module.
"""

from __future__ import annotations

import ast
import builtins
import functools
import html
import math
import numbers
import operator
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import CodeType
from typing import IO, TYPE_CHECKING, Any, TypeVar

from .engine import (
    ENGINE,
    Engine,
    InvalidArgument,
    InvalidArgumentType,
    check_bool,
    derive_seed,
    parse_seed,
    validate_seed,
)
from .errors import one_line, shown

if TYPE_CHECKING:
    import pandas
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from .engine import Selection

LEVEL = 0.95
MOST_SEEDS = 1_000_000
"""More seeds than this in one sweep is refused: ``0-4294967295`` is a typo, not a plan."""
WIDTH = 80
_PROGRESS_EVERY_S = 0.1  # the progress display is updated at most this often (and after the last seed)
_SCALAR = "metric"  # the name of a one-number metric when what the cell's last expression means has no name
_SHORT = 16  # a metric's name every table shows whole

Metric = float | dict[str, float]
_T = TypeVar("_T")


class NotAMetric(InvalidArgument):
    """The code's value is not a number, a dict of numbers or a 0-d tensor or array."""


class UnknownMetric(InvalidArgument, KeyError):
    """``sweep["name"]`` for a metric the sweep does not have: a ``KeyError``."""

    def __str__(self) -> str:  # the message, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class SweepInterrupted(KeyboardInterrupt):
    """``sweep()`` was interrupted: ``.sweep`` holds the seeds that ran."""

    def __init__(self, sweep: SeedSweep) -> None:
        super().__init__(f"interrupted after {len(sweep.runs)} of {len(sweep.planned)} seeds")
        self.sweep = sweep


# -- the seeds -----------------------------------------------------------------------------------------------------


def parse_seeds(text: str, session_seed: int | None = None) -> tuple[int, ...]:
    """The seeds a ``%%seeds`` line names: ``0-9`` (both ends included), ``3,7,11``, a mix (``0-4,10``), or a count
    alone (``10``: that many seeds derived from the session seed). ``5,`` is the one seed 5."""
    text = text.strip()
    if not text:
        raise InvalidArgument("no seeds: give a range (0-9), a list (3,7,11) or a count (10)")
    if names_a_count(text):
        count = _count(text)
        if session_seed is None:
            raise InvalidArgument(
                f"{text} seeds derived from the session seed need one: set it with %seed N, or name the seeds "
                f"(e.g. 0-{max(count - 1, 0)})"
            )
        return derived_seeds(session_seed, count)
    seeds: list[int] = []
    for item in (item.strip() for item in text.split(",")):
        if not item:
            continue
        start, dash, end = item.partition("-") if not item.startswith("-") else (item, "", "")
        if not dash:
            seeds.append(parse_seed(item))
        else:
            low, high = parse_seed(start), parse_seed(end)
            if high < low:
                raise InvalidArgument(f"the range {item} runs backwards: write {high}-{low}")
            if len(seeds) + high - low + 1 > MOST_SEEDS:
                raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
            seeds.extend(range(low, high + 1))
    if not seeds:
        raise InvalidArgument("no seeds: give a range (0-9), a list (3,7,11) or a count (10)")
    if len(seeds) > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    _no_repeats(seeds)
    return tuple(seeds)


def names_a_count(text: str) -> bool:
    """Whether a ``%%seeds`` text is a count (``10``) rather than seeds (``0-9``, ``3,7``, ``5,``)."""
    return "," not in text and "-" not in text.strip().lstrip("+-")


def _count(text: str) -> int:
    try:
        count = int(text, 10)
    except ValueError:
        raise InvalidArgument(f"seeds must be a range (0-9), a list (3,7,11) or a count (10), got {text!r}") from None
    if count < 1:
        raise InvalidArgument(f"no seeds: a count must be at least 1, got {count}")
    if count > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    return count


def derived_seeds(base: int, count: int) -> tuple[int, ...]:
    """``count`` seeds derived from ``base`` (``derive_seed(base, "sweep:i")``), the same in every process."""
    return tuple(derive_seed(base, f"sweep:{index}") for index in range(count))


def _no_repeats(seeds: Sequence[int]) -> None:
    seen: set[int] = set()
    for seed in seeds:
        if seed in seen:
            raise InvalidArgument(f"seed {seed} is named twice")
        seen.add(seed)


def _resolve(seeds: int | str | Iterable[int], engine: Engine) -> tuple[int, ...]:
    """``sweep()``'s seeds: a count (derived from the session seed), a ``%%seeds`` text, or the seeds themselves."""
    if isinstance(seeds, str):
        return parse_seeds(seeds, engine.seed)
    count = _as_count(seeds)
    if count is not None:
        return parse_seeds(str(count), engine.seed)
    if not isinstance(seeds, Iterable) or getattr(seeds, "ndim", None) == 0:
        raise InvalidArgumentType(f"seeds must be a count, a text such as '0-9', or seeds, got {shown(seeds)}")
    resolved = tuple(validate_seed(seed) for seed in seeds)
    if not resolved:
        raise InvalidArgument("no seeds to run")
    if len(resolved) > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    _no_repeats(resolved)
    return resolved


def _as_count(seeds: object) -> int | None:
    """``seeds`` as a count (an int, ``np.int64(10)``, ``torch.tensor(10)``), or None when it is not one."""
    if isinstance(seeds, bool):
        return None
    if isinstance(seeds, numbers.Integral) or getattr(seeds, "ndim", None) == 0:
        try:
            return operator.index(seeds)  # type: ignore[arg-type]  # checked: an int-like, or refused
        except TypeError:
            return None
    return None


def describe_seeds(seeds: Sequence[int]) -> str:
    """``0-9``, ``3, 7, 11``, ``0-4, 10``: runs of consecutive seeds as ranges."""
    parts, index = [], 0
    while index < len(seeds):
        end = index
        while end + 1 < len(seeds) and seeds[end + 1] == seeds[end] + 1:
            end += 1
        parts.append(str(seeds[index]) if end == index else f"{seeds[index]}-{seeds[end]}")
        index = end + 1
    return ", ".join(parts)


# -- metrics -------------------------------------------------------------------------------------------------------


_CELL = ("the cell's last expression is", "end the cell with")
"""What ``as_metric`` says of a cell's value: the value is (what), and the fix."""


def as_metric(value: Any, said: tuple[str, str] = _CELL) -> Metric:
    """A run's value as a float, or a dict of floats; ``NotAMetric`` for anything else."""
    number = _number(value)
    if number is not None:
        return number
    what, fix = said
    needed = f"{fix} the metric, a number, a dict of numbers or a 0-d tensor or array"
    if isinstance(value, dict):
        if not value:
            raise NotAMetric(f"{what} an empty dict: a metric needs at least one number")
        metrics = {}
        for key, item in value.items():
            number = _number(item)
            if number is None:
                raise NotAMetric(f"{what} a dict whose {key!r} is {_kind(item)}, not a number: {needed}")
            metrics[str(key)] = number
        return metrics
    raise NotAMetric(f"{what} {_kind(value)}: {needed}")


_NEEDED = "end the cell with the metric, a number, a dict of numbers or a 0-d tensor or array"


def _number(value: Any) -> float | None:
    """A real number, or a 0-d tensor or array of one (torch, NumPy, TensorFlow, JAX), as a float; else None."""
    if isinstance(value, numbers.Real):
        return float(value)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "__float__"):
        try:
            return float(value)
        except Exception:  # a complex or string scalar (torch raises RuntimeError for complex)
            return None
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "None (no value)"
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "ndim", None) not in (None, 0):
        return f"a {type(value).__name__} of shape {tuple(shape)} (use .mean(), .item() or [i] to make it one number)"
    text = repr(value)
    text = text if len(text) <= 40 else text[:39] + "…"
    return f"a {type(value).__name__} ({text})"


# -- statistics ----------------------------------------------------------------------------------------------------


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom (``df`` > 0, not necessarily
    whole): what ``scipy.stats.t.ppf(p, df)`` gives, found by bisection on the distribution function."""
    if not 0 < p < 1:
        raise InvalidArgument(f"p must be between 0 and 1, got {p}")
    if not df > 0:
        raise InvalidArgument(f"df must be positive, got {df}")
    return _t_quantile(float(p), float(df))


@functools.lru_cache(maxsize=1024)
def _t_quantile(p: float, df: float) -> float:
    if p < 0.5:
        return -_t_quantile(1 - p, df)
    if p == 0.5:
        return 0.0
    low, high = 0.0, 2.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    while high - low > 1e-13 * high:
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function: ``P(T <= t)`` with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (Lentz's method)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return fraction


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    # Worked out on the values scaled by a power of two below 1 (exact, so the same numbers), that neither the sum nor
    # the squares overflow for values near the largest float (a run that diverged without reaching inf).
    exponent = math.frexp(max(abs(v) for v in values))[1]
    scaled = [math.ldexp(v, -exponent) for v in values]
    mean = math.fsum(scaled) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in scaled) / (n - 1)) if n > 1 else math.nan
    return _unscaled(mean, exponent), _unscaled(std, exponent)


def _unscaled(x: float, exponent: int) -> float:
    try:
        return math.ldexp(x, exponent)
    except OverflowError:  # a spread wider than the largest float
        return math.copysign(math.inf, x)


_NOT_FINITE = ("inf", "-inf", "NaN")


def _not_finite(values: Iterable[float]) -> dict[str, int]:
    """How many of ``values`` are ``inf``, ``-inf`` and NaN (only the kinds found, in that order)."""
    counts = dict.fromkeys(_NOT_FINITE, 0)
    for v in values:
        if not math.isfinite(v):
            counts["NaN" if math.isnan(v) else "inf" if v > 0 else "-inf"] += 1
    return {kind: count for kind, count in counts.items() if count}


def _interval(mean: float, std: float, n: int, level: float, df: float | None = None) -> tuple[float, float]:
    """``mean ± t * std / sqrt(n)``: Student's t interval for a mean (NaN where n < 2)."""
    if n < 2 or math.isnan(std):
        return math.nan, math.nan
    half = t_quantile((1 + level) / 2, n - 1 if df is None else df) * std / math.sqrt(n)
    return mean - half, mean + half


def _check_level(level: object) -> float:
    """A confidence level: a number (a 0-d tensor or array too) between 0 and 1."""
    number = None if isinstance(level, bool) else _number(level)
    if number is None:
        raise InvalidArgumentType(f"level must be a number between 0 and 1 (e.g. 0.95), got {shown(level)}")
    if not 0 < number < 1:
        raise InvalidArgument(f"level must be between 0 and 1 (e.g. 0.95), got {shown(level)}")
    return number


@dataclass(frozen=True)
class Summary:
    """One metric over a sweep's seeds. ``n`` counts the values in the statistics: NaN, ``inf`` and ``-inf`` are
    left out, counted in ``nan`` and ``inf`` (both signs). With n < 2, ``std`` and ``ci`` are NaN; with n = 0, all
    the statistics are."""

    metric: str
    n: int
    mean: float
    std: float
    ci: tuple[float, float]
    min: float
    max: float
    nan: int = 0
    level: float = LEVEL
    inf: int = 0

    @classmethod
    def of(cls, metric: str, values: Sequence[float], level: float = LEVEL) -> Summary:
        kept = [v for v in values if math.isfinite(v)]
        mean, std = _mean_std(kept)
        left_out = _not_finite(values)
        return cls(
            metric,
            len(kept),
            mean,
            std,
            _interval(mean, std, len(kept), level),
            min(kept, default=math.nan),
            max(kept, default=math.nan),
            left_out.get("NaN", 0),
            level,
            left_out.get("inf", 0) + left_out.get("-inf", 0),
        )


# -- the sweep -----------------------------------------------------------------------------------------------------


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
    metric: str | None = _SCALAR
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
        level = _check_level(level)
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
        level = _check_level(level)
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
            formatted = _formatter([value for _, value in column])
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
        return "\n".join(_text_lines(self))

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return _html(self)

    def plot(self, ax: Axes | None = None) -> Figure | SubFigure:
        """Draw the spread with matplotlib: a strip of each metric's values (one point per seed), the mean and its
        interval. Draws onto ``ax`` (one metric) or a new figure (a panel per metric); returns the figure."""
        return _plot(self, ax)


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
        mean, std = _mean_std(differences)
        return cls(
            metric,
            tuple(paired),
            differences,
            mean,
            std,
            _interval(mean, std, len(differences), level),
            sum(d > 0 for d in differences),
            sum(d < 0 for d in differences),
            sum(d == 0 for d in differences),
            _welch([a[s] for s in paired], [b[s] for s in paired], level),
            tuple(s for s in seeds if s not in paired),
            level,
        )


def _welch(a: Sequence[float], b: Sequence[float], level: float) -> tuple[float, float]:
    """Welch's interval for mean(a) - mean(b), as if the two samples were independent."""
    (mean_a, std_a), (mean_b, std_b) = _mean_std(a), _mean_std(b)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    va, vb = std_a**2 / len(a), std_b**2 / len(b)
    if va + vb == 0:
        return mean_a - mean_b, mean_a - mean_b
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile((1 + level) / 2, df) * math.sqrt(va + vb)
    return mean_a - mean_b - half, mean_a - mean_b + half


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
        return "\n".join(_comparison_lines(self))

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


# -- running -------------------------------------------------------------------------------------------------------


class Progress:
    """What a sweep shows while it runs: nothing, by default."""

    def start(self, total: int) -> None:
        pass

    def step(self, done: int, seed: int) -> None:
        pass

    def finish(self, sweep: SeedSweep) -> None:
        pass


def _progress_line(done: int, total: int, seed: int) -> str:
    """``seedmagic: 3 of 16 seeds ran; running seed 3``; without the seed once every seed ran (``seed`` -1)."""
    return f"seedmagic: {done} of {total} seeds ran" + (f"; running seed {seed}" if seed >= 0 else "")


class TextProgress(Progress):
    """A line on ``stream`` (the terminal's stderr), rewritten in place; cleared when the sweep ends. Nothing where
    the stream is not a terminal (redirected to a file or a pipe), which would keep every form of the line."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self.total = 0
        self.shown = 0
        self.last = -math.inf

    def start(self, total: int) -> None:
        self.total = total

    def step(self, done: int, seed: int) -> None:
        now = time.monotonic()
        if done and done < self.total and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        self._write(_progress_line(done, self.total, seed))

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            terminal = False
        if not terminal:
            return
        stream.write("\r" + text.ljust(self.shown))
        stream.flush()
        self.shown = len(text)

    def finish(self, sweep: SeedSweep) -> None:
        if self.shown:
            stream = self.stream or sys.stderr
            stream.write("\r" + " " * self.shown + "\r")
            stream.flush()


def _run_sweep(
    run: Callable[[], Any],
    seeds: Sequence[int],
    *,
    engine: Engine,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    progress: Progress | None = None,
    metric: str = _SCALAR,
    name: str | None = None,
    derived_from: int | None = None,
    same_start: Callable[[Callable[[], Any]], Any] | None = None,
    notes: Callable[[], tuple[str, ...]] = tuple,
    said: tuple[str, str] = _CELL,
) -> tuple[SeedSweep, BaseException | None]:
    """Run ``run()`` once per seed, each under ``engine.seeded(seed, isolate=True)`` (and through ``same_start``);
    returns the sweep and, with ``stop_on_error``, the exception that stopped it. A value that is not a metric is
    raised as ``NotAMetric``; an interrupt ends the sweep with what ran."""
    __tracebackhide__ = True
    progress = progress or Progress()
    runs: list[SeedRun] = []
    scalar: bool | None = None
    stopped: BaseException | None = None
    interrupted = False
    stopped_by: str | None = None
    progress.start(len(seeds))

    def finished() -> SeedSweep:
        return SeedSweep(
            tuple(seeds),
            tuple(runs),
            metric if scalar is not False else None,
            name,
            derived_from,
            interrupted,
            notes(),
            stopped_by,
        )

    try:
        for done, seed in enumerate(seeds):
            progress.step(done, seed)
            try:
                with engine.seeded(seed, only=only, skip=skip, isolate=True):
                    value = same_start(run) if same_start is not None else run()
            except KeyboardInterrupt:
                interrupted, stopped_by = True, "interrupt"
                break
            except _Stopped:  # the namespace could not be put back as before: the sweep's notes say why
                interrupted = True
                break
            except Exception as exc:
                runs.append(SeedRun(seed, None, one_line(exc)))
                if stop_on_error:
                    interrupted = len(runs) < len(seeds)
                    stopped_by = "error" if interrupted else None
                    stopped = exc
                    break
                continue
            metrics = as_metric(value, said)
            if scalar is None:
                scalar = not isinstance(metrics, dict)
            elif scalar != (not isinstance(metrics, dict)):
                raise NotAMetric(
                    f"seed {seed} gave {'a dict' if isinstance(metrics, dict) else 'one number'}, the seeds before it "
                    f"{'one number' if scalar else 'a dict'}: every run must give the same kind of metric"
                )
            runs.append(SeedRun(seed, {metric: metrics} if isinstance(metrics, float) else metrics))
        else:
            progress.step(len(seeds), -1)
    except KeyboardInterrupt:  # between two runs
        interrupted, stopped_by = True, "interrupt"
    finally:
        result = finished()
        progress.finish(result)
    return result, stopped


def sweep(
    fn: Callable[[], Any],
    seeds: int | str | Iterable[int],
    *,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    progress: bool = False,
    name: str | None = None,
) -> SeedSweep:
    """Call ``fn()`` once per seed, each call as ``with seedmagic.seeded(seed, isolate=True): fn()``, and collect
    its return value, a number, a dict of numbers or a 0-d tensor or array: ``%%seeds`` for scripts.

    ``seeds``: the seeds (``range(10)``), a ``%%seeds`` text (``"0-9"``, ``"3,7,11"``), or a count (``10``: seeds
    derived from the session seed). A call that raises is recorded for its seed and the sweep goes on, unless
    ``stop_on_error``. An interrupt raises ``SweepInterrupted``, a ``KeyboardInterrupt`` whose ``.sweep`` holds
    what ran. ``progress=True`` shows a line on stderr. Checks every argument before running anything.
    """
    __tracebackhide__ = True
    if not callable(fn):
        raise InvalidArgumentType(f"sweep() needs a function to call, got {shown(fn)}")
    check_bool("stop_on_error", stop_on_error)
    check_bool("progress", progress)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentType(f"name must be a str or None, got {shown(name)}")
    resolved = _resolve(seeds, ENGINE)
    ENGINE.seeded(resolved[0], only=only, skip=skip)  # checks only/skip; the context manager is not entered
    metric = getattr(fn, "__name__", _SCALAR)
    metric = metric if isinstance(metric, str) and metric.isidentifier() else _SCALAR
    called = f"{metric}()" if metric != _SCALAR else "the function"
    result, stopped = _run_sweep(
        fn,
        resolved,
        engine=ENGINE,
        only=only,
        skip=skip,
        stop_on_error=stop_on_error,
        progress=TextProgress() if progress else None,
        metric=metric,
        name=name,
        derived_from=ENGINE.seed if _is_count(seeds) else None,
        said=(f"{called} returned", "return"),
    )
    if stopped is not None:
        raise stopped
    if result.interrupted:
        raise SweepInterrupted(result)
    return result


def _is_count(seeds: int | str | Iterable[int]) -> bool:
    if isinstance(seeds, str):
        return names_a_count(seeds)
    return _as_count(seeds) is not None


# -- text ----------------------------------------------------------------------------------------------------------


def _formatter(values: Sequence[float]) -> Callable[[float], str]:
    """One format for a metric's numbers: whole numbers as such, else about three significant digits of the spread
    (or of the values, when they do not spread)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and all(v == int(v) and abs(v) < 1e15 for v in finite):
        return lambda v: f"{v:.0f}" if math.isfinite(v) and v == int(v) else f"{v:.4g}"
    spread = max(finite) - min(finite) if len(finite) > 1 else 0.0
    reference = spread or max((abs(v) for v in finite), default=1.0) or 1.0
    largest = max((abs(v) for v in finite), default=1.0)
    decimals = min(max(2 - math.floor(math.log10(reference)), 0), 8)
    if largest >= 1e8 or (largest and largest < 1e-4 and reference < 1e-6):
        return lambda v: f"{v:.4g}"
    return lambda v: f"{v:.{decimals}f}" if math.isfinite(v) else _plain(v)


def _plain(value: float) -> str:
    return "nan" if math.isnan(value) else str(value)


def _header(sweep: SeedSweep) -> str:
    if sweep.derived_from is not None:
        seeds = f"{len(sweep.planned)} seeds derived from session seed {sweep.derived_from}"
    else:
        seeds = f"{len(sweep.planned)} seed{'s' if len(sweep.planned) != 1 else ''} ({describe_seeds(sweep.planned)})"
    name = f"{sweep.name}: " if sweep.name else ""
    what = ", ".join(sweep.metrics) or "no value"
    return f"seedmagic: {name}{what} over {seeds}"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right, strict=True)).rstrip()
        for row in rows
    ]


def _text_lines(sweep: SeedSweep) -> list[str]:
    lines = [_fit(_header(sweep), WIDTH)]
    metrics = sweep.metrics
    formats = {m: _formatter([v for _, v in sweep._column(m)]) for m in metrics}
    lines += _seed_lines(sweep, metrics, formats)
    summaries = sweep.summary() if sweep.seeds else ()
    if summaries:
        lines.append("")
        lines += _summary_lines(summaries, formats)
        lines += _strip_lines(sweep, summaries, formats)
    lines += _footnotes(sweep, summaries)
    return lines


def _seed_lines(sweep: SeedSweep, metrics: Sequence[str], formats: dict[str, Callable[[float], str]]) -> list[str]:
    valued = [(run.seed, run.metrics) for run in sweep.runs if run.metrics is not None]
    if not valued:
        return []
    if len(metrics) == 1:
        # One metric: seed/value pairs side by side, as many as fit in the width.
        (metric,) = metrics
        pairs = [(str(seed), formats[metric](values[metric])) for seed, values in valued]
        seed_w, value_w = max(len(s) for s, _ in pairs), max(len(v) for _, v in pairs)
        per_line = max(1, (WIDTH + 4) // (seed_w + value_w + 6))
        lines = [f"seed {metric}" if len(metric) < 60 else "seed value"]
        for start in range(0, len(pairs), per_line):
            chunk = pairs[start : start + per_line]
            lines.append("    ".join(f"{s.rjust(seed_w)}  {v.rjust(value_w)}" for s, v in chunk).rstrip())
        return lines
    lines = []
    # Several metrics: a row per seed, the metrics' columns in groups that fit the width.
    seed_w = max(4, *(len(str(seed)) for seed, _ in valued))
    groups: list[list[str]] = [[]]
    used = seed_w
    for metric in metrics:
        width = max(
            len(_fit(metric, 20)), *(len(formats[metric](values.get(metric, math.nan))) for _, values in valued)
        )
        if groups[-1] and used + 2 + width > WIDTH:
            groups.append([])
            used = seed_w
        groups[-1].append(metric)
        used += 2 + width
    for group in groups:
        rows = [["seed", *(_fit(m, 20) for m in group)]]
        rows += [
            [str(seed), *(formats[m](values[m]) if m in values else "-" for m in group)] for seed, values in valued
        ]
        lines += _table(rows, [True] * len(rows[0]))
    return lines


def _summary_lines(summaries: Sequence[Summary], formats: dict[str, Callable[[float], str]]) -> list[str]:
    head = ["n", "mean", "std", f"{summaries[0].level:.0%} CI", "min", "max"]
    cells = [[str(s.n), *_statistics_cells(s, formats[s.metric])] for s in summaries]
    # The metrics' names take what room the numbers leave, 16 characters at least.
    room = WIDTH - sum(2 + max(len(row[i]) for row in (head, *cells)) for i in range(len(head)))
    rows = [["", *head], *([_fit(s.metric, max(_SHORT, room)), *row] for s, row in zip(summaries, cells, strict=True))]
    return _table(rows, [False, True, True, True, False, True, True])


def _statistics_cells(s: Summary, f: Callable[[float], str]) -> list[str]:
    """Mean, std, CI, min and max as shown: ``-`` with no value, the std and CI ``undefined`` with one."""
    if not s.n:
        return ["-"] * 5
    ci = "undefined" if math.isnan(s.ci[0]) else f"[{f(s.ci[0])}, {f(s.ci[1])}]"
    std = "undefined" if math.isnan(s.std) else f(s.std)
    return [f(s.mean), std, ci, f(s.min), f(s.max)]


_STRIP = 40


def _strip_lines(
    sweep: SeedSweep, summaries: Sequence[Summary], formats: dict[str, Callable[[float], str]]
) -> list[str]:
    """Each metric's values on a line: ``o`` for one seed, a digit for several, ``|`` the mean, ``[ ]`` its CI."""
    lines = []
    drawn = [s for s in summaries if s.n >= 2 and s.min != s.max and math.isfinite(s.max - s.min)]
    ends = max((len(formats[s.metric](s.min)) + len(formats[s.metric](s.max)) for s in drawn), default=0)
    room = max(_SHORT, WIDTH - (4 + ends + _STRIP))
    name_width = max((len(_fit(s.metric, room)) for s in drawn), default=0)
    for s in drawn:
        f = formats[s.metric]
        marks = [" "] * _STRIP

        def column(value: float, s: Summary = s) -> int:
            return min(_STRIP - 1, max(0, round((value - s.min) / (s.max - s.min) * (_STRIP - 1))))

        if not math.isnan(s.ci[0]):
            marks[column(max(s.ci[0], s.min))] = "["
            marks[column(min(s.ci[1], s.max))] = "]"
        marks[column(s.mean)] = "|"
        counts: dict[int, int] = {}
        for _, value in sweep._column(s.metric):
            if math.isfinite(value):
                counts[column(value)] = counts.get(column(value), 0) + 1
        for index, count in counts.items():
            marks[index] = "o" if count == 1 else str(count) if count < 10 else "*"
        lines.append(_fit(f"{_fit(s.metric, room).ljust(name_width)}  {f(s.min)} {''.join(marks)} {f(s.max)}", WIDTH))
    if lines:
        lines.append(_fit("(o a seed, 2-9 or * several, | the mean, [ ] its CI)", WIDTH))
    return lines


def _footnotes(sweep: SeedSweep, summaries: Sequence[Summary]) -> list[str]:
    lines = []
    for s in summaries:
        left_out = _left_out_line(sweep, s.metric)
        if left_out:
            lines.append(left_out)
        if s.n == 1:
            lines.append(f"{s.metric}: one value: the std and the CI are undefined (they need two seeds or more)")
    by_error: dict[str, list[int]] = {}
    for seed, error in sweep.errors.items():
        by_error.setdefault(error, []).append(seed)
    for error, seeds in by_error.items():
        lines.append(_fit(f"seed{'s' if len(seeds) > 1 else ''} {describe_seeds(seeds)} raised {error}", WIDTH))
    if not sweep.seeds:
        lines.append("no seed gave a value")
    if sweep.interrupted:
        left = [seed for seed in sweep.planned if seed not in {run.seed for run in sweep.runs}]
        how = "interrupted" if sweep.stopped_by == "interrupt" else "stopped"
        ran = f"{how} after {len(sweep.runs)} of {len(sweep.planned)} seeds"
        lines.append(_fit(f"{ran}; not run: {describe_seeds(left)}", WIDTH))
    lines += [_fit(f"note: {note}", WIDTH) for note in sweep.notes]
    return ["", *lines] if lines else []


def _left_out_line(sweep: SeedSweep, metric: str) -> str | None:
    """``loss: 2 of 16 seeds gave inf or NaN: left out of the statistics (seeds 3, 7)``; None when all are finite."""
    column = sweep._column(metric)
    kinds = list(_not_finite(value for _, value in column))
    if not kinds:
        return None
    what = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    seeds = [seed for seed, value in column if not math.isfinite(value)]

    def line(rest: str) -> str:  # the metric's name shortened to leave the rest whole (to 16 characters at most)
        return _fit(f"{_fit(metric, max(16, WIDTH - len(rest)))}{rest}", WIDTH)

    if len(seeds) == len(column):
        every = "the one seed" if len(column) == 1 else f"all {len(column)} seeds"
        return line(f": {every} gave {what}: the statistics are undefined")
    rest = f": {len(seeds)} of {len(column)} seeds gave {what}: left out of the statistics"
    listed = f"{rest} (seed{'s' if len(seeds) > 1 else ''} {describe_seeds(seeds)})"
    return line(listed) if len(metric) + len(listed) <= WIDTH else line(rest)


def _comparison_lines(comparison: Comparison) -> list[str]:
    a, b = comparison.a, comparison.b
    lines = [_fit(f"seedmagic: {a} - {b}, paired seed by seed", WIDTH)]
    for d in comparison.differences:
        f = _formatter([*d.differences, d.mean, *d.ci, *d.unpaired_ci])
        level = f"{d.level:.0%}"
        if not d.differences:
            lines.append(f"{d.metric}: no seed with a value on both sides")
            continue
        ci = "undefined (one seed)" if math.isnan(d.ci[0]) else f"[{f(d.ci[0])}, {f(d.ci[1])}]"
        unpaired = "" if math.isnan(d.unpaired_ci[0]) else f"{f(d.unpaired_ci[0])}, {f(d.unpaired_ci[1])}"
        lines.append(f"{_fit(d.metric, 30)}: mean difference {f(d.mean)}, {level} CI {ci} over {len(d.seeds)} seeds")
        lines.append(f"  {a} higher on {d.a_higher}, {b} higher on {d.b_higher}, equal on {d.ties}")
        if unpaired:
            lines.append(f"  ignoring the pairing (Welch): [{unpaired}]")
        if d.left_out:
            left_out = describe_seeds(d.left_out)
            lines.append(_fit(f"  left out (no value, or inf or NaN, on one side): {left_out}", WIDTH))
    return [_fit(line, WIDTH) for line in lines]


# -- HTML and the plot ---------------------------------------------------------------------------------------------


def _html(sweep: SeedSweep) -> str:
    escape = html.escape
    metrics = sweep.metrics
    formats = {m: _formatter([v for _, v in sweep._column(m)]) for m in metrics}
    parts = [f"<div class='seedmagic-sweep'><p><b>{escape(_header(sweep))}</b></p>"]
    summaries = sweep.summary() if sweep.seeds else ()
    if summaries:
        head = "".join(f"<th>{escape(h)}</th>" for h in ("", "n", "mean", "std", f"{LEVEL:.0%} CI", "min", "max"))
        body = []
        for s in summaries:
            cells = [s.metric, str(s.n), *_statistics_cells(s, formats[s.metric])]
            body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
        parts.append(_svg_plot(sweep))
    if sweep.runs:
        head = "<th>seed</th>" + "".join(f"<th>{escape(m)}</th>" for m in metrics)
        if sweep.errors:
            head += "<th>error</th>"
        rows = []
        for run in sweep.runs:
            cells = [str(run.seed)]
            cells += [formats[m](run.metrics[m]) if run.metrics and m in run.metrics else "-" for m in metrics]
            if sweep.errors:
                cells.append(run.error or "")
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(
            "<details><summary>each seed</summary><div style='max-height:20em;overflow:auto'>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></div></details>"
        )
    notes = [line for line in _footnotes(sweep, summaries) if line]
    if notes:
        parts.append("<p>" + "<br>".join(escape(line) for line in notes) + "</p>")
    parts.append("</div>")
    return "".join(parts)


def _svg_plot(sweep: SeedSweep) -> str:
    """The plot as inline SVG, the same text on every run (fixed ids, no date); empty without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return "<p>(install matplotlib for a plot of the spread)</p>"
    import io

    import numpy  # matplotlib's own: imported with it
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "seedmagic", "svg.fonttype": "none"}):
        figure = Figure(figsize=(6, 0.5 + 0.9 * len(sweep.metrics)))
        buffer = io.StringIO()
        try:
            with numpy.errstate(over="raise"):  # rather than a plot drawn from overflowed coordinates
                _draw(sweep, figure)
                figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        except (FloatingPointError, OverflowError, ValueError):  # values near the largest float: the tables show them
            return "<p>(no plot: these values are too large for matplotlib to draw)</p>"
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plot(sweep: SeedSweep, ax: Axes | None) -> Figure | SubFigure:
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise InvalidArgumentType(f"plot(ax) draws onto a matplotlib Axes, got {type(ax).__name__}")
        if len(sweep.metrics) != 1:
            raise InvalidArgument("plot(ax) draws one metric: use sweep['name'].plot(ax), or plot() for all")
        _draw_metric(sweep, sweep.metrics[0], ax)
        return ax.figure
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 0.5 + 0.9 * len(sweep.metrics)))
    _draw(sweep, figure)
    return figure


def _draw(sweep: SeedSweep, figure: Figure) -> None:
    metrics = sweep.metrics
    axes = figure.subplots(len(metrics), 1, squeeze=False)[:, 0]
    for metric, ax in zip(metrics, axes, strict=True):
        _draw_metric(sweep, metric, ax)
    figure.tight_layout()


def _draw_metric(sweep: SeedSweep, metric: str, ax: Axes) -> None:
    """A strip plot: one point per seed (spread vertically by rank, never by drawing random numbers), the mean as a
    line and its interval as a band. Values that are not finite are left out of the axis: ``inf`` and ``-inf`` are
    drawn as arrowheads on its right and left edges, and a note in the corner counts what was left out."""
    everything = sweep._column(metric)
    column = [(seed, value) for seed, value in everything if math.isfinite(value)]
    summary = Summary.of(metric, [value for _, value in column])
    if math.isfinite(summary.ci[0]) and math.isfinite(summary.ci[1]):
        ax.axvspan(*summary.ci, color="tab:blue", alpha=0.15, lw=0, label=f"{summary.level:.0%} CI of the mean")
    if summary.n:
        ax.axvline(summary.mean, color="tab:blue", lw=1.5, label="mean")
    offsets = [((index * 0.618) % 1) - 0.5 for index in range(len(column))]
    ax.scatter([v for _, v in column], offsets, s=18, color="black", alpha=0.7, zorder=3)
    if not column:
        ax.set_xticks([])  # no finite value: an axis of 0 to 1 would mean nothing
    kinds = _not_finite(value for _, value in everything)
    edges = ax.get_yaxis_transform()  # x in axes coordinates (0 the left edge, 1 the right), y in data: no autoscale
    for kind, x, marker in (("inf", 1.0, ">"), ("-inf", 0.0, "<")):
        if kinds.get(kind):
            count = kinds[kind]
            ys = [((index * 0.618) % 1) - 0.5 for index in range(count)]
            ax.plot([x] * count, ys, marker, color="tab:red", transform=edges, clip_on=False, zorder=3)
    if kinds:
        counted = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        ax.text(1.0, 1.0, f"left out: {counted}", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.set_ylabel(metric, rotation=0, ha="right", va="center")
    ax.spines[["left", "right", "top"]].set_visible(False)


# -- in a notebook: %%seeds ----------------------------------------------------------------------------------------


class NotebookProgress(Progress):
    """The progress in a notebook: a display that shows a bar and a line of text while the sweep runs, and is emptied
    when it ends, so that the saved notebook keeps no progress, only an empty display (no widget either: a runner
    that saves widget state, nbclient, would keep it). It starts empty too: a runner that ignores display updates
    (nbval) sees the very display the saved notebook holds, on every run."""

    def __init__(self) -> None:
        self.handle: Any = None
        self.total = 0
        self.last = -math.inf

    def start(self, total: int) -> None:
        from IPython.display import display

        self.total = total
        self.handle = display({}, raw=True, display_id=True)  # type: ignore[no-untyped-call]  # unannotated

    def step(self, done: int, seed: int) -> None:
        now = time.monotonic()
        if done and done < self.total and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        line = _progress_line(done, self.total, seed)
        bar = f"<progress value='{done}' max='{self.total}'></progress> {html.escape(line)}"
        self.handle.update({"text/plain": line, "text/html": bar}, raw=True)

    def finish(self, sweep: SeedSweep) -> None:
        if self.handle is not None:
            self.handle.update({}, raw=True)


_UNWRAPPING_CALLS = frozenset({"float", "int", "round"})
_UNWRAPPING_METHODS = frozenset({"item", "detach", "cpu", "numpy", "tolist", "float", "double", "squeeze"})


def _metric_name(shell: Any, body: str) -> str:
    """The name of a one-number metric: what the cell's last expression means (see ``_name_of``), else ``metric``."""
    try:
        statements = ast.parse(shell.transform_cell(body)).body
    except SyntaxError:
        return _SCALAR
    if not statements or not isinstance(statements[-1], ast.Expr):
        return _SCALAR
    return _name_of(statements[-1].value, shell.user_ns) or _SCALAR


def _name_of(expression: ast.expr, namespace: dict[str, Any]) -> str | None:
    """What a metric is called: the variable, attribute or string key it is read from, past the conversions to a
    number (``acc``, ``float(acc)``, ``acc.item()``, ``history["val_acc"]``); else its text where short
    (``sum(lst)``, ``torch.rand(())``); else the function that computes it (``accuracy(model, splits["A"])``,
    ``model.score(X, y)``); else None."""
    while isinstance(expression, ast.Call) and not expression.keywords:
        function = expression.func
        if isinstance(function, ast.Name) and function.id in _UNWRAPPING_CALLS and function.id not in namespace:
            if not expression.args or isinstance(expression.args[0], ast.Starred):
                break
            expression = expression.args[0]
        elif isinstance(function, ast.Attribute) and function.attr in _UNWRAPPING_METHODS and not expression.args:
            expression = function.value
        else:
            break
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Attribute):
        return expression.attr
    if isinstance(expression, ast.Subscript):
        key = expression.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isprintable() and key.value:
            return key.value
    text = ast.unparse(expression)
    if len(text) <= _SHORT and "\n" not in text:
        return text
    if isinstance(expression, ast.Subscript):  # scores[len(scores) - 1]: scores
        return _name_of(expression.value, namespace)
    if isinstance(expression, ast.Call):
        function = expression.func
        if isinstance(function, ast.Name) and (function.id in namespace or not hasattr(builtins, function.id)):
            return function.id
        if isinstance(function, ast.Attribute):
            root = function.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):  # not torch.rand(9).sum(): that is no one's name
                return function.attr
    return None


class _SameStart:
    """Each run starts from the namespace as it was before the sweep, and afterwards everything it changed is put
    back in place (``namespace.Start``, as ``%%seeded --check`` does): the copies a run needs are made once, at its
    first write, and serve every seed."""

    def __init__(self, namespace: dict[str, Any], codes: list[CodeType], reseed: Callable[[], None]) -> None:
        from .namespace import Start

        self.start = Start.take(namespace, codes)
        self.reseed = reseed
        self.stopped: str = ""

    def __call__(self, run: Callable[[], Any]) -> Any:
        __tracebackhide__ = True
        from .namespace import NoRoom

        try:
            return self.start.run(run, again=self.reseed)
        except NoRoom as refused:
            self.start.put_back()
            self.stopped = f"the sweep stopped before a write: {refused}; the namespace is as before it"
            raise _Stopped from None
        finally:
            lost, drawn = self.start.lost(), self.start.drawn_into()
            if (lost or drawn) and not self.stopped:
                where = (
                    f"wrote into {', '.join(lost[:3])} where seedmagic could not see it (a thread of its own, a C "
                    "extension)"
                    if lost
                    else f"drew into {', '.join(drawn[:3])}, made before the sweep"
                )
                self.stopped = (
                    f"a run {where}, which cannot be undone: the sweep stopped, and the notebook holds what that "
                    "run left"
                )
                raise _Stopped
            if not (lost or drawn):
                self.start.put_back()

    def notes(self) -> tuple[str, ...]:
        notes = [
            f"{record.path} was used by every run ({getattr(record.kind, 'what', 'its state cannot be read')}): each "
            "run saw what the last left in it"
            for record in self.start.opaque()
        ]
        notes += [
            f"{path} could not be put back after a run ({why}): each later run saw what the last left in it"
            for path, why in self.start.unrestored.items()
        ]
        if self.stopped:
            notes.append(self.stopped)
        return tuple(notes)

    def release(self) -> None:
        self.start.release()


class _Stopped(Exception):
    """The sweep cannot put the namespace back as before (``_SameStart.stopped`` says why), and stops."""


def sweep_cell(
    shell: Any,
    body: str,
    magic_line: str,
    seeds: Sequence[int],
    *,
    engine: Engine = ENGINE,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    name: str | None = None,
    derived_from: int | None = None,
    quiet: bool = False,
) -> tuple[SeedSweep, BaseException | None]:
    """Run a cell's body once per seed, each as ``%%seeded k --isolate`` would, each from the same namespace; its
    last expression is the metric. The namespace is left as before the sweep. Returns the sweep and, with
    ``stop_on_error``, the exception that stopped it. The progress shows while it runs (``quiet``: not at all): in
    a notebook, a display emptied when the sweep ends; in a terminal, a line on stderr, cleared."""
    __tracebackhide__ = True
    from .cell import compile_cell

    engine.seeded(seeds[0], only=only, skip=skip)  # checks only/skip before anything runs
    compiled = compile_cell(shell, body, magic_line)
    if compiled.last_expression is None:
        raise NotAMetric(f"the cell has no last expression: {_NEEDED}")
    same_start = _SameStart(shell.user_ns, [*compiled.statements, compiled.last_expression], engine.reseed)
    in_kernel = getattr(shell, "kernel", None) is not None
    progress = Progress() if quiet else NotebookProgress() if in_kernel else TextProgress()
    try:
        return _run_sweep(
            compiled.evaluate,
            seeds,
            engine=engine,
            only=only,
            skip=skip,
            stop_on_error=stop_on_error,
            progress=progress,
            metric=_metric_name(shell, body),
            name=name,
            derived_from=derived_from,
            same_start=same_start,
            notes=same_start.notes,
        )
    finally:
        same_start.release()


__all__ = [
    "LEVEL",
    "Comparison",
    "NotAMetric",
    "PairedDifference",
    "SeedRun",
    "SeedSweep",
    "Summary",
    "SweepInterrupted",
    "UnknownMetric",
    "parse_seeds",
    "sweep",
    "t_quantile",
]
