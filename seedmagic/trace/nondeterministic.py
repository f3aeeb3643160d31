"""The operations torch documents as nondeterministic, read from the docstring of
``torch.use_deterministic_algorithms``: which ones, when, and whether deterministic mode makes them deterministic.
"""

from __future__ import annotations

import functools
import re
from types import ModuleType
from typing import NamedTuple


class Documented(NamedTuple):
    """An operation torch's documentation of ``use_deterministic_algorithms`` lists: when, and whether deterministic
    mode makes it deterministic (else it raises)."""

    name: str
    when: str
    raises: bool


_ALIASES = {"conv": "convolution", "conv_transpose": "convolution"}


@functools.lru_cache(maxsize=4)
def documented(doc: str) -> tuple[Documented, ...]:
    """The operations the docstring of ``torch.use_deterministic_algorithms`` lists as nondeterministic."""
    found = []
    raises = False
    for line in doc.splitlines():
        if line.strip().startswith("The following"):  # the list of those made deterministic, then of those that raise
            raises = "will act" not in line
        item = re.match(r"\s*\* :(?:func|class|meth):`~?torch\.(?:nn\.functional\.|nn\.|Tensor\.)?([\w.]+)`(.*)", line)
        if item:
            name, when = item.group(1), item.group(2).strip().rstrip(".")
            snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_")
            snake = re.sub(r"(\d)d$", r"\1d", snake)
            found.append(Documented(snake, when.replace("``", "").replace("`", ""), raises))
    return tuple(found)


def _base(op: str) -> str:
    """``aten::index_add_`` → ``index_add``; ``aten::_adaptive_avg_pool2d_backward`` → ``adaptive_avg_pool2d``."""
    name = op.rpartition("::")[2].strip("_")
    for suffix in ("_backward", "_forward", "_out"):
        name = name.removesuffix(suffix)
    return name.strip("_")


def documented_as_nondeterministic(torch: ModuleType, op: str, device: str, backward: bool = True) -> Documented | None:
    """What torch documents about ``op`` on ``device`` (in backward, or not) as nondeterministic, or None."""
    base = _base(op)
    for entry in documented(torch.use_deterministic_algorithms.__doc__ or ""):
        name = _ALIASES.get(re.sub(r"\d+d$", "", entry.name), entry.name)
        wanted = name.strip("_")
        if not (base == wanted or (base.startswith(wanted + "_") and not base.startswith(wanted + "_select"))):
            continue
        if "CUDA" in entry.when and "CPU" not in entry.when and device != "cuda":
            continue
        if "differentiate" in entry.when and not backward:
            continue
        if "CPU" in entry.when and "CUDA" not in entry.when and device != "cpu":
            continue
        return entry
    return None
