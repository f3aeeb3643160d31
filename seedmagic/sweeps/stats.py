"""t quantiles, intervals, mean and spread, without SciPy: the statistics of a sweep, which know no IPython."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..arguments import InvalidArgument, InvalidArgumentType
from ..errors import shown
from .metrics import as_number

LEVEL = 0.95


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


def mean_std(values: Sequence[float]) -> tuple[float, float]:
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


def not_finite(values: Iterable[float]) -> dict[str, int]:
    """How many of ``values`` are ``inf``, ``-inf`` and NaN (only the kinds found, in that order)."""
    counts = dict.fromkeys(_NOT_FINITE, 0)
    for v in values:
        if not math.isfinite(v):
            counts["NaN" if math.isnan(v) else "inf" if v > 0 else "-inf"] += 1
    return {kind: count for kind, count in counts.items() if count}


def interval(mean: float, std: float, n: int, level: float, df: float | None = None) -> tuple[float, float]:
    """``mean ± t * std / sqrt(n)``: Student's t interval for a mean (NaN where n < 2)."""
    if n < 2 or math.isnan(std):
        return math.nan, math.nan
    half = t_quantile((1 + level) / 2, n - 1 if df is None else df) * std / math.sqrt(n)
    return mean - half, mean + half


def check_level(level: object) -> float:
    """A confidence level: a number (a 0-d tensor or array too) between 0 and 1."""
    number = None if isinstance(level, bool) else as_number(level)
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
        mean, std = mean_std(kept)
        left_out = not_finite(values)
        return cls(
            metric,
            len(kept),
            mean,
            std,
            interval(mean, std, len(kept), level),
            min(kept, default=math.nan),
            max(kept, default=math.nan),
            left_out.get("NaN", 0),
            level,
            left_out.get("inf", 0) + left_out.get("-inf", 0),
        )


def welch(a: Sequence[float], b: Sequence[float], level: float) -> tuple[float, float]:
    """Welch's interval for mean(a) - mean(b), as if the two samples were independent."""
    (mean_a, std_a), (mean_b, std_b) = mean_std(a), mean_std(b)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    va, vb = std_a**2 / len(a), std_b**2 / len(b)
    if va + vb == 0:
        return mean_a - mean_b, mean_a - mean_b
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile((1 + level) / 2, df) * math.sqrt(va + vb)
    return mean_a - mean_b - half, mean_a - mean_b + half
