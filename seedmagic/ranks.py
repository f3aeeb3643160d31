"""Which process of a parallel job this is: the rank that ``--per-rank`` mixes into the seed.

In order: ``torch.distributed`` once its process group is initialized, the ``RANK`` variable that torchrun (and most
launchers) set, the engine id of an ipyparallel engine. Nothing is imported to find out.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple


class Rank(NamedTuple):
    rank: int
    source: str

    def __str__(self) -> str:
        return f"rank {self.rank} (from {self.source})"


class PerRank(NamedTuple):
    """``--per-rank``: the seed given, and the rank this process's seed was derived for (None: no parallel job,
    rank 0)."""

    given: int
    rank: Rank | None

    def __str__(self) -> str:
        """The one wording of it, in the report, the status and the panel."""
        return f"derived from {self.given} for {self.rank or 'rank 0 (no parallel job found)'}"


def current_rank() -> Rank | None:
    """This process's rank, or None in a process that is not part of a parallel job."""
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        return Rank(distributed.get_rank(), "torch.distributed")
    rank = os.environ.get("RANK", "").strip()
    if rank.isdigit():
        return Rank(int(rank), "RANK")
    if "ipyparallel" in sys.modules and "IPython" in sys.modules:
        shell = sys.modules["IPython"].get_ipython()
        engine_id = getattr(getattr(shell, "kernel", None), "engine_id", None)
        if isinstance(engine_id, int) and engine_id >= 0:
            return Rank(engine_id, "ipyparallel engine id")
    return None
