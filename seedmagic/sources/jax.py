"""JAX, listed in the status and never seeded: it has no global generator."""

from __future__ import annotations

from typing import Any

from .base import Source


class JAX(Source):
    """JAX has no global generator: every random function takes a key. Listed in the status, never seeded."""

    name = "jax"
    module = "jax"
    distributions = ("jax",)
    seedable = False
    note = "no global generator: pass keys, e.g. seedmagic.jax_key(), which is jax.random.key(the seed in force)"

    def seed(self, seed: int) -> None:
        """Nothing to seed (the engine does not call this)."""

    def get_state(self) -> Any:
        return None  # no global random state: nothing to save

    def set_state(self, state: Any) -> None:
        pass
