"""Where the time goes, for a target that is missed: cProfile of a call or a cell, seedmagic's own functions first,
torch's time set apart.

Under cProfile every call is several times slower, so these figures say where the time goes, not how much there is.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ratios import STACK, flush_history

SEEDMAGIC = str(Path(__file__).resolve().parent.parent / "seedmagic")


def _inside_torch(key: tuple[str, int, str]) -> bool:
    filename = key[0].replace("\\", "/")
    return "/torch/" in filename or filename.endswith(("/traceback.py", "/linecache.py"))


def hotspots(
    call: Callable[[], object], repeat: int, *, between: Callable[[], object] | None = None, top: int = 12
) -> str:
    """cProfile of ``repeat`` calls (torch's stack formatting stubbed), in µs per call: seedmagic's own functions
    first, then the time spent outside torch by function, then the heaviest calls by cumulative time. ``between``
    runs unprofiled every 64 calls (to flush the input history)."""
    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()), STACK.stubbed():
        for index in range(repeat):
            if between is not None and index % 64 == 63:
                between()
            profile.enable()
            call()
            profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    # What torch runs, and what only torch calls, is torch's time.
    excluded = {key for key in stats if _inside_torch(key)}
    changed = True
    while changed:
        changed = False
        for key, (_, _, _, _, callers) in stats.items():
            if key not in excluded and callers and all(caller in excluded for caller in callers):
                excluded.add(key)
                changed = True

    def name(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        return function if filename == "~" else f"{Path(filename).name}:{line}({function})"

    own = []
    for key, (_, calls, total, cumulative, callers) in stats.items():
        if key in excluded:
            continue
        # Only the time under callers outside torch (a builtin such as list.append is also called by torch).
        mine = sum(timing[2] for caller, timing in callers.items() if caller not in excluded) if callers else total
        own.append((mine, calls, cumulative, key))

    def per_call(seconds: float) -> str:
        return f"{seconds / repeat * 1e6:9.2f}"

    ours = [entry for entry in own if entry[3][0].startswith(SEEDMAGIC)]
    total_own = sum(entry[0] for entry in own)
    lines = [
        "under cProfile (which slows every call several times over), torch's stack formatting stubbed: "
        f"{per_call(total_own).strip()} µs per call outside torch, of which {per_call(sum(e[0] for e in ours)).strip()}"
        " µs in seedmagic's own functions.",
        "",
        "seedmagic's functions (own time, cumulative time incl. torch, µs per call; calls per call):",
    ]
    for mine, calls, cumulative, key in sorted(ours, key=lambda entry: entry[0], reverse=True)[:top]:
        lines.append(f"{per_call(mine)}  {per_call(cumulative)}  {calls / repeat:6.1f}x  {name(key)}")
    lines += ["", "everything outside torch, by own time (µs per call, calls per call):"]
    for mine, calls, _, key in sorted(own, key=lambda entry: entry[0], reverse=True)[:top]:
        lines.append(f"{per_call(mine)}  {calls / repeat:6.1f}x  {name(key)}")
    lines += ["", "cumulative time, µs per call (torch's time included):"]
    for _, calls, cumulative, key in sorted(own, key=lambda entry: entry[2], reverse=True)[:top]:
        lines.append(f"{per_call(cumulative)}  {calls / repeat:6.1f}x  {name(key)}")
    return "\n".join(lines)


def cell_hotspots(shell: Any, source: str, repeat: int = 1000) -> str:
    """:func:`hotspots` of a cell run as typed at the prompt, the input history flushed every 64 cells."""
    return hotspots(lambda: shell.run_cell(source, store_history=True), repeat, between=flush_history(shell))
