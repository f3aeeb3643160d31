"""A run's metric: its value (a number, a dict of numbers, a 0-d tensor or array) as a float or a dict of floats."""

from __future__ import annotations

import numbers
from typing import Any

from ..arguments import InvalidArgument

SCALAR = "metric"  # the name of a one-number metric when what the cell's last expression means has no name
SHORT = 16  # a metric's name every table shows whole

Metric = float | dict[str, float]


class NotAMetric(InvalidArgument):
    """The code's value is not a number, a dict of numbers or a 0-d tensor or array."""

    __module__ = "seedmagic.sweeps"  # as a traceback names it: seedmagic.sweeps.NotAMetric, its public home


CELL = ("the cell's last expression is", "end the cell with")
"""What ``as_metric`` says of a cell's value: the value is (what), and the fix."""


def as_metric(value: Any, said: tuple[str, str] = CELL) -> Metric:
    """A run's value as a float, or a dict of floats; ``NotAMetric`` for anything else."""
    number = as_number(value)
    if number is not None:
        return number
    what, fix = said
    needed = f"{fix} the metric, a number, a dict of numbers or a 0-d tensor or array"
    if isinstance(value, dict):
        if not value:
            raise NotAMetric(f"{what} an empty dict: a metric needs at least one number")
        metrics = {}
        for key, item in value.items():
            number = as_number(item)
            if number is None:
                raise NotAMetric(f"{what} a dict whose {key!r} is {_kind(item)}, not a number: {needed}")
            metrics[str(key)] = number
        return metrics
    raise NotAMetric(f"{what} {_kind(value)}: {needed}")


NEEDED = "end the cell with the metric, a number, a dict of numbers or a 0-d tensor or array"


def as_number(value: Any) -> float | None:
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
