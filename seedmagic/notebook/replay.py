"""``seedmagic verify NOTEBOOK --against-saved``: run a notebook once in a fresh kernel and compare each code cell with
the outputs its file holds, naming for each cell that differs what changed since it was saved.

What changed comes from the seedmagic record the file holds (``%seed --record``) and the one the run makes: a
difference in a library the cell uses (or the cells it uses) explains it ("torch 2.5.1 then 2.13.0: ..."); so does
another seed auto mode gave it. A cell that differs with nothing in the records to explain it gets the causes
``seedmagic verify`` finds in its code. The records' own outputs are not compared: they differ from machine to
machine by design. The run is as a user's own run: the environment as it is, no seed added.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import MIME_TYPE, Change, Record, RecordError, cell_seed_change, changes, read, source_key
from .causes import PYTHON_CELL_MAGICS, cells_used, likely_causes
from .outputs import first_difference, normalized
from .verify import (
    DEFAULT_TIMEOUT,
    CannotRun,
    CellDifference,
    Progress,
    Runs,
    Schedule,
    Verdict,
    interruptible,
    is_ignored,
    read_notebook,
    usable_cores,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

#: Modules whose numbers come from a library the record knows (their top-level name, then the library).
_USES = {
    "torchvision": "torch",
    "torchaudio": "torch",
    "torchtext": "torch",
    "lightning": "torch",
    "pytorch_lightning": "torch",
    "sklearn": "numpy",
    "scipy": "numpy",
    "pandas": "numpy",
    "tf_keras": "tensorflow",
    "flax": "jax",
    "optax": "jax",
    "jaxlib": "jax",
}
_LIBRARIES = ("random", "numpy", "torch", "tensorflow", "keras", "jax", "cupy")


@dataclass(frozen=True)
class SavedDifference(CellDifference):
    """A code cell whose outputs differ from those saved, with what changed since that explains it."""

    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Replay(Verdict):
    """One notebook against its saved outputs: ``reproducible`` is whether every compared cell matches them."""

    against_saved: bool = True
    #: How the run's record differs from the saved one (empty where either is missing: see ``notes``).
    record_changes: tuple[Change, ...] = ()
    #: One line each: no record, a record this seedmagic cannot read, two records, ...
    notes: tuple[str, ...] = ()
    #: Code cells the file holds no outputs of (never run when saved): not compared, as nbval does.
    unrun: tuple[int, ...] = ()


def against_saved(
    path: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    kernel: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Replay:
    """Run the notebook at ``path`` once in a fresh kernel and compare every code cell with its saved outputs.

    A notebook that cannot be read, a kernel that dies or does not start, or a cell past ``timeout`` seconds makes
    a Replay with ``error`` set (one line); no kernel is left running."""
    began = time.perf_counter()
    name = str(path)
    try:
        nb = read_notebook(path)
    except CannotRun as exc:
        return Replay(name, 0, error=str(exc))
    code = sum(cell.cell_type == "code" for cell in nb.cells)
    alone = Schedule(usable_cores(), at_once=False, usual=usable_cores())  # one run: the environment as it is
    progress = Progress(name, code, done=[0], on_change=on_progress)
    runs = Runs(Path(path).resolve(), kernel, timeout, (), progress, alone)
    try:
        ran = interruptible(runs.one(copy.deepcopy(nb), 0))
    except CannotRun as exc:
        return Replay(name, code, error=str(exc))
    return dataclasses.replace(compare_saved(nb, ran, path=name), seconds=time.perf_counter() - began)


def compare_saved(saved: NotebookNode, ran: NotebookNode, *, path: str) -> Replay:
    """The verdict on ``ran`` (a run of ``saved``) against the outputs ``saved`` holds."""
    notes: list[str] = []
    saved_record, where = _the_record(saved, "the record", notes)
    run_record = None
    if saved_record is not None:
        run_record, _ = _the_record(ran, "the run's record", notes, prefer=where, saved=saved)
    record_changes = changes(saved_record, run_record) if saved_record is not None and run_record is not None else ()
    sources = [cell.source if cell.cell_type == "code" else None for cell in saved.cells]
    uses = _libraries_by_cell(sources)
    differences: list[SavedDifference] = []
    ignored: list[int] = []
    unrun: list[int] = []
    for index, cell in enumerate(saved.cells):
        if cell.cell_type != "code":
            continue
        if is_ignored(cell):
            ignored.append(index)
            continue
        if cell.get("execution_count") is None and not cell.get("outputs"):
            unrun.append(index)
            continue
        difference = first_difference(
            normalized(_without_records(cell.get("outputs", []))),
            normalized(_without_records(ran.cells[index].get("outputs", []))),
        )
        if difference is None:
            continue
        used = cells_used(sources, index)
        after = tuple(earlier for earlier in differences if earlier.index in used)
        told = {(c.kind, c.cell, c.line) for earlier in after for c in earlier.causes}
        causes = tuple(c for c in likely_causes(sources, index) if (c.kind, c.cell, c.line) not in told)
        libraries = set(uses[index]).union(*(uses[k] for k in used))
        if any(cause.kind == "hash-order" for cause in causes):
            libraries.add("hash")
        explained = [change for change in record_changes if change.libraries and change.concerns(libraries)]
        explained += [change for change in record_changes if not change.libraries]
        if saved_record is not None and run_record is not None:
            seed_change = cell_seed_change(saved_record, run_record, _key(cell))
            if seed_change is not None:
                explained.append(seed_change)
        told_changes = {change for earlier in after for change in earlier.changes}
        differences.append(
            SavedDifference(
                index,
                cell.get("id"),
                f"{difference} (saved, then this run)",
                causes,
                tuple(earlier.index for earlier in after),
                tuple(change for change in explained if change not in told_changes),
            )
        )
    code_cells = sum(source is not None for source in sources)
    missing = sum(1 for cell in saved.cells if cell.cell_type == "code" and not cell.get("id"))
    if code_cells and len(unrun) == code_cells:
        notes.append("the file holds no outputs to compare with: run it and save it first")
    return Replay(
        path,
        code_cells,
        tuple(differences),
        tuple(ignored),
        missing_ids=missing,
        record_changes=record_changes,
        notes=tuple(notes),
        unrun=tuple(unrun),
    )


def records_in(nb: NotebookNode) -> list[tuple[int, object]]:
    """Every seedmagic record output in ``nb``: its cell's index and its data, in notebook order."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data") or {}
            if MIME_TYPE in data:
                found.append((index, data[MIME_TYPE]))
    return found


