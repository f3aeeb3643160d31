"""Whether a library is installed, and its version: looked up once and kept until a ``sys.path`` directory changes."""

from __future__ import annotations

# importlib.metadata is imported where it is first needed: `%load_ext seedmagic` must stay quick.
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast


class _SearchPath(NamedTuple):
    """``sys.path`` as read at one moment: each entry with its inode and modification time (None where there is no
    such directory or file), and whether all of them had been still for _SETTLED_NS."""

    read_at: int  # time.monotonic_ns()
    entries: tuple[tuple[str, int | None, int | None], ...]
    settled: bool


# Whether a library is installed, and its version, can change while the kernel runs (%pip install). Looking them up
# costs about 70 µs (find_spec) and 350 µs (package metadata), too much for a status redrawn after every cell, so the
# answers are kept while no sys.path directory changes: pip adds, removes or renames a package's directory and its
# .dist-info, which changes the mtime of the directory that holds them. One status asks a dozen times: sys.path is
# read (one stat per entry, 10 to 50 µs in all) at most once per _SEARCH_PATH_REUSE_NS.
_SEARCH_PATH_REUSE_NS = 5_000_000
# A directory changed this recently may change again within the same tick of its filesystem's clock (a few ms; HFS+
# keeps 1 s, FAT 2 s), which its mtime would not show: answers found then are not kept past the next reading.
_SETTLED_NS = 2_000_000_000
_search_path: _SearchPath | None = None
_Asked = TypeVar("_Asked")
_Answer = TypeVar("_Answer")
_installed_answers: dict[tuple[str, Any], Any] = {}


def _read_search_path(read_at: int) -> _SearchPath:
    now, settled = time.time_ns(), True
    entries: list[tuple[str, int | None, int | None]] = []
    for entry in sys.path:
        try:
            stat = os.stat(entry or ".")  # "" is the working directory
        except (OSError, TypeError, ValueError):
            entries.append((entry, None, None))
            continue
        entries.append((entry, stat.st_ino, stat.st_mtime_ns))
        settled = settled and now - stat.st_mtime_ns > _SETTLED_NS
    return _SearchPath(read_at, tuple(entries), settled)


def _installed_answer(question: tuple[str, _Asked], answer: Callable[[_Asked], _Answer]) -> _Answer:
    """``answer(argument)`` for a question ``(kind, argument)`` about installed packages: kept until a sys.path
    directory changes."""
    global _search_path
    now = time.monotonic_ns()
    previous = _search_path
    if previous is None or now - previous.read_at > _SEARCH_PATH_REUSE_NS:
        _search_path = _read_search_path(now)
        if previous is not None and (_search_path.entries != previous.entries or not previous.settled):
            # importlib keeps directory listings and package metadata too, checked against the same mtimes: make it
            # read them again, and forget sys.path directories that did not exist.
            importlib.invalidate_caches()
            _installed_answers.clear()
    try:
        return cast(_Answer, _installed_answers[question])  # kept by this function, for this question's kind
    except KeyError:
        value = _installed_answers[question] = answer(question[1])
        return value


def _find_distribution_version(distributions: tuple[str, ...]) -> str | None:
    from importlib import metadata

    for dist in distributions:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _find_module(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def distribution_version(distributions: tuple[str, ...]) -> str | None:
    """The installed version of the first of ``distributions`` that is installed, as the package metadata says now."""
    return _installed_answer(("version", distributions), _find_distribution_version)


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported now."""
    return _installed_answer(("module", module), _find_module)
