"""What a trace records of one run: each operation it dispatched (``Op``), and the run's records (``Run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from torch import Tensor


class Op(NamedTuple):
    """One operation a run dispatched: its identity (``name``, ``number``), where it ran, and what it read and wrote
    (digests' slots, and the other arguments as they are)."""

    name: str
    number: int
    module: str
    backward: bool
    steps: int  # optimizer steps before it
    forwards: int  # the model's forward calls so far
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    shapes: tuple[tuple[tuple[int, ...], str], ...]
    arguments: tuple[Any, ...]
    outside: tuple[bool, ...]  # per tensor input: made or written by no traced operation
    kept: int  # index into the run's kept values, -1: none
    device: str


class Run:
    """One run's records, read off the device when it ended: the operations, their digests, the values kept."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.digests: list[int] = []
        self.kept: list[list[Tensor]] = []
        self.optimizer_steps = 0
        self.forwards = 0
        self.threads: list[str] = []  # threads the run started
