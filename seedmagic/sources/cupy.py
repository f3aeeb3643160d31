"""CuPy's global generator per GPU, seeded without starting a GPU.

This module is ``seedmagic.sources.cupy``: its ``import cupy`` statements are absolute, and reach the real CuPy.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .base import Source, StateUnavailable, set_environ


class CuPy(Source):
    """CuPy's global generator per GPU, seeded as ``cupy.random.seed`` does, without starting a GPU.

    ``cupy.random.seed`` creates the current device's generator, and so starts the GPU. This unit reseeds the
    generators that exist (every device that has drawn), and sets ``CUPY_SEED``, from which CuPy seeds the generator
    of each device when it first draws: the same numbers as ``cupy.random.seed(N)``. cuRAND keeps the generators'
    state where it cannot be read.
    """

    name = "cupy"
    module = "cupy"
    distributions = ("cupy", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy-rocm-6-0", "cupy-rocm-5-0")
    note = "cuRAND state cannot be read; devices that start later are seeded through CUPY_SEED"

    @staticmethod
    def _generators() -> Any:
        """CuPy's module that holds the global generators (``cupy.random.generator`` before CuPy 8), or None."""
        return sys.modules.get("cupy.random._generator") or sys.modules.get("cupy.random.generator")

    def _started(self) -> dict[int, Any]:
        """The generators that exist, by device id; reading them starts nothing."""
        return dict(getattr(self._generators(), "_random_states", None) or {})

    def seed(self, seed: int) -> None:
        os.environ["CUPY_SEED"] = str(seed)
        started = self._started()
        if started:
            import cupy

            for device, generator in started.items():
                with cupy.cuda.Device(device):
                    generator.seed(seed)

    def get_state(self) -> Any:
        if self._generators() is None:
            # `cupy` is in sys.modules from the moment its import starts: its state is not there yet.
            raise StateUnavailable("CuPy is not fully imported")
        return os.environ.get("CUPY_SEED")

    def set_state(self, state: Any) -> None:
        set_environ("CUPY_SEED", state)

    def unsaved(self) -> str | None:
        if self._started():
            return "cuRAND keeps the state of CuPy's generators inside the GPU library, where it cannot be saved"
        return None

    def device_started(self) -> bool:
        return bool(self._started())
