"""How seedmagic says what went wrong without stopping the user's code: errors in one line, and warnings that point
at the user's cell or script."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType


class SeedmagicWarning(UserWarning):
    """Something seedmagic cannot do in this process, said instead of pretending."""


_OWN_FILES = os.path.dirname(os.path.abspath(__file__)) + os.sep
#: Where else a warning never points: the IPython connection adds IPython's magic machinery, so that a warning from
#: ``%seed`` points at the user's cell.
WARNING_SKIPS: list[str] = []


def warn(message: str) -> None:
    """Warn with a SeedmagicWarning that points at the code that called seedmagic (the user's cell or script), not at
    seedmagic's own files: what ``skip_file_prefixes`` does on Python 3.12, done by hand for 3.10 and 3.11."""
    prefixes = (_OWN_FILES, *WARNING_SKIPS)
    # As warnings.warn counts levels: one per frame, the import machinery's own frames not counted.
    level = 1
    caller: FrameType | None = sys._getframe(1)
    while caller is not None:
        name = caller.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):
            level += 1
            if not name.startswith(prefixes):
                break
        caller = caller.f_back
    warnings.warn(message, SeedmagicWarning, stacklevel=level)


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type, and its message's first line, at most 100 characters."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    text = text if len(text) <= 100 else text[:99] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def warn_failures(doing: str, failed: dict[str, str]) -> None:
    """One warning for what failed while the rest went on: ``seedmagic could not <doing> <name>: <error>; ...``."""
    if failed:
        warn(f"seedmagic could not {doing} " + "; ".join(f"{name}: {error}" for name, error in failed.items()))
