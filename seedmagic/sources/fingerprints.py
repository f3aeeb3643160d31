"""How a random state becomes a fingerprint: a fixed byte encoding for each kind of state, and a short digest of it."""

from __future__ import annotations

# zlib is imported where it is first needed: `%load_ext seedmagic` must stay quick.
import struct
from typing import Any


def fingerprint(data: bytes) -> str:
    """A short digest of a random state: 8 hex digits that change whenever the stream advances.

    ``data`` is the state in a fixed byte encoding (explicit widths, little-endian), so that one state has one
    fingerprint in every process, Python version and platform.
    """
    # CRC-32 rather than a cryptographic hash: a few µs less per stream on a status redrawn after every cell, and a
    # change within 32 consecutive bits (a stream whose position alone moved) always shows.
    from zlib import crc32

    return f"{crc32(data):08x}"


def array_bytes(array: Any) -> bytes:
    """A NumPy array's elements as little-endian bytes."""
    data: bytes = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return data


_MT_WORDS = struct.Struct("<625I")  # a Mersenne Twister's 624 words and its position


def random_state_bytes(state: tuple[Any, ...]) -> bytes:
    """A ``random.Random`` state (what ``getstate()`` returns): its 32-bit words, then the cached ``gauss`` value."""
    _, words, gauss = state
    packed = _MT_WORDS.pack(*words) if len(words) == 625 else struct.pack(f"<{len(words)}I", *words)
    return packed + (b"\0" if gauss is None else b"\1" + struct.pack("<d", gauss))
