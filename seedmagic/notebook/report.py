"""What ``seedmagic verify`` says about each notebook: readable text, or JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .causes import WHAT
from .replay import Replay, SavedDifference
from .verify import CellDifference, Verdict

#: Exit statuses, as the command line returns them.
REPRODUCIBLE, NOT_REPRODUCIBLE, COULD_NOT_RUN = 0, 1, 2


def exit_status(verdicts: Sequence[Verdict]) -> int:
    """0 when every notebook reproduces, 1 when one does not, 2 when one could not be run."""
    worst = REPRODUCIBLE
    for verdict in verdicts:
        status = (
            COULD_NOT_RUN
            if verdict.reproducible is None
            else NOT_REPRODUCIBLE
            if not verdict.reproducible
            else REPRODUCIBLE
        )
        worst = max(worst, status)
    return worst


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def headline(verdict: Verdict) -> str:
    """One line: the notebook and its verdict."""
    if verdict.error is not None:
        return f"{verdict.path}: could not verify: {verdict.error}"
    setup = f"; with {verdict.setup[-1].removesuffix(' -q')}" if verdict.setup else ""
    left_out = (
        f", {len(verdict.ignored)} left out (marked NBVAL_IGNORE_OUTPUT or NBVAL_SKIP)" if verdict.ignored else ""
    )
    timing = f"{verdict.seconds:.1f} s"
    if isinstance(verdict, Replay):
        cells = _plural(verdict.code_cells, "code cell")
        extra = left_out + (f", {len(verdict.unrun)} not run when saved" if verdict.unrun else "")
        if verdict.reproducible:
            return f"{verdict.path}: matches its saved outputs ({cells}{extra}; {timing})"
        differ = f"{len(verdict.differences)} of {cells} differ{extra}"
        return f"{verdict.path}: differs from its saved outputs ({differ}; {timing})"
    if verdict.reproducible:
        return f"{verdict.path}: reproducible ({_plural(verdict.code_cells, 'code cell')}{left_out}{setup}; {timing})"
    return (
        f"{verdict.path}: NOT reproducible ({len(verdict.differences)} of "
        f"{_plural(verdict.code_cells, 'code cell')} differ{left_out}{setup}; {timing})"
    )


def _cell_lines(difference: CellDifference, verdict: Verdict) -> list[str]:
    names = {d.index: d.name for d in verdict.differences}
    if difference is verdict.differences[0]:
        role = "the first cell to differ"
    elif difference.after:
        role = "differs, as it uses " + ", ".join(names[index] for index in difference.after)
    else:
        role = "differs, for a cause of its own"
    lines = [f"  {difference.name}: {role}", f"    {difference.difference}"]
    changed = difference.changes if isinstance(difference, SavedDifference) else ()
    for change in changed:
        lines.append(f"    changed since saved: {change.text}")
    for cause in difference.causes:
        lines.append(f"    likely cause, cell {cause.cell + 1} line {cause.line}: {cause.evidence}")
        lines.append(f"      {WHAT[cause.kind]}; fix: {cause.fix}")
    if not difference.causes and not difference.after and not changed:
        lines.append("    no known cause in the cell's code or the cells it uses")
    return lines


def text(verdicts: Sequence[Verdict]) -> str:
    """The readable report: a headline per notebook, then each differing cell with its likely causes and fixes."""
    lines: list[str] = []
    for verdict in verdicts:
        lines.append(headline(verdict))
        for difference in verdict.differences:
            lines.extend(_cell_lines(difference, verdict))
        if isinstance(verdict, Replay):
            named = {change for difference in verdict.differences for change in getattr(difference, "changes", ())}
            others = [change for change in verdict.record_changes if change not in named]
            if others and verdict.differences:
                lines.append("  also changed since saved, in what no differing cell uses:")
                lines.extend(f"    {change.text}" for change in others)
            lines.extend(f"  note: {note}" for note in verdict.notes)
        if verdict.schedule is not None and verdict.schedule.note and not verdict.error:
            lines.append(f"  note: {verdict.schedule.note}")
        if verdict.missing_ids and (verdict.setup or verdict.differences):
            lines.append(
                f"  note: {_plural(verdict.missing_ids, 'code cell')} without an id (nbformat < 4.5): auto mode "
                "keys them by their source, so identical cells draw identical numbers"
            )
    if len(verdicts) > 1:
        counts = [sum(v.reproducible is state for v in verdicts) for state in (True, False, None)]
        lines.append(
            f"{_plural(len(verdicts), 'notebook')}: {counts[0]} reproducible, {counts[1]} not, "
            f"{counts[2]} could not be verified"
        )
    return "\n".join(lines)


def as_json(verdicts: Sequence[Verdict]) -> str:
    """The report as JSON: a list with one object per notebook."""

    def one(verdict: Verdict) -> dict[str, Any]:
        data = asdict(verdict)
        data["reproducible"] = verdict.reproducible
        for difference, record in zip(verdict.differences, data["differences"], strict=True):
            record["number"] = difference.number
        return data

    return json.dumps([one(verdict) for verdict in verdicts], indent=2)
