"""Where two traced runs part: the first operation, in the first run's order, whose record differs in the second.

Operations are aligned by identity (the op's name and how many times the run called it before), not by position; the
parting's ``kind`` says what differs there, and its excerpt shows both runs' values from those the recorder kept.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .nondeterministic import documented_as_nondeterministic
from .ops import Op, Run
from .report import Parting, Traced


def compare(torch: ModuleType, first: Run, second: Run) -> Traced:
    """Where two runs part: the first operation of ``first`` whose record in ``second`` differs."""
    by_identity = {(op.name, op.number): op for op in second.ops}
    origin: tuple[int, Op, Op | None] | None = None
    for index, a in enumerate(first.ops):
        b = by_identity.get((a.name, a.number))
        if b is None or _differs(first, second, a, b):
            origin = (index, a, b)
            break
    if origin is None:
        seen = {(op.name, op.number) for op in first.ops}
        extra = next(((i, op) for i, op in enumerate(second.ops) if (op.name, op.number) not in seen), None)
        if extra is None:
            return Traced(len(first.ops))
        index, op = extra
        return Traced(len(first.ops), _parting(torch, first, second, op, None, index, "order"))
    index, a, b = origin
    if b is None:
        return Traced(len(first.ops), _parting(torch, first, second, a, None, index, "order"))
    kind = "input" if _inputs_differ(first, second, a, b) else "values"
    return Traced(len(first.ops), _parting(torch, first, second, a, b, index, kind))


def _differs(first: Run, second: Run, a: Op, b: Op) -> bool:
    return (
        _inputs_differ(first, second, a, b)
        or a.shapes != b.shapes
        or any(first.digests[x] != second.digests[y] for x, y in zip(a.outputs, b.outputs, strict=False))
    )


def _inputs_differ(first: Run, second: Run, a: Op, b: Op) -> bool:
    return (
        len(a.inputs) != len(b.inputs)
        or a.arguments != b.arguments
        or any(first.digests[x] != second.digests[y] for x, y in zip(a.inputs, b.inputs, strict=False))
    )


def _step(run: Run, op: Op) -> str:
    if run.optimizer_steps:
        if op.steps >= run.optimizer_steps:
            return f", after step {run.optimizer_steps}"
        return f", step {op.steps + 1} of {run.optimizer_steps}"
    if run.forwards > 1:
        return f", forward call {op.forwards} of {run.forwards}" if op.forwards else ", before the first forward call"
    return ""


def _parting(torch: ModuleType, first: Run, second: Run, a: Op, b: Op | None, index: int, kind: str) -> Parting:
    argument = None
    from_outside = False
    excerpt = ""
    draws = any(isinstance(x, tuple) and x and x[0] in ("generator", "default generator") for x in a.arguments)
    device = "cpu"
    if b is not None:
        if kind == "input":
            for x, y in zip(a.arguments, b.arguments, strict=False):
                if x != y:
                    argument = (x, y)
                    break
            from_outside = any(
                first.digests[x] != second.digests[y] and (outside_a or outside_b)
                for x, y, outside_a, outside_b in zip(a.inputs, b.inputs, a.outside, b.outside, strict=False)
            )
        excerpt = _excerpt(torch, first, second, a, b)
    device = a.device or device
    documented_entry = documented_as_nondeterministic(torch, a.name, device, a.backward) if kind == "values" else None
    later = later_total = 0
    modules: set[str] = set()
    by_identity = {(op.name, op.number): op for op in second.ops}
    for op in first.ops[index + 1 :]:
        later_total += 1
        other = by_identity.get((op.name, op.number))
        if other is None or _differs(first, second, op, other):
            later += 1
            modules.add(op.module)
    threads = tuple(first.threads)
    return Parting(
        a.name,
        a.number,
        a.module,
        a.backward,
        kind,
        _step(first, a),
        device,
        excerpt,
        argument,
        from_outside,
        draws,
        documented_entry,
        threads,
        later,
        later_total,
        len(modules),
    )


def _excerpt(torch: ModuleType, first: Run, second: Run, a: Op, b: Op) -> str:
    """Both runs' values where the first output that differs differs most (from the values kept)."""
    for position, (x, y) in enumerate(zip(a.outputs, b.outputs, strict=False)):
        if first.digests[x] == second.digests[y] and a.shapes[position] == b.shapes[position]:
            continue
        if a.kept < 0 or b.kept < 0:
            return "values: not kept (only their digests: past the 64 MB kept per run)"
        one, two = first.kept[a.kept][position], second.kept[b.kept][position]
        shape = a.shapes[position][0]
        if one.shape != two.shape:
            return f"shapes: {list(a.shapes[position][0])} vs {list(b.shapes[position][0])}"
        one_d, two_d = one.double(), two.double()
        gap = (one_d - two_d).abs()
        nan = one_d.isnan() != two_d.isnan()
        gap = torch.where(nan, torch.full_like(gap, float("inf")), torch.nan_to_num(gap, nan=0.0))
        bitwise = one.view(-1) != two.view(-1) if one.dtype == two.dtype else gap > 0
        if one.is_floating_point():
            bitwise = bitwise & ~(one_d.isnan() & two_d.isnan())
        count = int(bitwise.sum())
        if not count:
            return f"values: the first {one.numel():,} agree; they differ further on"
        gap = torch.where(bitwise, gap, torch.full_like(gap, -1.0))
        at = int(gap.argmax())
        where = _unravel(at, shape)
        of = f"{one.numel():,} kept" if one.numel() < _numel(shape) else f"{one.numel():,}"
        output = "" if len(a.outputs) == 1 else f" of output {position}"
        return (
            f"values{output} at {where or '[]'}: {_number(one[at])} in the first run, {_number(two[at])} in the "
            f"second (the largest of {count:,} differences in {of} values)"
        )
    return ""


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _unravel(index: int, shape: tuple[int, ...]) -> str:
    if not shape:
        return ""
    place = []
    for size in reversed(shape):
        place.append(index % size if size else 0)
        index //= size if size else 1
    return f"[{', '.join(str(i) for i in reversed(place))}]"


def _number(value: Any) -> str:
    item = value.item()
    return f"{item:.6g}" if isinstance(item, float) else repr(item)
