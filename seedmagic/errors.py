"""How seedmagic says what went wrong without stopping the user's code: errors in one line, and warnings that point
at the user's cell or script."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType, ModuleType, TracebackType
from typing import Any


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


def shown(value: Any, most: int = 40) -> str:
    """A value as a one-line message shows it: its repr on one line, at most ``most`` characters, and an array or
    tensor whose repr is longer by its type and shape."""
    if isinstance(value, ModuleType):
        return f"the module {value.__name__}"
    text = " ".join(repr(value).split())
    if len(text) <= most:
        return text
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(shape, str):
        try:
            return f"a {type(value).__name__} of shape {tuple(shape)}"
        except TypeError:
            pass
    return text[: most - 1] + "…"


def builtin_kind(error: BaseException) -> type[BaseException]:
    """The built-in type the documentation names for one of seedmagic's refusals: TypeError, KeyError or ValueError."""
    return next((kind for kind in (TypeError, KeyError) if isinstance(error, kind)), ValueError)


def cell_traceback(error: BaseException) -> list[str]:
    """How IPython shows seedmagic's refusal of an argument (``InvalidArgument._render_traceback_``): one line, the
    built-in type the docs name and the message, ``ValueError: seed must be ...``. Where the call was not made by
    the cell itself (a function of the notebook's, a script run with ``%run``), the frames that led to it come first,
    as IPython shows a traceback; seedmagic's own frames, and IPython's, never."""
    kind = builtin_kind(error)
    lines = str(error).strip().splitlines()
    line = f"{kind.__name__}: {lines[0].strip()}" if lines else kind.__name__
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            return [line]
        machinery = os.path.dirname(os.path.abspath(str(sys.modules["IPython"].__file__))) + os.sep
        frames: list[TracebackType] = []
        tb = error.__traceback__
        while tb is not None:
            if not tb.tb_frame.f_code.co_filename.startswith((_OWN_FILES, machinery)):
                frames.append(tb)
            tb = tb.tb_next
        cells = getattr(shell.compile, "_filename_map", {})
        if len(frames) <= 1 and all(tb.tb_frame.f_code.co_filename in cells for tb in frames):
            return [line]
        chain: TracebackType | None = None
        for tb in reversed(frames):
            chain = TracebackType(chain, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
        plain = kind(lines[0].strip() if lines else "")
        stb: list[str] = shell.InteractiveTB.structured_traceback(kind, plain, chain, tb_offset=0)
        return stb
    except Exception:  # never worse than one line
        return [line]


def warn_failures(doing: str, failed: dict[str, str]) -> None:
    """One warning for what failed while the rest went on: ``seedmagic could not <doing> <name>: <error>; ...``."""
    if failed:
        warn(f"seedmagic could not {doing} " + "; ".join(f"{name}: {error}" for name, error in failed.items()))
