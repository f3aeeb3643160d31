"""seedmagic's pytest plugin (installed with seedmagic; pytest loads it by itself).

- With nbval (``pytest --nbval``): each cell is sent with its id, as JupyterLab sends it, so that a notebook written
  with ``%seed N --auto`` gives nbval the outputs it stored.
- ``pytest --seedmagic-verify NOTEBOOK...``: each notebook is one test, which passes when ``seedmagic verify`` finds
  it reproducible and fails with its report otherwise; ``--seedmagic-verify-saved``: one test that passes when a
  run matches the outputs the file holds (``seedmagic verify --against-saved``).
- nbval leaves seedmagic's record outputs (``%seed --record``) out of its comparison: they hold the machine's
  versions and builds, which differ from one machine to another.

It imports nothing of seedmagic's, nor nbval, until a notebook is run.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from jupyter_client.session import Session


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("seedmagic")
    group.addoption(
        "--seedmagic-verify",
        action="store_true",
        help="verify each collected notebook (.ipynb): run it twice in fresh kernels and fail where a cell's outputs "
        "differ, with its likely cause and fix",
    )
    group.addoption(
        "--seedmagic-verify-saved",
        action="store_true",
        help="compare each collected notebook (.ipynb) with its saved outputs: run it once in a fresh kernel and fail "
        "where a cell differs, naming what changed since it was saved",
    )
    group.addoption("--seedmagic-verify-seed", type=int, metavar="N", help="start the kernels with %%seed N")
    group.addoption("--seedmagic-verify-auto", action="store_true", help="start the kernels with %%seed N --auto")
    group.addoption(
        "--seedmagic-verify-timeout", type=float, default=600.0, metavar="SECONDS", help="the most one cell may take"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, None]:
    session = _nbval_session(item)
    if session is None:
        yield
        return
    from .cell_ids import cell_id_sent

    _records_left_out(item)
    with cell_id_sent(session, item.cell.get("id")):  # type: ignore[attr-defined]
        yield


def _records_left_out(item: Any) -> None:
    """nbval compares this cell's outputs without seedmagic's record outputs, on both sides."""
    from ..records import MIME_TYPE

    compare = item.compare_outputs

    def without_records(test: list[Any], ref: list[Any], skip_compare: Any = None) -> Any:
        kept = [[out for out in outs if MIME_TYPE not in (out.get("data") or {})] for outs in (test, ref)]
        return compare(*kept, skip_compare)

    item.compare_outputs = without_records


def _nbval_session(item: pytest.Item) -> Session | None:
    """The jupyter_client session nbval sends this cell's execute request on, when ``item`` is an nbval cell."""
    plugin = sys.modules.get("nbval.plugin")
    if plugin is None or not isinstance(item, getattr(plugin, "IPyNbCell", ())):
        return None
    kernel = getattr(item.parent, "kernel", None)
    session: Session | None = getattr(getattr(kernel, "kc", None), "session", None)
    return session


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    option = parent.config.getoption
    if file_path.suffix == ".ipynb" and (option("seedmagic_verify") or option("seedmagic_verify_saved")):
        return VerifiedNotebook.from_parent(parent, path=file_path)
    return None


class VerifiedNotebook(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        if self.config.getoption("seedmagic_verify"):
            yield VerifyItem.from_parent(self, name="seedmagic verify")
        if self.config.getoption("seedmagic_verify_saved"):
            yield VerifyItem.from_parent(self, name="seedmagic verify --against-saved")


class NotReproducible(Exception):
    """The notebook's report, shown as the test's failure."""


class VerifyItem(pytest.Item):
    def runtest(self) -> None:
        from . import report
        from .verify import Verdict, verify

        option = self.config.getoption
        verdict: Verdict
        if self.name.endswith("--against-saved"):
            from .replay import against_saved

            verdict = against_saved(self.path, timeout=option("seedmagic_verify_timeout"))
        else:
            verdict = verify(
                self.path,
                seed=option("seedmagic_verify_seed"),
                auto=option("seedmagic_verify_auto"),
                timeout=option("seedmagic_verify_timeout"),
            )
        if not verdict.reproducible:
            raise NotReproducible(report.text([verdict]))
        if verdict.schedule is not None and verdict.schedule.note:  # what the passing check covers, in the summary
            from ..errors import SeedmagicWarning

            warnings.warn(SeedmagicWarning(f"{self.path.name}: {verdict.schedule.note}"), stacklevel=1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, NotReproducible):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}: {self.name}"
