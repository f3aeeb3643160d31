"""The RNG libraries seedmagic knows, one unit per library, and the registry that lists them.

Each unit answers the same questions about one library: is it installed, is it imported, how is it seeded, how is its
state saved and put back, what does its state look like (a short fingerprint per stream), and which determinism flags
does it have. ``base.Source`` holds those questions; ``installed`` answers "is it installed, which version" for all of
them; ``fingerprints`` holds the byte encodings of states. Adding a library means adding one module here, with its
``Source`` subclass, and listing that unit in ``SOURCES`` (with the import that brings it).

A unit imports its library only inside its methods, and the engine calls those methods only for a library that is
already in ``sys.modules``: nothing here imports a framework the user has not imported. The modules named after a
library (``numpy``, ``torch``, ...) do not hide it: their ``import numpy`` is absolute, and reaches the real one.
"""

from __future__ import annotations

# Only what IPython has imported already, in every module of this package: `%load_ext seedmagic` must stay quick.
# zlib, ctypes and importlib.metadata are imported where they are first needed.
from .base import Flag, Readers, Source, StateUnavailable, set_environ
from .cupy import CuPy
from .fingerprints import fingerprint
from .jax import JAX
from .keras import Keras
from .numpy import NumPy
from .python_random import PythonRandom
from .tensorflow import TensorFlow
from .torch import TORCH_DEFAULT_SEED, Torch, TorchState

__all__ = [
    "JAX",
    "NAMES",
    "SOURCES",
    "TORCH_DEFAULT_SEED",
    "CuPy",
    "Flag",
    "Keras",
    "NumPy",
    "PythonRandom",
    "Readers",
    "Source",
    "StateUnavailable",
    "TensorFlow",
    "Torch",
    "TorchState",
    "fingerprint",
    "set_environ",
]

SOURCES: tuple[Source, ...] = (PythonRandom(), NumPy(), Torch(), TensorFlow(), Keras(), JAX(), CuPy())
NAMES: tuple[str, ...] = tuple(source.name for source in SOURCES)
