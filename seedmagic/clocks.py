"""The clocks a cell can read, read just before and after each run: a value that, in each run, falls within that
run's span of one clock is that clock's reading, and so the cause of the difference.

Python's own clocks (``time.time()`` and its ``_ns`` forms, ``perf_counter``, ``monotonic``, ``process_time``) and
the wall-clock time a ``datetime`` stands for. A clock that reads the same as another on this system (on Linux,
``perf_counter`` is ``monotonic``) is named with it.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any, NamedTuple

_CLOCKS: tuple[tuple[str, Callable[[], float]], ...] = (
    ("time.time()", time.time),
    ("time.perf_counter()", time.perf_counter),
    ("time.monotonic()", time.monotonic),
    ("time.process_time()", time.process_time),
    ("time.thread_time()", time.thread_time),
)
_NS = 1e-9
_SLACK = 1e-3  # seconds either side: the reading of one clock is not taken at the very instant of the others


class Span(NamedTuple):
    """Every clock's reading just before a run, and just after it."""

    before: tuple[float, ...]
    after: tuple[float, ...]


def now() -> tuple[float, ...]:
    return tuple(read() for _, read in _CLOCKS)


def span(before: tuple[float, ...]) -> Span:
    """The span from ``before`` (``now()`` when the run began) to now."""
    return Span(before, now())


def reading(first: Any, second: Any, spans: tuple[Span, Span]) -> str | None:
    """The clock (``"time.perf_counter()"``) of which ``first`` and ``second`` are the readings, each taken within its
    own run's span (``spans``), or None. ``time.time_ns()``'s and its kin's nanoseconds count too."""
    names = [name for index, (name, _) in enumerate(_CLOCKS) if _within(first, second, spans, index)]
    if not names:
        return None
    return " or ".join(names)


def _within(first: Any, second: Any, spans: tuple[Span, Span], index: int) -> bool:
    for value, run in zip((first, second), spans, strict=True):
        seconds = _seconds(value, wall=index == 0)
        if seconds is None:
            return False
        low, high = run.before[index] - _SLACK, run.after[index] + _SLACK
        if not (low <= seconds <= high or low <= seconds * _NS <= high):
            return False
    return bool(first != second)


def _seconds(value: Any, *, wall: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if wall and isinstance(value, datetime.datetime):  # naive: local time, as datetime.now() gives it
        try:
            return value.timestamp()
        except (OverflowError, OSError, ValueError):
            return None
    return None
