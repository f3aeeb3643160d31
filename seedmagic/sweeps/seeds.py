"""The seeds a sweep runs: the ``%%seeds`` text (``0-9``, ``3,7,11``, a count), the seeds ``sweep()`` is given, and
their short form (``0-4, 10``)."""

from __future__ import annotations

import numbers
import operator
from collections.abc import Iterable, Sequence

from ..arguments import InvalidArgument, InvalidArgumentType, derive_seed, parse_seed, validate_seed
from ..engine import Engine
from ..errors import shown

MOST_SEEDS = 1_000_000
"""More seeds than this in one sweep is refused: ``0-4294967295`` is a typo, not a plan."""


def parse_seeds(text: str, session_seed: int | None = None) -> tuple[int, ...]:
    """The seeds a ``%%seeds`` line names: ``0-9`` (both ends included), ``3,7,11``, a mix (``0-4,10``), or a count
    alone (``10``: that many seeds derived from the session seed). ``5,`` is the one seed 5."""
    text = text.strip()
    if not text:
        raise InvalidArgument("no seeds: give a range (0-9), a list (3,7,11) or a count (10)")
    if names_a_count(text):
        count = _count(text)
        if session_seed is None:
            raise InvalidArgument(
                f"{text} seeds derived from the session seed need one: set it with %seed N, or name the seeds "
                f"(e.g. 0-{max(count - 1, 0)})"
            )
        return derived_seeds(session_seed, count)
    seeds: list[int] = []
    for item in (item.strip() for item in text.split(",")):
        if not item:
            continue
        start, dash, end = item.partition("-") if not item.startswith("-") else (item, "", "")
        if not dash:
            seeds.append(parse_seed(item))
        else:
            low, high = parse_seed(start), parse_seed(end)
            if high < low:
                raise InvalidArgument(f"the range {item} runs backwards: write {high}-{low}")
            if len(seeds) + high - low + 1 > MOST_SEEDS:
                raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
            seeds.extend(range(low, high + 1))
    if not seeds:
        raise InvalidArgument("no seeds: give a range (0-9), a list (3,7,11) or a count (10)")
    if len(seeds) > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    _no_repeats(seeds)
    return tuple(seeds)


def names_a_count(text: str) -> bool:
    """Whether a ``%%seeds`` text is a count (``10``) rather than seeds (``0-9``, ``3,7``, ``5,``)."""
    return "," not in text and "-" not in text.strip().lstrip("+-")


def _count(text: str) -> int:
    try:
        count = int(text, 10)
    except ValueError:
        raise InvalidArgument(f"seeds must be a range (0-9), a list (3,7,11) or a count (10), got {text!r}") from None
    if count < 1:
        raise InvalidArgument(f"no seeds: a count must be at least 1, got {count}")
    if count > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    return count


def derived_seeds(base: int, count: int) -> tuple[int, ...]:
    """``count`` seeds derived from ``base`` (``derive_seed(base, "sweep:i")``), the same in every process."""
    return tuple(derive_seed(base, f"sweep:{index}") for index in range(count))


def _no_repeats(seeds: Sequence[int]) -> None:
    seen: set[int] = set()
    for seed in seeds:
        if seed in seen:
            raise InvalidArgument(f"seed {seed} is named twice")
        seen.add(seed)


def resolve(seeds: int | str | Iterable[int], engine: Engine) -> tuple[int, ...]:
    """``sweep()``'s seeds: a count (derived from the session seed), a ``%%seeds`` text, or the seeds themselves."""
    if isinstance(seeds, str):
        return parse_seeds(seeds, engine.seed)
    count = as_count(seeds)
    if count is not None:
        return parse_seeds(str(count), engine.seed)
    if not isinstance(seeds, Iterable) or getattr(seeds, "ndim", None) == 0:
        raise InvalidArgumentType(f"seeds must be a count, a text such as '0-9', or seeds, got {shown(seeds)}")
    resolved = tuple(validate_seed(seed) for seed in seeds)
    if not resolved:
        raise InvalidArgument("no seeds to run")
    if len(resolved) > MOST_SEEDS:
        raise InvalidArgument(f"more than {MOST_SEEDS:,} seeds in one sweep")
    _no_repeats(resolved)
    return resolved


def as_count(seeds: object) -> int | None:
    """``seeds`` as a count (an int, ``np.int64(10)``, ``torch.tensor(10)``), or None when it is not one."""
    if isinstance(seeds, bool):
        return None
    if isinstance(seeds, numbers.Integral) or getattr(seeds, "ndim", None) == 0:
        try:
            return operator.index(seeds)  # type: ignore[arg-type]  # checked: an int-like, or refused
        except TypeError:
            return None
    return None


def describe_seeds(seeds: Sequence[int]) -> str:
    """``0-9``, ``3, 7, 11``, ``0-4, 10``: runs of consecutive seeds as ranges."""
    parts, index = [], 0
    while index < len(seeds):
        end = index
        while end + 1 < len(seeds) and seeds[end + 1] == seeds[end] + 1:
            end += 1
        parts.append(str(seeds[index]) if end == index else f"{seeds[index]}-{seeds[end]}")
        index = end + 1
    return ", ".join(parts)
