"""Whole notebooks: running them with their cell ids (nbclient, nbval), ``seedmagic verify`` (``verify.verify``), and
why a cell does not reproduce. Imported by the command line, the pytest plugin and the user, never by
``%load_ext seedmagic``; importing it loads only the cell-id helpers (the pytest plugin loads it at every start)."""

from .cell_ids import cell_id_sent, send_cell_ids

__all__ = ["cell_id_sent", "send_cell_ids"]
