"""``%%seeded --check --trace``: where inside a torch model two runs of a cell part.

**What each run records.** While a run goes on, a ``TorchDispatchMode`` of its own sees every operation torch
dispatches (in autograd's threads too) and records, per operation: its identity (the op's name and how many times the
run called it before: ``aten::mm`` #12), the module it ran in as the model names it (``encoder.layers.3.attn``, from
``nn.Module``'s global forward hooks and, in backward, hooks on the gradients of each module's outputs and inputs),
forward or backward, the step (the optimizer steps before it, else the model's forward calls), and a digest of each
tensor it reads and writes, with its shape and dtype, and its other arguments (Python numbers) as they are. A torch
generator it draws from counts as an argument, by a digest of its state.

The digest is one int64 per tensor, computed on the tensor's device and read once, when the run ends: the tensor's
bits (as integers) times a weight per column of 1024, summed per row, and the rows summed with odd weights by their
position: any one changed bit changes it, and so do a permutation and a constant (where a xor, as
``torch.hash_tensor``'s, gives 0). A tensor read again unchanged (a parameter) is digested once. Values are kept only
for the operations that can start a difference (those that draw from a generator, those torch documents as
nondeterministic, those that take a Python number or a tensor no traced operation made): their first 65,536 values,
on the host, 64 MB per run at most, for the excerpt.

**Where the runs part** is the first operation, in the first run's order, whose record differs in the second run
(aligned by identity, not position): if its inputs agree and its outputs differ, the operation itself gave another
value; if an input differs, it came from outside torch's operations (a Python number, a generator's state, a tensor
made by NumPy or written by another thread). Every later difference is its consequence, summed up in one line.

Nothing here imports torch or starts CUDA: the caller passes the module the user imported. Every hook is removed when
the run ends, also when it raises or is interrupted.

The package, one module per part: ``ops`` (what a run records: ``Op``, ``Run``), ``nondeterministic`` (what torch
documents as nondeterministic), ``digest`` (the digests of tensors), ``recorder`` (the mode and hooks that record a
run), ``comparing`` (where two runs part), ``report`` (``Parting`` and ``Traced``: the cause and the report's lines)
and ``tracer`` (``Tracer``: ``--trace`` for ``check.run_twice``).
"""

from __future__ import annotations

from .comparing import compare
from .digest import Digests
from .nondeterministic import Documented, documented, documented_as_nondeterministic
from .ops import Op, Run
from .recorder import Recorder
from .report import Parting, Traced
from .tracer import Tracer

__all__ = [
    "Digests",
    "Documented",
    "Op",
    "Parting",
    "Recorder",
    "Run",
    "Traced",
    "Tracer",
    "compare",
    "documented",
    "documented_as_nondeterministic",
]
