"""How a value is shown in a report: its repr in one short line, without the memory addresses that differ between
any two runs."""

from __future__ import annotations

import re
from typing import Any


def excerpt(value: Any, width: int = 60) -> str:
    """A value's repr in one line of at most ``width`` columns, without memory addresses (``at 0x7f…``), which
    differ between any two objects and say nothing about the user's values."""
    try:
        text = _ADDRESS.sub("", " ".join(repr(value).split()))
    except Exception as exc:
        text = f"<repr failed: {type(exc).__name__}>"
    return text if len(text) <= width else text[: width - 1] + "…"


_ADDRESS = re.compile(r" (?:object )?at 0x[0-9a-fA-F]+")
