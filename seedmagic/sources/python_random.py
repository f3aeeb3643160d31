"""Python's ``random`` module: its one global Mersenne Twister."""

from __future__ import annotations

import sys
from typing import Any

from .base import Readers, Source
from .fingerprints import fingerprint, random_state_bytes


class PythonRandom(Source):
    name = "random"
    module = "random"

    def version(self) -> str | None:
        return "{}.{}.{}".format(*sys.version_info[:3])

    def seed(self, seed: int) -> None:
        # As in the other units' seed(): the module is imported, and an import statement costs on the hot path.
        sys.modules["random"].seed(seed)

    def get_state(self) -> Any:
        import random

        return random.getstate()

    def set_state(self, state: Any) -> None:
        import random

        random.setstate(state)

    def shown_streams(self) -> dict[str, str]:
        import random

        # Not hash(): before Python 3.12 hash(None) is an address, different in every process, and tuples hash
        # differently on 32- and 64-bit builds.
        return {"random": fingerprint(random_state_bytes(random.getstate()))}

    def mark(self) -> Any:
        return self.readers().mark()

    def readers(self) -> Readers:
        random = sys.modules["random"]

        def mark() -> Any:
            # The position, the cached gauss and three words: the position moves with every draw but a whole number
            # of turns of the twister, and each turn rewrites every word. Comparing all 625 words costs as much again.
            _, words, gauss = random.getstate()
            return words[-1], words[0], words[311], words[623], gauss

        return Readers(mark, None, None)
