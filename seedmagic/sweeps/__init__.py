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

The package, a module per idea, in the order they build on each other: ``seeds`` (the seeds a sweep runs),
``metrics`` (a run's value as a metric), ``stats`` (t quantiles, intervals, mean and spread), ``display`` (the
80-column text, HTML and the plot), ``result`` (``SeedSweep`` and the paired comparison), ``progress`` (what shows
while a sweep runs) and ``run`` (running code once per seed, from Python and from ``%%seeds``). The statistics, the
text and HTML forms and the plot know nothing of IPython; the notebook side (running a cell's body once per seed
from the same starting namespace, and the progress display) is in ``run`` and ``progress``.
"""

from __future__ import annotations

from .metrics import NotAMetric
from .result import Comparison, PairedDifference, SeedRun, SeedSweep, UnknownMetric
from .run import SweepInterrupted, sweep, sweep_cell
from .seeds import names_a_count, parse_seeds
from .stats import LEVEL, Summary, t_cdf, t_quantile

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
    "names_a_count",
    "parse_seeds",
    "sweep",
    "sweep_cell",
    "t_cdf",
    "t_quantile",
]
