"""TensorFlow's global seed, its global ``tf.random.Generator``, and its op determinism.

This module is ``seedmagic.sources.tensorflow``: its ``import tensorflow`` statements are absolute, and reach the real
TensorFlow.
"""

from __future__ import annotations

import sys
from typing import Any

from .base import Flag, Source, StateUnavailable
from .fingerprints import array_bytes, fingerprint, random_state_bytes

_TF_KERNELS = "TensorFlow keeps the state of its random ops inside their kernels, where it cannot be saved"


class TensorFlow(Source):
    """TensorFlow's global seed (``tf.random.set_seed``), from which every op without its own seed derives one, and
    its global ``tf.random.Generator`` once the session has made one.

    The global generator is created by the first ``tf.random.get_global_generator()``, from OS entropy; this unit only
    ever uses one that exists: creating it would make a variable, and so start TensorFlow's devices.
    """

    name = "tensorflow"
    module = "tensorflow"
    distributions = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
    has_flags = True

    @staticmethod
    def _global_generator() -> Any:
        """The global ``tf.random.Generator`` if one exists, else None; never creates it."""
        # TensorFlow keeps it in this module variable, None until get_global_generator() or set_global_generator().
        module = sys.modules.get("tensorflow.python.ops.stateful_random_ops")
        return getattr(module, "global_generator", None)

    def seed(self, seed: int) -> None:
        import tensorflow as tf

        tf.random.set_seed(seed)
        generator = self._global_generator()
        if generator is not None:
            # set_seed leaves the global generator alone. Reset in place: the same draws as TF's documented
            # tf.random.set_global_generator(tf.random.Generator.from_seed(seed)) (with the generator's algorithm),
            # and tf.functions that captured the generator see the reset too, which a new object would escape.
            generator.reset_from_seed(seed)

    def get_state(self) -> Any:
        generator = self._global_generator()
        if generator is None:
            raise StateUnavailable(_TF_KERNELS)
        # A copy: the array .numpy() returns can share memory with the variable, which the next draw changes.
        return generator, generator.state.numpy().copy()

    def set_state(self, state: Any) -> None:
        generator, value = state
        module = sys.modules.get("tensorflow.python.ops.stateful_random_ops")
        if module is not None:
            # The object too: a cell may have replaced it with tf.random.set_global_generator.
            module.global_generator = generator  # type: ignore[attr-defined]
        generator.reset(value)

    def unsaved(self) -> str | None:
        return f"{_TF_KERNELS} (its global tf.random.Generator is saved)"

    def shown_streams(self) -> dict[str, str]:
        from tensorflow.python.eager import context

        ctx = context.context()
        seed, rng = getattr(ctx, "_seed", None), getattr(ctx, "_rng", None)
        # The op-seed sequence moves with every random op that has no seed of its own.
        state = None if rng is None else repr(seed).encode() + random_state_bytes(rng.getstate())
        result = {"global seed": "unset" if state is None else fingerprint(state)}
        generator = self._global_generator()
        if generator is not None:
            result["global generator"] = fingerprint(array_bytes(generator.state.numpy()))
        return result

    def shown_flags(self) -> list[Flag]:
        enabled = self.save_flags()
        return [
            Flag(
                "tf op determinism",
                enabled,
                enabled,
                "ops run deterministically or raise" if enabled else "some GPU ops are nondeterministic",
            )
        ]

    def save_flags(self) -> Any:
        from tensorflow.python.framework import config

        return bool(config.is_op_determinism_enabled())

    def set_deterministic(self, warn_only: bool) -> None:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    def restore_flags(self, state: Any) -> None:
        from tensorflow.python.framework import config

        if state:
            config.enable_op_determinism()
            return
        # TensorFlow has no public call to switch determinism off again; this is its own internal one.
        disable = getattr(config, "disable_op_determinism", None)
        if disable is None:
            raise RuntimeError(f"TensorFlow {self.version()} has no call that switches op determinism off again")
        disable()
