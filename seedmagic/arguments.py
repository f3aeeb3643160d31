"""What seedmagic accepts, checked before anything changes.

Seeds are integers in ``[0, 2**32)``: given, written as text, drawn from the OS, or derived from a seed and a key.
Library names are those of ``sources.NAMES``, given as a list or a comma-separated string; a switch is ``True`` or
``False``. A bad seed or an unknown library name raises ``InvalidArgument`` (a ``ValueError``) or
``InvalidArgumentType`` (also a ``TypeError``), and nothing has changed yet. Nothing here knows IPython.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import hashlib

from .errors import cell_traceback, shown
from .sources import NAMES

SEED_LIMIT = 2**32
"""Seeds are integers in ``[0, 2**32)``, the range every library accepts (NumPy's legacy seed is the narrowest)."""

Selection = str | Iterable[str] | None
ALL = frozenset(NAMES)
_SEED_TEXT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)", re.ASCII)


class InvalidArgument(ValueError):
    """A seed, library name or option seedmagic refuses: a ``ValueError``, raised before anything is changed. In a
    cell, IPython shows it as one line (``ValueError: ...``), without seedmagic's own frames."""

    __module__ = "seedmagic"  # as a traceback names it: seedmagic.InvalidArgument, which seedmagic exports

    def _render_traceback_(self) -> list[str]:  # IPython's hook for an exception's own traceback
        return cell_traceback(self)


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of the wrong type: a ``TypeError`` (and an ``InvalidArgument``)."""

    __module__ = "seedmagic"


def validate_seed(seed: Any) -> int:
    """Return ``seed`` as an int, or raise TypeError/ValueError naming what is wrong with it."""
    if type(seed) is int and 0 <= seed < SEED_LIMIT:
        return seed
    if isinstance(seed, bool):
        raise InvalidArgumentType(f"seed must be an integer, got {seed!r}")
    try:
        value = operator.index(seed)
    except TypeError:
        raise InvalidArgumentType(f"seed must be an integer, got {shown(seed)}") from None
    if not 0 <= value < SEED_LIMIT:
        raise InvalidArgument(f"seed must be between 0 and 2**32 - 1 = {SEED_LIMIT - 1}, got {value}")
    return value


def parse_seed(text: str) -> int:
    """A seed written as text: decimal (``2023``, ``1_000``) or hex (``0x7e7``), validated."""
    text = text.strip()
    if _SEED_TEXT.fullmatch(text):
        try:
            return validate_seed(int(text, 16 if text.lstrip("+-")[:2] in ("0x", "0X") else 10))
        except InvalidArgument:
            raise
        except ValueError:  # misplaced underscores
            pass
    hint = " (write {expression} to have IPython evaluate it)" if any(op in text for op in "+-*/") else ""
    raise InvalidArgument(f"seed must be an integer, got {text!r}{hint}")


def random_seed() -> int:
    """A fresh seed from OS entropy, for ``%seed --random``."""
    import secrets

    return secrets.randbits(SEED_LIMIT.bit_length() - 1)


def derive_seed(base: int, key: int | str) -> int:
    """A seed in ``[0, 2**32)`` derived from ``base`` and ``key``, the same on every platform and Python version.
    ``key`` is an int (``np.int64(7)`` and ``torch.tensor(7)`` are 7) or a str."""
    base = validate_seed(base)
    if isinstance(key, str):
        return derive(base, str(key))
    if not isinstance(key, bool):
        with contextlib.suppress(TypeError):
            return derive(base, operator.index(key))
    raise InvalidArgumentType(f"key must be an int or a str, got {shown(key)}")


def derive(base: int, key: int | str) -> int:
    """``derive_seed`` without its checks: ``base`` is a valid seed already (the session's, the one in force)."""
    digest = _blake2b()(f"seedmagic:{base}:{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


@functools.cache
def _blake2b() -> type[hashlib.blake2b]:
    # hashlib is imported on first use, not with the extension; auto mode derives a seed before every cell.
    from hashlib import blake2b

    return blake2b


def _names(value: str | Iterable[str], option: str) -> list[str]:
    try:
        parts: list[object] = [value] if isinstance(value, str) else list(value)
    except TypeError:
        parts = [value]
    if not all(isinstance(part, str) for part in parts):
        raise InvalidArgumentType(
            f"{option} takes library names ('torch,numpy' or ['torch', 'numpy']), got {shown(value)}"
        )
    names = [name.strip() for part in parts for name in str(part).split(",")]
    if not any(names):
        raise InvalidArgument(f"{option} needs at least one library name (known: {', '.join(NAMES)})")
    unknown = [name for name in names if name not in NAMES]
    if unknown:
        raise InvalidArgument(f"{option}: unknown library {unknown[0]!r} (known: {', '.join(NAMES)})")
    return names


def resolve_selection(only: Selection = None, skip: Selection = None) -> frozenset[str] | None:
    """The library names ``only``/``skip`` select, or None when neither is given."""
    if only is not None and skip is not None:
        raise InvalidArgument("give only or skip, not both")
    if only is not None:
        return frozenset(_names(only, "only"))
    if skip is not None:
        selection = ALL - frozenset(_names(skip, "skip"))
        if not selection:
            raise InvalidArgument("skip leaves no library to seed")
        return selection
    return None


def check_bool(name: str, value: object, *, none: bool = False) -> None:
    """Refuse anything but ``True`` and ``False`` (and None where ``none``): not ``1``, ``np.True_`` or ``"no"``."""
    if isinstance(value, bool) or (none and value is None):
        return
    allowed = "True, False or None" if none else "True or False"
    raise InvalidArgumentType(f"{name} must be {allowed}, got {shown(value)}")


def check_deterministic(deterministic: bool | None, warn_only: bool) -> None:
    """Refuse a deterministic switch that is not True, False or None, and ``warn_only`` without switching on."""
    check_bool("deterministic", deterministic, none=True)
    check_bool("warn_only", warn_only)
    if warn_only and deterministic is not True:
        raise InvalidArgument("warn_only applies only when switching deterministic mode on")
