"""What comparing and putting back take for granted about a value: MISSING, a closure cell's filling, two classes
of one definition, and what has no state to read."""

from __future__ import annotations

import enum
import io
import threading
import types
from typing import Any, Final


class Sentinel(enum.Enum):
    """Markers that are no value of the user's."""

    MISSING = enum.auto()  # no value: a name not bound, a key not found, nothing of that kind
    TOO_MANY = enum.auto()  # too many element pairs to try


MISSING: Final = Sentinel.MISSING
TOO_MANY: Final = Sentinel.TOO_MANY


def cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def same_class(a: type, b: type) -> bool:
    """Two class objects from the same definition: a class a cell defines is another object in each run."""
    try:
        return [qualified(c) for c in a.__mro__] == [qualified(c) for c in b.__mro__]
    except Exception:
        return False


def qualified(cls: type) -> tuple[str, str]:
    return cls.__module__, cls.__qualname__


def without_state(value: Any) -> str | None:
    """What a value is, when it has no state to compare (an open file, a lock): None for the others."""
    if isinstance(value, (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)):
        return f"a {type(value).__name__} object, whose position cannot be read"
    if isinstance(value, io.IOBase):
        return "a closed file" if value.closed else "an open file"
    if isinstance(value, threading.Thread):
        return "a thread"
    if isinstance(value, _LOCK_TYPES):
        return "a lock"
    if type(value).__module__ == "socket" and type(value).__name__ == "socket":
        return "a socket"
    return None


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
