"""What a cell is known by across runs, for auto mode and reach: the notebook's cell id where the front end sends one,
else the cell's source.

Both read the ``ExecutionInfo`` that IPython hands the cell events: auto mode derives each cell's seed from the
session seed and the cell's key, and reach keys the generators a cell makes by its identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo

#: Cell ids a front end sends that the notebook file does not store.
_EDITOR_ONLY_IDS = ("vscode-notebook-cell:",)


def cell_key(info: ExecutionInfo) -> str | None:
    """The key auto mode seeds a cell for (see ``cell_identity``).

    None for a cell that auto mode leaves alone: an empty one, or one of seedmagic's own line magics only (``%seed``,
    ``%seedpanel``), so that asking for the status does not reseed."""
    source = (info.raw_cell or "").lstrip()
    if not source or source[0] in "%#":  # else it is code: no need to read every line
        code = [line for line in (line.strip() for line in source.splitlines()) if line and not line.startswith("#")]
        if all(line.startswith("%seed") for line in code) or code[0].startswith("%%seeded"):
            return None  # a %%seeded cell seeds itself: its explicit seed wins
    return cell_identity(info)


def cell_identity(info: ExecutionInfo) -> str:
    """What identifies a cell across runs: the notebook's cell id where the front end sends one, else its source.
    Reach keys every cell by it, a ``%%seeded`` cell too."""
    raw = info.raw_cell or ""
    cell_id = getattr(info, "cell_id", None)
    # VS Code sends the id the notebook stores, and where it stores none, the cell's editor URI, which the file does
    # not keep: a runner (nbval, seedmagic verify) then sends no id and keys the cell by its source. So does this.
    if cell_id and not (isinstance(cell_id, str) and cell_id.startswith(_EDITOR_ONLY_IDS)):
        return f"cell-id:{cell_id}"
    return f"source:{raw.strip()}"


__all__ = ["cell_identity", "cell_key"]
