"""Headless runners send the cell's id, as JupyterLab, Notebook 7 and VS Code do.

A front end names the cell it runs in the execute request's metadata (``cellId``); ipykernel hands it to IPython as
``ExecutionInfo.cell_id``, and auto mode derives the cell's seed from it. nbclient (and what runs on it) and nbval
send no metadata: ``jupyter_client`` builds every request's metadata from its session's ``metadata`` dict, so setting
``cellId`` there while the cell's request is sent is all it takes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from jupyter_client.session import Session
    from nbclient import NotebookClient
    from nbformat import NotebookNode

CELL_ID = "cellId"
_Client = TypeVar("_Client", bound="NotebookClient")


@contextlib.contextmanager
def cell_id_sent(session: Session, cell_id: str | None) -> Iterator[None]:
    """Requests sent on ``session`` (a ``jupyter_client.session.Session``) inside the block name ``cell_id`` as the
    cell they run, as JupyterLab's do; None (a cell with no id) sends none. The session's metadata is put back."""
    metadata: dict[str, Any] = session.metadata
    before = metadata.get(CELL_ID)
    if cell_id:
        metadata[CELL_ID] = cell_id
    else:
        metadata.pop(CELL_ID, None)
    try:
        yield
    finally:
        if before is None:
            metadata.pop(CELL_ID, None)
        else:
            metadata[CELL_ID] = before


def send_cell_ids(client: _Client) -> _Client:
    """Make an ``nbclient.NotebookClient`` (or nbconvert's ``ExecutePreprocessor``) send each cell's id with its
    execute request, so that ``%seed N --auto`` gives every cell the seed it gets in JupyterLab. Returns the client::

        client = send_cell_ids(NotebookClient(nb, kernel_name="python3"))
        client.execute()

    Hooks the client already has (``on_cell_execute``, ``on_cell_complete``) still run."""
    before_execute: Callable[..., Any] | None = client.on_cell_execute
    before_complete: Callable[..., Any] | None = client.on_cell_complete
    sent: list[contextlib.ExitStack] = []

    async def on_cell_execute(cell: NotebookNode, cell_index: int, **kwargs: Any) -> None:
        if before_execute is not None:
            await _maybe_await(before_execute(cell=cell, cell_index=cell_index, **kwargs))
        assert client.kc is not None  # as nbclient asserts before it runs a cell
        stack = contextlib.ExitStack()
        stack.enter_context(cell_id_sent(client.kc.session, cell.get("id")))
        sent.append(stack)

    async def on_cell_complete(cell: NotebookNode, cell_index: int, **kwargs: Any) -> None:
        while sent:  # the request is sent: later messages (completions, widgets) name no cell
            sent.pop().close()
        if before_complete is not None:
            await _maybe_await(before_complete(cell=cell, cell_index=cell_index, **kwargs))

    client.on_cell_execute = on_cell_execute
    client.on_cell_complete = on_cell_complete
    return client


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value
