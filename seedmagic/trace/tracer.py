"""``--trace`` for ``check.run_twice``: each run recorded anew, and the last two compared."""

from __future__ import annotations

import sys
from typing import Any

from .comparing import compare
from .ops import Run
from .recorder import Recorder
from .report import Traced


class Tracer:
    """``--trace`` for ``run_twice``: ``traced(run)`` records each run anew (a run run again replaces its record);
    ``result()`` compares the last two."""

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self.runs: list[Run] = []
        self.torch = sys.modules.get("torch")
        self.namespace = namespace

    def traced(self, run: Any, which: int) -> Any:
        """``run``, recorded as run ``which`` (0 or 1) whenever it is called."""

        def traced_run() -> Any:
            __tracebackhide__ = True
            torch = self.torch = sys.modules.get("torch")
            if torch is None or not hasattr(torch, "nn"):
                return run()
            recorder = Recorder(torch, self.namespace)
            del self.runs[which:]
            try:
                with recorder.recording():
                    return run()
            finally:
                if len(self.runs) == which:
                    self.runs.append(recorder.run)

        return traced_run

    def result(self) -> Traced:
        if self.torch is None:
            return Traced(0, untraced="torch was not imported: there was nothing to trace")
        if len(self.runs) < 2:
            return Traced(0, untraced="torch was imported by the cell itself: import it in a cell before, to trace")
        return compare(self.torch, self.runs[0], self.runs[1])
