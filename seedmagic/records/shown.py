"""The record ``%seed --record`` shows, kept up to date after each cell under one display id (``live``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import one_line, warn
from .gather import build
from .schema import Record
from .text import bundle

if TYPE_CHECKING:
    from ..engine import Engine

#: ``publish(bundle, display_id, update)``: show the bundle as a new output, or update the outputs shown with that id.
Publish = Callable[[dict[str, Any], str, bool], None]


class LiveRecord:
    """The record ``%seed --record`` shows, published again after any cell that changed it (an import, a cell auto
    mode seeded, a flag), under one display id for the whole kernel: every record output of the notebook shows the
    last state, which is what the saved file holds. Knows no IPython: the magic gives it ``publish``."""

    def __init__(self, engine: Engine, publish: Publish) -> None:
        self.engine = engine
        self.publish = publish
        self.display_id = f"seedmagic-record-{os.urandom(8).hex()}"
        self.shown: Record | None = None
        self._warned = False

    def show(self) -> Record:
        record = build(self.engine)
        self.publish(bundle(record), self.display_id, False)
        self.shown = record
        return record

    def after_cell(self, result: object = None) -> None:
        """IPython's post_run_cell: update the shown record where it changed. Never breaks the user's cell."""
        if self.shown is None:
            return
        try:
            record = build(self.engine)
            if record != self.shown:
                self.publish(bundle(record), self.display_id, True)
                self.shown = record
        except Exception as exc:
            if not self._warned:
                self._warned = True
                warn(f"seedmagic could not update the record: {one_line(exc)}")


_live: LiveRecord | None = None


def live(engine: Engine, publish: Publish) -> tuple[LiveRecord, bool]:
    """The kernel's one live record, and whether it was made now (its ``after_cell`` is then to be registered)."""
    global _live
    if _live is not None and _live.engine is engine:
        _live.publish = publish
        return _live, False
    _live = LiveRecord(engine, publish)
    return _live, True


def stop_live(events: Any) -> None:
    """Stop updating the live record (``%unload_ext``): ``events`` is the shell's ``EventManager``."""
    global _live
    if _live is not None:
        if _live.after_cell in events.callbacks.get("post_run_cell", []):
            events.unregister("post_run_cell", _live.after_cell)
        _live = None
