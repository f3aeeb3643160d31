"""``%seed --record``: the record shown as the cell's output, and updated after every later cell.

The record itself is made and kept in ``records``; this module hands it to IPython's display, which a notebook front
end updates in place and a terminal only prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine


def show_record(shell: Any, engine: Engine) -> None:
    """``%seed --record``: the record as this cell's output, updated after every later cell (see records/)."""
    from IPython.core.displaypub import DisplayPublisher
    from IPython.display import display, update_display

    from .records import live

    def publish(bundle: dict[str, Any], display_id: str, update: bool) -> None:
        if not update:
            display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
        elif type(shell.display_pub) is not DisplayPublisher:  # a terminal prints; it updates nothing
            update_display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]

    recorder, new = live(engine, publish)
    if new or recorder.after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", recorder.after_cell)
    recorder.show()


__all__ = ["show_record"]
