"""Cheap readings of each library's generators and flags, for the panel's after-cell comparison.

A mark is whatever a library's reader returns (``Source.mark``, ``Source.flags_mark``): two equal marks mean the
same state. A reading that raises makes its one-line error its mark, so that an error that changes shows as a
change, and never stops the other readings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from .errors import one_line
from .sources import Readers

_Value = TypeVar("_Value")


class Marks(NamedTuple):
    """What ``Engine.marks`` read: a mark per imported library's generators, one for all the flags, and the seed each
    library that can tell says it was last seeded with (torch: ``torch.initial_seed()``)."""

    states: dict[str, Any]
    flags: tuple[Any, ...]
    seeds: dict[str, int | None]


def read_marks(readers: tuple[tuple[str, Readers], ...], flags: tuple[Any, ...] | None) -> Marks:
    """The marks of ``readers``, with ``flags`` and each library's flags mark appended (None: no flags). A reading
    that raises makes its error its mark."""
    states: dict[str, Any] = {}
    seeds: dict[str, int | None] = {}
    read = flags
    try:
        for name, (mark, flags_mark, seed) in readers:
            states[name] = mark()
            if read is not None and flags_mark is not None:
                read += (flags_mark(),)
            if seed is not None:
                seeds[name] = seed()
    except Exception:  # a library's reading failed: its error is its mark
        return read_marks(tuple((name, _guarded(bound)) for name, bound in readers), flags)
    return Marks(states, read or (), seeds)


def _guarded(readers: Readers) -> Readers:
    """Readers that never raise: a mark's error is its mark, a seed that cannot be read is None."""
    mark, flags_mark, seed = readers
    return Readers(
        functools.partial(_mark, mark),
        None if flags_mark is None else functools.partial(_mark, flags_mark),
        None if seed is None else functools.partial(read_or_none, seed),
    )


def raiser(exc: Exception) -> Callable[[], Any]:
    """A reader that raises ``exc``: the readers of a library that could not be bound."""

    def read() -> Any:
        raise exc

    return read


def _mark(read: Callable[[], Any]) -> Any:
    """A mark (``Source.mark``, ``Source.flags_mark``), or the one-line error that reading it raised: compared like
    any mark, an error that changes shows as a change."""
    try:
        return read()
    except Exception as exc:
        return one_line(exc)


def read_or_none(read: Callable[[], _Value]) -> _Value | None:
    """What ``read()`` returns, or None where it cannot be read."""
    try:
        return read()
    except Exception:
        return None
