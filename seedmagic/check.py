"""``%%seeded --check``: run a cell twice from the same seed and say whether it came out the same.

Both runs start from the same namespace: after the first run, the names it bound are put back as they were, the
generators are reseeded, and the cell runs again. Every name the cell bound, and its last expression, are then
compared exactly (tensors and arrays with their dtype and shape). What an object changed in place, or what the cell
did outside the namespace (files, prints, training an existing model), happens twice.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .sources import hash_seed_flag

LAST_EXPRESSION = "Out"
HINT = (
    "usual causes: a generator seedmagic does not seed (np.random.default_rng() or torch.Generator() without a seed: "
    "use seedmagic.rng() / seedmagic.torch_generator()), the clock (time.time(), datetime.now()), os.urandom/uuid, "
    "threads, or GPU kernels that are not deterministic (%seed --deterministic)"
)


@dataclass(frozen=True)
class Difference:
    name: str
    why: str
    first: str
    second: str


@dataclass(frozen=True)
class CheckReport:
    """The outcome of ``run_twice``: which names were compared, which differ, and what one process cannot check."""

    seed: int | None
    compared: tuple[str, ...]
    differences: tuple[Difference, ...]
    caveats: tuple[str, ...] = ()

    @property
    def reproducible(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        seed = "" if self.seed is None else f" from seed {self.seed}"
        if self.reproducible:
            names = ", ".join(self.compared) or "nothing to compare"
            lines = [f"seedmagic: reproducible: two runs{seed} gave the same {names}"]
        else:
            count = f"{len(self.differences)} of {len(self.compared)}"
            lines = [f"seedmagic: NOT reproducible: two runs{seed} differ in {count}:"]
            for d in self.differences:
                lines.append(f"  {d.name}: {d.why}: {d.first}  vs  {d.second}")
            lines.append(f"  {HINT}")
        lines += [f"  note: {caveat}" for caveat in self.caveats]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def run_twice(
    run: Callable[[], Any], namespace: dict[str, Any], reseed: Callable[[], None], seed: int | None = None
) -> tuple[Any, CheckReport]:
    """Run ``run()`` (already seeded), restore the names it bound, ``reseed()``, run again; compare the two runs.

    Returns the second run's value and the report; the namespace is left as the second run left it.
    """
    __tracebackhide__ = True
    before = dict(namespace)
    first_value = run()
    first = _bound(before, namespace)
    for name in first:
        if name in before:
            namespace[name] = before[name]
        else:
            del namespace[name]
    reseed()
    second_value = run()
    second = _bound(before, namespace)
    first[LAST_EXPRESSION], second[LAST_EXPRESSION] = first_value, second_value

    compared, differences, caveats = [], [], []
    for name in [*first, *(name for name in second if name not in first)]:
        if name == LAST_EXPRESSION and first_value is None and second_value is None:
            continue
        if name not in first or name not in second:
            run_number = "first" if name in first else "second"
            differences.append(Difference(name, f"bound only by the {run_number} run", "", ""))
            compared.append(name)
            continue
        a, b = first[name], second[name]
        if _is_code(a) and _is_code(b):
            continue
        compared.append(name)
        why = difference(a, b)
        if why is not None:
            differences.append(Difference(name, why, _excerpt(a), _excerpt(b)))
        elif _holds_strings_in_a_set(a) and not hash_seed_flag().ok:
            caveats.append(
                f"{name} holds a set of strings: its order differs between processes unless PYTHONHASHSEED is set "
                "before the kernel starts, which one process cannot check"
            )
    return second_value, CheckReport(seed, tuple(compared), tuple(differences), tuple(caveats))


def _bound(before: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """The names a run bound: new ones, and those now bound to another object."""
    return {name: value for name, value in namespace.items() if name not in before or before[name] is not value}


def _is_code(value: Any) -> bool:
    """Functions, classes and modules: a cell defines or imports them; they hold no random numbers to compare."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type))


def _excerpt(value: Any, width: int = 60) -> str:
    try:
        text = " ".join(repr(value).split())
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


def difference(a: Any, b: Any) -> str | None:
    """None if ``a`` and ``b`` are exactly the same value (NaN equal to NaN), else a short reason."""
    if a is b:
        return None
    if type(a) is not type(b):
        return f"type {type(a).__name__} vs {type(b).__name__}"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(a, torch.Tensor):
        return _tensor_difference(torch, a, b)
    if torch is not None and isinstance(a, torch.nn.Module):
        return difference(a.state_dict(), b.state_dict())
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(a, (numpy.ndarray, numpy.generic)):
        return _array_difference(numpy, a, b)
    if isinstance(a, float):
        return None if a == b or (math.isnan(a) and math.isnan(b)) else "values differ"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"length {len(a)} vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            why = difference(x, y)
            if why is not None:
                return f"[{index}] {why}"
        return None
    if isinstance(a, dict):
        if list(a) != list(b):
            return "keys differ"
        for key in a:
            why = difference(a[key], b[key])
            if why is not None:
                return f"[{key!r}] {why}"
        return None
    equals = getattr(a, "equals", None)  # pandas objects
    if callable(equals):
        return None if equals(b) else "values differ"
    if type(a).__eq__ is object.__eq__ and hasattr(a, "__dict__"):
        return difference(vars(a), vars(b))
    try:
        same = a == b
        return None if bool(same) else "values differ"
    except Exception:
        return "values differ" if _excerpt(a, 10_000) != _excerpt(b, 10_000) else None


def _tensor_difference(torch: Any, a: Any, b: Any) -> str | None:
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} vs {b.dtype}"
    if a.shape != b.shape:
        return f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    if a.device != b.device:
        return f"device {a.device} vs {b.device}"
    a, b = a.detach(), b.detach()
    if torch.equal(a, b):
        return None
    if (a.is_floating_point() or a.is_complex()) and bool(((a == b) | (a.isnan() & b.isnan())).all()):
        return None
    return "values differ"


def _array_difference(numpy: Any, a: Any, b: Any) -> str | None:
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} vs {b.dtype}"
    if numpy.shape(a) != numpy.shape(b):
        return f"shape {numpy.shape(a)} vs {numpy.shape(b)}"
    try:
        same = numpy.array_equal(a, b, equal_nan=True)
    except TypeError:  # equal_nan needs numbers
        same = numpy.array_equal(a, b)
    return None if same else "values differ"


def _holds_strings_in_a_set(value: Any, depth: int = 3) -> bool:
    if isinstance(value, (set, frozenset)):
        return any(isinstance(item, (str, bytes)) for item in value)
    if depth and isinstance(value, (list, tuple)):
        return any(_holds_strings_in_a_set(item, depth - 1) for item in value)
    if depth and isinstance(value, dict):
        return any(_holds_strings_in_a_set(item, depth - 1) for item in value.values())
    return False
