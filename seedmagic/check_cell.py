"""Running a ``%%seeded --check`` cell: its body twice under the cell's seed, and the report printed after it.

The magic parses the line and opens the cell's seeded scope; here the body runs inside that scope and the census's
count, through ``check.run_twice``, with what each run left each library seeded with. The report goes to stdout when
the two runs came out the same, to stderr when they did not; the cell's value is the last run's.
"""

from __future__ import annotations

import dataclasses
import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .cell import CompiledCell, ends_in_semicolon, isolate_held_generators, show_from_the_body
from .check import CheckRefused, run_twice
from .check_report import seeded_differently

if TYPE_CHECKING:
    from .engine import Engine
    from .status import SeedReport


def check_cell(
    shell: Any,
    engine: Engine,
    scope: AbstractContextManager[SeedReport],
    body: CompiledCell,
    cell: str,
    *,
    isolate: bool,
    trace: bool,
) -> Any:
    """Run ``body`` (compiled from ``cell``) twice in ``scope``, print the report and return the cell's value."""
    __tracebackhide__ = True
    seeds_after: list[dict[str, int]] = []  # what each run left each library seeded with, where it can tell

    def reseed() -> None:
        seeds_after.append(engine.library_seeds())
        engine.reseed()

    with scope as started, engine.census.counting() as made:
        isolate_held_generators(engine, shell.user_ns, isolate)
        code = [*body.statements, *([body.last_expression] if body.last_expression is not None else [])]
        try:
            value, report = run_twice(
                body.evaluate,
                shell.user_ns,
                reseed,
                started.seed,
                code=code,
                silenced=ends_in_semicolon(cell),
                trace=trace,
            )
        except CheckRefused as refused:
            raise UsageError(str(refused)) from None
        except BaseException as error:
            show_from_the_body(shell, error, code)
            raise
        seeds_after.append(engine.library_seeds())
    readers = {source.name: source.seed_reader for source in engine.sources}
    report = dataclasses.replace(
        report,
        made_without_seed=tuple(made),
        seeded_differently=seeded_differently(readers, seeds_after[0], seeds_after[-1]),
    )
    print(report, file=sys.stdout if report.proven else sys.stderr)
    return value


__all__ = ["check_cell"]
