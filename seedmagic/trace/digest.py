"""The digests of one run's tensors: one int64 per tensor, computed on its device and read off once, when the run ends.

How a digest is computed, and why so, is in the package's docstring. A tensor read again unchanged (a parameter) is
digested once.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import suppress
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

_COLUMNS = 1024  # a digest sums each row of this many values first
_BATCH = 4096  # digests stacked into one tensor at a time


class Digests:
    """One run's digests, each in a slot: pending per device, stacked in batches, read off the devices by
    ``finish()``. ``lock`` is the recorder's (operations run in autograd's threads too)."""

    def __init__(self, torch: ModuleType, lock: threading.Lock) -> None:
        self.torch = torch
        self._lock = lock
        self._pending: dict[Any, list[Tensor]] = {}  # per device: 0-d digests not yet stacked
        self._stacked: list[tuple[Any, Tensor]] = []  # (device, a batch of digests), in slot order per device
        self._slots: list[tuple[Any, int]] = []  # each slot's device and index among that device's digests
        self._per_device: dict[Any, int] = {}
        self._weights: dict[tuple[Any, bool], Tensor] = {}
        self._digested: dict[int, tuple[Any, int, int]] = {}  # id(tensor): (weak reference, version, slot)
        self._written: dict[tuple[str, int], int] = {}  # (device, storage pointer): version after a traced op

    def input(self, tensor: Tensor) -> tuple[int, bool]:
        """The slot of a tensor's digest as read now, and whether no traced operation made or last wrote it."""
        key = _storage_key(tensor)
        version = tensor._version
        outside = key is None or self._written.get(key) != version
        known = self._digested.get(id(tensor))
        if known is not None and known[0]() is tensor and known[1] == version:
            return known[2], outside
        return self.digest_of(tensor), outside

    def mark_written(self, tensor: Tensor, slot: int) -> None:
        key = _storage_key(tensor)
        if key is not None:
            self._written[key] = tensor._version

    def digest_of(self, tensor: Tensor, uninitialized: bool = False) -> int:
        """The slot of a new digest of ``tensor`` (of its shape alone where its memory was never written)."""
        if uninitialized:
            digest = self.torch.full((), tensor.numel(), dtype=self.torch.int64, device=tensor.device)
        else:
            digest = self.digest(tensor)
        device = digest.device
        with self._lock:
            pending = self._pending.setdefault(device, [])
            pending.append(digest)
            index = self._per_device.get(device, 0)
            self._per_device[device] = index + 1
            slot = len(self._slots)
            self._slots.append((device, index))
            if len(pending) >= _BATCH:
                self._stacked.append((device, self.torch.stack(pending)))
                pending.clear()
        with suppress(TypeError):  # a tensor without weak references: digested anew each time it is read
            self._digested[id(tensor)] = (weakref.ref(tensor), tensor._version, slot)
        return slot

    def digest(self, tensor: Tensor) -> Tensor:
        """One int64 on the tensor's device that any change of its bits, order included, changes."""
        torch = self.torch
        x = tensor.detach()
        nothing: Tensor
        if x.layout != torch.strided or x.is_quantized or x.is_meta:  # no bits to read: their shape alone counts
            nothing = torch.zeros((), dtype=torch.int64, device=x.device if not x.is_meta else "cpu")
            return nothing
        if x.is_complex():
            x = torch.view_as_real(x)
        if x.dtype == torch.bool:
            x = x.view(torch.uint8)
        flat = x.reshape(-1)
        bits = flat.view(getattr(torch, _INTS[flat.element_size()])) if flat.is_floating_point() else flat
        n = bits.numel()
        if n == 0:
            nothing = torch.zeros((), dtype=torch.int64, device=x.device)
            return nothing
        # Products in 32 bits (wrapping, as 64 would) where the values fit: a third of the memory traffic.
        wide = bits.element_size() > 4
        key = (x.device, wide)
        weights = self._weights.get(key)
        if weights is None:
            values = _WEIGHTS if wide else [(w & 0xFFFF_FFFF) - ((w & 0x8000_0000) << 1) for w in _WEIGHTS]
            weights = self._weights[key] = torch.tensor(
                values, dtype=torch.int64 if wide else torch.int32, device=x.device
            )
        rows, rest = divmod(n, _COLUMNS)
        total: Tensor = torch.zeros((), dtype=torch.int64, device=x.device)
        if rows:
            sums = (bits[: rows * _COLUMNS].view(rows, _COLUMNS) * weights).sum(1, dtype=torch.int64)
            order = torch.arange(rows, dtype=torch.int64, device=x.device) * 2 + 1
            total = (sums * order).sum()
        if rest:
            tail = (bits[rows * _COLUMNS :] * weights[:rest]).sum(dtype=torch.int64)
            total = total + tail * (2 * rows + 3)
        return total + n

    def finish(self) -> list[int]:
        """Read every digest off its device, once: the digests, in slot order."""
        torch = self.torch
        for device, pending in self._pending.items():
            if pending:
                self._stacked.append((device, torch.stack(pending)))
        self._pending.clear()
        per_device: dict[Any, list[int]] = {}
        for device, batch in self._stacked:
            per_device.setdefault(device, []).extend(batch.tolist())
        digests = [per_device[device][index] for device, index in self._slots]
        self._stacked.clear()
        self._digested.clear()
        self._written.clear()
        self._weights.clear()
        return digests


#: The integer dtype of each width, whose view of a float tensor gives its bits.
_INTS = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def _weight(i: int) -> int:
    value = (i * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFF_FFFF_FFFF_FFFF
    value ^= value >> 29
    value = (value * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    value |= 1
    return value - (1 << 64) if value >= 1 << 63 else value


_WEIGHTS = [_weight(i) for i in range(_COLUMNS)]


def _storage_key(tensor: Tensor) -> tuple[str, int] | None:
    try:
        return (tensor.device.type, tensor.untyped_storage().data_ptr())
    except Exception:
        return None
