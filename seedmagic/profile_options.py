"""The profile options (``c.SeedMagics.seed``, ``auto``, ``deterministic``, ``census``) and ``SEEDMAGIC_SEED``:
checked when the extension loads, then applied to the session.

A bad value is a one-line warning that changes nothing, rather than an extension that fails to load. The options
themselves are traits of ``SeedMagics`` (``magics.py``), so that ``ipython_config.py`` and ``%config`` can set them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from traitlets import Bool

from .arguments import InvalidArgument, check_bool, parse_seed, validate_seed
from .errors import warn

if TYPE_CHECKING:
    from .engine import Engine

ENVIRONMENT_SEED = "SEEDMAGIC_SEED"


class StrictBool(Bool):  # type: ignore[type-arg]  # traitlets' Bool is generic in its value's types
    """traitlets' Bool without 0 and 1 (seedmagic's options take True or False only): a bad value set in a running
    session (``%config SeedMagics.census = 3``) is refused as traitlets refuses one for IPython's own options. The
    profile's value, read as the magics are made, is checked when the extension starts, as the others are."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, bool) or not getattr(obj, "_started", False):
            return value
        self.error(obj, value)


def start_census(engine: Engine, census: Any) -> bool:
    """``c.SeedMagics.census``, checked, then applied; False (and a warning) where it was refused."""
    try:
        check_bool("c.SeedMagics.census", census)
        engine.census.set_enabled(census)
    except InvalidArgument as exc:
        warn(f"seedmagic ignored the profile options: {exc}")
        return False
    return True


def seed_session(engine: Engine, seed: Any, auto: Any, deterministic: Any) -> None:
    """Seed a session that has no seed from ``SEEDMAGIC_SEED``, else from the profile's seed, with its modes."""
    source = "the profile options"
    try:
        check_bool("c.SeedMagics.auto", auto)
        check_bool("c.SeedMagics.deterministic", deterministic)
        if os.environ.get(ENVIRONMENT_SEED, "").strip():
            source = ENVIRONMENT_SEED
            seed = parse_seed(os.environ[ENVIRONMENT_SEED])
        elif seed is not None:
            seed = validate_seed(seed)
        if seed is not None:
            engine.seed_all(seed, deterministic=deterministic or None, auto=auto or None)
        elif deterministic:
            engine.set_deterministic(True)
    except InvalidArgument as exc:
        warn(f"seedmagic ignored {source}: {exc}")


__all__ = ["ENVIRONMENT_SEED", "StrictBool", "seed_session", "start_census"]
