"""Keras 3's own seed state: its global seed and the global ``SeedGenerator`` unseeded ``keras.random`` calls use.

This module is ``seedmagic.sources.keras``: its ``import keras`` statements are absolute, and reach the real Keras.
"""

from __future__ import annotations

import sys
from typing import Any

from .base import Source, StateUnavailable
from .fingerprints import array_bytes, fingerprint


class Keras(Source):
    """Keras 3's own seed state, the part of ``keras.utils.set_random_seed`` that is not random/NumPy/TF/torch.

    ``set_random_seed(N)`` records N as Keras' global seed and drops the global ``SeedGenerator`` that unseeded
    ``keras.random`` calls draw from; Keras then makes a new one from Python's ``random`` (as it makes layers' initial
    weights), which the ``random`` unit seeds. The other libraries it seeds have units of their own.

    Keras 2 (with TensorFlow <= 2.15) is listed but not seeded: only Keras 3's state is known here.
    """

    name = "keras"
    module = "keras"
    distributions = ("keras",)

    def _is_keras2(self) -> bool:
        major = (self.version() or "3").split(".")[0]
        return major.isdigit() and int(major) < 3

    @property
    def seedable(self) -> bool:  # type: ignore[override]  # a class attribute in other units
        return not self._is_keras2()

    @property
    def note(self) -> str:  # type: ignore[override]  # a class attribute in other units
        if self._is_keras2():
            return "Keras 2: its own seed generator is not seeded (random, NumPy and TensorFlow are)"
        return ""

    @staticmethod
    def _modules() -> tuple[Any, Any, Any]:
        # Keras 3 imports these with `import keras`; reading them from sys.modules imports nothing.
        names = (
            "keras.src.backend.common.global_state",
            "keras.src.random.seed_generator",
            "keras.src.utils.rng_utils",
        )
        modules = tuple(sys.modules.get(name) for name in names)
        if None in modules:
            raise RuntimeError(f"Keras {Keras().version()} is not Keras 3: seedmagic seeds Keras 3's global seed")
        return modules  # type: ignore[return-value]

    def seed(self, seed: int) -> None:
        global_state, seed_generator, rng_utils = self._modules()
        # Exactly what keras.utils.set_random_seed does to Keras' own state.
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)

    def _generator_state(self, generator: Any) -> Any:
        import numpy
        from keras.src import backend

        return numpy.array(backend.convert_to_numpy(generator.state.value), copy=True)

    def get_state(self) -> Any:
        if self._is_keras2():
            raise StateUnavailable("Keras 2's own seed generator is not saved")
        global_state, seed_generator, rng_utils = self._modules()
        seed = global_state.get_global_attribute(rng_utils.GLOBAL_RANDOM_SEED)
        generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
        return seed, generator, None if generator is None else self._generator_state(generator)

    def set_state(self, state: Any) -> None:
        global_state, seed_generator, rng_utils = self._modules()
        seed, generator, value = state
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)
        if generator is not None:
            generator.state.assign(value)

    def shown_streams(self) -> dict[str, str]:
        if self._is_keras2():
            return {}
        seed, _, value = self.get_state()
        # Until the first unseeded keras.random call, there is no global SeedGenerator.
        state = b"none" if value is None else array_bytes(value)
        return {"keras.random": fingerprint(repr(seed).encode() + b"\0" + state)}
