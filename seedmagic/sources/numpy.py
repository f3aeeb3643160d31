"""NumPy's legacy global generator, whatever bit generator it draws from.

This module is ``seedmagic.sources.numpy``: its ``import numpy`` statements are absolute, and reach the real NumPy.
"""

from __future__ import annotations

# ctypes is imported where it is first needed: `%load_ext seedmagic` must stay quick.
import contextlib
import struct
import sys
from typing import Any

from .base import Readers, Source
from .fingerprints import array_bytes, fingerprint


class NumPy(Source):
    """NumPy's legacy global generator (``np.random.seed``); ``default_rng()`` generators are independent of it."""

    name = "numpy"
    module = "numpy"
    distributions = ("numpy",)

    def seed(self, seed: int) -> None:
        # Imported already (the engine seeds only imported libraries): no import statement on the hot path, where
        # auto mode seeds before every cell.
        sys.modules["numpy"].random.seed(seed)

    def get_state(self) -> Any:
        import numpy.random

        # The legacy tuple for NumPy's own MT19937; for another global bit generator (np.random.set_bit_generator),
        # its state as a dict, which the legacy form would return too, with a warning.
        return numpy.random.get_state() if _legacy_mt19937(numpy.random) else numpy.random.get_state(legacy=False)

    def set_state(self, state: Any) -> None:
        import numpy.random

        numpy.random.set_state(state)

    def shown_streams(self) -> dict[str, str]:
        state = self.get_state()
        if isinstance(state, dict):  # another bit generator than NumPy's own MT19937
            return {"numpy.random": fingerprint(_nested_state_bytes(state))}
        _, keys, pos, has_gauss, gauss = state
        return {"numpy.random": fingerprint(array_bytes(keys) + struct.pack("<iid", pos, has_gauss, gauss))}

    def mark(self) -> Any:
        return self.readers().mark()

    def readers(self) -> Readers:
        # numpy.random.get_state() copies the 624 words one by one (about 80 µs, twice per cell for a live panel).
        # The bit generator's documented ctypes interface gives the address of the same Mersenne Twister state: its
        # words and position are copied from there at once, once checked against get_state(). The legacy cached
        # normal deviate is not there: a cell that only takes that cached value leaves this mark unchanged.
        get_bit_generator = getattr(sys.modules["numpy"].random, "get_bit_generator", None)
        shown_streams = self.shown_streams
        if get_bit_generator is None:  # NumPy before 1.25 tells no bit generator: its state the slow way
            return Readers(shown_streams, None, None)
        kept: list[Any] = [None, None]  # the global bit generator, and a view of its state (made again for a new one)

        def mark() -> Any:
            generator = get_bit_generator()
            if generator is not kept[0]:  # np.random.set_bit_generator
                kept[:] = generator, _numpy_state_view(generator)
            view = kept[1]
            return shown_streams() if view is None else view.tobytes()

        return Readers(mark, None, None)


_MT_STATE_BYTES = 624 * 4 + 4  # NumPy's MT19937 state: 624 uint32 words, then the int position


def _legacy_mt19937(nprandom: Any) -> bool:
    """Whether NumPy's global generator draws from an MT19937, whose state ``get_state()`` gives in its legacy form;
    ``np.random.set_bit_generator`` can put any bit generator there."""
    get_bit_generator = getattr(nprandom, "get_bit_generator", None)  # NumPy >= 1.25, with set_bit_generator
    return get_bit_generator is None or isinstance(get_bit_generator(), nprandom.MT19937)


def _nested_state_bytes(state: Any) -> bytes:
    """A bit generator's state (nested dicts of names, ints, floats and arrays, as ``BitGenerator.state`` gives it) in
    a fixed byte encoding: keys sorted, ints in decimal, floats as little-endian doubles, arrays as their type and
    little-endian elements."""
    if isinstance(state, dict):
        items = (str(key).encode() + b"=" + _nested_state_bytes(state[key]) for key in sorted(state, key=str))
        return b"{" + b";".join(items) + b"}"
    if isinstance(state, str):
        return b"'" + state.encode() + b"'"
    if hasattr(state, "dtype") and hasattr(state, "astype"):  # an array, or a NumPy scalar
        kind: str = state.dtype.str.lstrip("<>=|")
        return kind.encode() + b":" + array_bytes(state)
    if isinstance(state, float):
        return struct.pack("<d", state)
    return str(state).encode()  # ints (of any size), bools, None


def _numpy_state_view(generator: Any) -> memoryview | None:
    """A view of ``generator``'s (an MT19937) words and position, once its ``state`` has confirmed that they are
    there; None where they are not (another bit generator, another layout). Kept with the generator, which keeps the
    memory alive."""
    view = None
    with contextlib.suppress(Exception):
        state = generator.state
        if state.get("bit_generator") == "MT19937":
            from ctypes import c_char

            words, pos = state["state"]["key"], state["state"]["pos"]
            expected = words.astype("=u4").tobytes() + struct.pack("=i", pos)
            candidate = memoryview((c_char * _MT_STATE_BYTES).from_address(generator.ctypes.state_address))
            if len(expected) == _MT_STATE_BYTES and candidate.tobytes() == expected:
                view = candidate
    return view