def _the_record(
    nb: NotebookNode, holder: str, notes: list[str], prefer: int | None = None, saved: NotebookNode | None = None
) -> tuple[Record | None, int | None]:
    """The record ``nb`` holds (the last one; with ``prefer``, the one in that cell), and its cell; a note in
    ``notes`` where there is none, or it cannot be read, or there are several that differ. In a run (``saved``
    given), a cell the runner skipped still holds the file's outputs: its record is not the run's."""
    found = records_in(nb)
    if saved is not None:
        found = [item for item in found if _skip_reason(saved.cells[item[0]]) is None]
    if not found:
        if saved is None:
            notes.append("no seedmagic record in the file (keep one with %seed --record): compared outputs only")
        else:
            notes.append(f"the run made no seedmagic record{_why_not_run(saved, prefer)}: compared outputs only")
        return None, None
    chosen = [item for item in found if item[0] == prefer] or found
    index, data = chosen[-1]
    if saved is None and len({repr(item[1]) for item in found}) > 1:
        cells = ", ".join(str(item[0] + 1) for item in found)
        notes.append(
            f"{len(found)} different records in the file (cells {cells}): compared with the last, cell {index + 1}"
        )
    try:
        return read(data), index
    except RecordError as exc:
        notes.append(f"{holder} in cell {index + 1} cannot be read ({exc}): compared outputs only")
        return None, index


def _why_not_run(saved: NotebookNode, index: int | None) -> str:
    if index is None:
        return ""
    reason = _skip_reason(saved.cells[index])
    return f" in cell {index + 1}, where the file has one" + (f" ({reason}: the run skips it)" if reason else "")


def _skip_reason(cell: NotebookNode) -> str | None:
    """Why nbclient does not run ``cell`` (it keeps its saved outputs), or None where it runs it."""
    if "skip-execution" in cell.get("metadata", {}).get("tags", []):
        return "the cell is tagged skip-execution"
    if not cell.source.strip():
        return "the cell is empty"
    return None


def _without_records(outputs: Iterable[Any]) -> list[Any]:
    """A cell's outputs less the seedmagic records: what they hold is compared as records, not as output."""
    return [output for output in outputs if MIME_TYPE not in (output.get("data") or {})]


def _key(cell: NotebookNode) -> str:
    """The record key auto mode gives the cell in a run of the file (runners send each cell's id)."""
    return f"cell-id:{cell['id']}" if cell.get("id") else source_key(cell.source)


def _libraries_by_cell(sources: Sequence[str | None]) -> list[frozenset[str]]:
    """The libraries each code cell's own code uses (imports, or names bound by the notebook's imports)."""
    aliases: dict[str, str] = {}
    used: list[frozenset[str]] = []
    for source in sources:
        tree = _python(source)
        if tree is None:
            used.append(frozenset())
            continue
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    library = _library(alias.name)
                    if library:
                        found.add(library)
                        aliases[alias.asname or alias.name.split(".")[0]] = library
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                library = _library(node.module)
                if library:
                    found.add(library)
                    for alias in node.names:
                        aliases[alias.asname or alias.name] = library
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in aliases:
                found.add(aliases[node.id])
        used.append(frozenset(found))
    return used


def _library(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in _LIBRARIES else _USES.get(top)


@functools.lru_cache(maxsize=1024)
def _python(source: str | None) -> ast.Module | None:
    if not source or not source.strip():
        return None
    lines = source.strip("\n").splitlines()
    if lines[0].startswith("%%"):
        if lines[0][2:].split(" ")[0] not in PYTHON_CELL_MAGICS:
            return None
        lines = lines[1:]
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell("\n".join(lines)))  # type: ignore[no-untyped-call]
    except Exception:  # not Python: its libraries are not known
        return None
