"""What a run writes into the tensors and arrays a cell found: a copy of each, made just before its first write, held
in host memory, so that the run can be undone; NumPy arrays too big to copy up front are read-only for the run.

- **torch.** While a run is watched, a ``TorchDispatchMode`` sees every operation torch dispatches, in every thread
  autograd runs on. Before an operation writes into the storage of a tensor the cell found (its schema marks the
  argument written, as for ``add_``, ``copy_``, ``out=``, an optimizer's ``step`` and the gradient accumulation of
  ``backward``; and a batch norm's running statistics, which torch's schemas leave unmarked), the storage's bytes are
  copied to host memory (pinned for a GPU): a GPU's memory is never doubled. NumPy can write a tensor's memory
  where torch does not see (``t.numpy()[0] = 1``): a tensor detached in the run (as ``.numpy()`` and ``__array__``
  do first) is copied (under 64 MiB) or given a digest, and compared after the run. Each tensor's version counter,
  read before and after, tells a write the mode did not see (from a thread of the user's own, or a C extension):
  such a run cannot be undone, and the caller says so. Writes through a raw pointer (``data_ptr()``, DLPack) into a
  tensor the cell found are not seen. Code that ``torch.compile`` compiled runs eagerly under the mode: torch does
  not run compiled graphs under a dispatch mode.
- **NumPy** has no such hook. An array of objects, one the cell's code writes by name, and one under 1 MiB that the
  cell reads by name (64 MiB of them at most) are copied up front; any other is made read-only for the run, and a
  run that then fails on writing it (NumPy says "read-only") is undone and run again with the arrays copied.
- A copy that would not fit in the host's free memory stops the run before the write (``NoRoom``), and the caller
  undoes it and refuses the cell.

Nothing here imports torch or NumPy: the caller passes the modules the user imported.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from torch import Tensor

_COPY_UP_FRONT = 1 << 20  # arrays smaller than this are copied before the run rather than made read-only
_MOST_UP_FRONT = 64 << 20  # and at most this much of them
_CHUNK = 64 << 20  # bytes moved at a time when swapping a storage with its copy
_DIGEST_ABOVE = 64 << 20  # a detached storage this large gets a digest rather than a copy
_TORCH_UP_FRONT = 16 << 20  # host storages this small in all are copied before each run and compared after it
_HEADROOM = 256 << 20  # host memory left free when copying


class NoRoom(BaseException):
    """A copy the run needs does not fit in host memory. A ``BaseException``: the cell's own ``except Exception``
    must not swallow it."""

    def __init__(self, needed: int, free: int, what: str) -> None:
        super().__init__(f"{what} needs {size_text(needed)} of host memory for its copy; {size_text(free)} is free")
        self.needed = needed
        self.free = free


def size_text(nbytes: int) -> str:
    """``400.0 MB``, ``12.3 kB``, ``17 bytes``: decimal units, as ``ls -lh --si`` and the OS's memory readings say."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} bytes"


def free_host_bytes() -> int | None:
    """The host memory free for new allocations (Linux's MemAvailable), or None where the OS does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


class Cost:
    """What watching cost: bytes copied (and how many of them from a device), and the seconds spent copying."""

    __slots__ = ("copied", "from_device", "seconds", "what")

    def __init__(self) -> None:
        self.copied = 0
        self.from_device = 0
        self.seconds = 0.0
        self.what: list[str] = []  # the paths of what was copied because a run wrote it, first first

    def add(self, nbytes: int, device: bool, seconds: float, written: str | None) -> None:
        """One copy; ``written``: the path of what a run was about to write, where that is why it was copied."""
        self.copied += nbytes
        self.from_device += nbytes if device else 0
        self.seconds += seconds
        if written is not None and written not in self.what:
            self.what.append(written)


# -- torch ---------------------------------------------------------------------------------------------------------


class Storage:
    """One torch storage the cell found: the path of a tensor that views it, its bytes as a run found them (``copy``,
    made at the run's first write), and whether the current run wrote it."""

    __slots__ = (
        "charged",
        "compared",
        "copy",
        "copy_is_start",
        "detached",
        "device",
        "digest",
        "nbytes",
        "path",
        "storage",
        "written",
    )

    def __init__(self, storage: Any, path: str) -> None:
        self.storage = storage
        self.device = storage.device
        self.nbytes: int = storage.nbytes()
        self.path = path
        self.copy: Tensor | None = None  # host bytes (uint8)
        self.copy_is_start = True  # the copy holds the bytes before the cell, not those a run left
        self.written = False
        self.detached = False  # the current run detached a tensor on it (as .numpy() does)
        self.digest: bytes | None = None
        self.compared = False  # the run's writes were found by comparing its bytes with the copy, after the run
        self.charged = False  # counted in the cost as something a run wrote


class TorchWrites:
    """The storages a cell found, copied to the host before a watched run first writes each.

    Where they are all in host memory and small (16 MiB in all), and no NumPy array is read-only for the run, they
    are rather copied before the run and compared after it (``up_front``): no mode sees the run's operations, which
    would cost a few microseconds each (a training loop over a small dataset runs tens of thousands), and a write
    from anywhere, a raw pointer or a thread included, is found by its bytes.
    """

    def __init__(self, torch: ModuleType, cost: Cost) -> None:
        self.torch = torch
        self.cost = cost
        self.storages: dict[tuple[str, int], Storage] = {}
        self.arrays: ArrayWrites | None = None  # arrays read-only for the run, whose memory torch may write
        self.refused: NoRoom | None = None
        self.settled_lost: list[Storage] = []  # what the last run changed out of sight, known by a digest
        self.room: int | None = None  # host bytes still free for copies, read once per run
        self.up_front = False  # the current run's storages were copied before it, and are compared after it

    def watch(self, tensor: Tensor, path: str) -> Storage | None:
        """The storage of ``tensor``, watched from now on; None for a tensor without one (sparse, meta, a subclass)."""
        key = self._key(tensor)
        if key is None:
            return None
        entry = self.storages.get(key)
        if entry is None:
            entry = self.storages[key] = Storage(tensor.untyped_storage(), path)
        return entry

    def _key(self, tensor: Tensor) -> tuple[str, int] | None:
        try:
            storage = tensor.untyped_storage()
            pointer = storage.data_ptr()
        except Exception:  # sparse, nested and other layouts: no storage of their own
            return None
        return (tensor.device.type, pointer) if pointer else None

    # -- during a run: called by the modes ---------------------------------------------------------------------

    def before_write(self, value: Any) -> None:
        """Copy what ``value`` (a tensor, or a list of them) is about to write, if the cell found it."""
        if isinstance(value, (list, tuple)):
            for item in value:
                self.before_write(item)
            return
        if not isinstance(value, self.torch.Tensor):
            return
        key = self._key(value)
        if key is None:
            return
        entry = self.storages.get(key)
        if entry is None:
            if self.arrays is not None and key[0] == "cpu":
                self.arrays.before_write_at(key[1], value.untyped_storage().nbytes())
            return
        entry.written = True
        if entry.copy is None:
            self._copy(entry)

    def _copy(self, entry: Storage, written: bool = True, *, counted: bool = True) -> None:
        nbytes = entry.storage.nbytes()
        if self.room is not None and nbytes > self.room:
            self.refused = NoRoom(nbytes, self.room, entry.path)
            raise self.refused
        started = time.perf_counter()
        entry.copy = self._host_copy(self._bytes(entry.storage), entry.device)
        entry.copy_is_start = True
        if self.room is not None:
            self.room -= nbytes
        if not counted:  # copied up front: counted once the run is known to have written it
            self.cost.seconds += time.perf_counter() - started
            return
        entry.charged = True
        self.cost.add(
            nbytes, entry.device.type != "cpu", time.perf_counter() - started, entry.path if written else None
        )

    def _bytes(self, storage: Any) -> Tensor:
        """A byte tensor over the whole storage (its own version counter: writing it bumps no user tensor's)."""
        view: Tensor = self.torch.empty(0, dtype=self.torch.uint8, device=storage.device).set_(storage)
        return view

    def _host_copy(self, source: Tensor, device: Any) -> Tensor:
        torch = self.torch
        if device.type == "cpu":
            copied: Tensor = source.clone()
            return copied
        host: Tensor
        try:
            host = torch.empty(source.numel(), dtype=torch.uint8, pin_memory=True)
        except RuntimeError:  # no pinned memory to be had: pageable memory copies more slowly, but copies
            host = torch.empty(source.numel(), dtype=torch.uint8)
        host.copy_(source)
        return host

    def detached(self, tensor: Tensor) -> None:
        """``tensor`` is detached, as ``.numpy()`` does first: NumPy may then write its memory where torch cannot see.
        A small storage is copied now and compared after the run; a large one gets a digest, and a change found
        after the run cannot be undone."""
        if tensor.device.type != "cpu":  # NumPy reaches only host memory
            return
        key = self._key(tensor)
        entry = self.storages.get(key) if key is not None else None
        if entry is None or entry.copy is not None or entry.digest is not None:
            return
        entry.detached = True
        if entry.nbytes < _DIGEST_ABOVE:
            self._copy(entry, written=False)
        else:
            entry.digest = _digest(self._bytes(entry.storage))

    def settle(self) -> list[Storage]:
        """After a run: mark as written the detached storages whose bytes changed out of torch's sight (through
        NumPy), or, copied up front, all whose bytes changed; returns those whose change cannot be undone (a large
        one, known only by its digest)."""
        lost: list[Storage] = []
        if self.up_front:
            for entry in self.storages.values():
                if entry.copy is None:
                    continue
                live = self._bytes(entry.storage)
                entry.written = live.numel() != entry.copy.numel() or not self.torch.equal(live, entry.copy)
                entry.compared = True
                if entry.written and not entry.charged:
                    entry.charged = True
                    self.cost.add(entry.nbytes, False, 0.0, entry.path)
            return lost
        for entry in self.storages.values():
            if not entry.detached or entry.written:
                continue
            live = self._bytes(entry.storage)
            if entry.copy is not None:
                entry.written = live.numel() != entry.copy.numel() or not self.torch.equal(live, entry.copy)
            elif entry.digest is not None and _digest(live) != entry.digest:
                lost.append(entry)
        return lost

    # -- between runs ------------------------------------------------------------------------------------------

    def start_run(self) -> None:
        self.refused = None
        for entry in self.storages.values():
            entry.written = entry.detached = entry.compared = False
            entry.digest = None
        free = free_host_bytes()
        self.room = None if free is None else max(free - _HEADROOM, 0)
        self.up_front = self._fit_up_front()
        if self.up_front:
            for entry in self.storages.values():
                if entry.copy is None:
                    self._copy(entry, written=False, counted=False)

    def _fit_up_front(self) -> bool:
        if self.arrays is not None and self.arrays.guarded:  # torch may write their memory: the mode must see it
            return False
        total = 0
        for entry in self.storages.values():
            if entry.device.type != "cpu":
                return False
            total += entry.nbytes
            if total > _TORCH_UP_FRONT:
                return False
        return True

    @property
    def needs_mode(self) -> bool:
        """Whether the current run must be watched by the mode (set by ``start_run``)."""
        return (bool(self.storages) and not self.up_front) or bool(self.arrays and self.arrays.guarded)

    def put_back(self, entry: Storage, keep_end: bool) -> None:
        """Put the start's bytes back into a storage the run wrote; with ``keep_end``, the copy then holds the bytes
        the run left (swapped a chunk at a time: no second copy of the whole storage)."""
        assert entry.copy is not None and entry.copy_is_start
        started = time.perf_counter()
        storage = entry.storage
        if storage.nbytes() != entry.nbytes or not keep_end:
            end = self._host_copy(self._bytes(storage), entry.device) if keep_end else None
            if storage.nbytes() != entry.nbytes:
                storage.resize_(entry.nbytes)
            self._bytes(storage).copy_(entry.copy)
            if end is not None:
                entry.copy, entry.copy_is_start = end, False
        else:
            live, copy = self._bytes(storage), entry.copy
            spare = self.torch.empty(min(_CHUNK, entry.nbytes), dtype=self.torch.uint8)
            for first in range(0, entry.nbytes, _CHUNK):
                last = min(first + _CHUNK, entry.nbytes)
                spare[: last - first].copy_(live[first:last])
                live[first:last].copy_(copy[first:last])
                copy[first:last].copy_(spare[: last - first])
            entry.copy_is_start = False
        self.cost.seconds += time.perf_counter() - started

    def put_copy(self, entry: Storage) -> None:
        """Put what the copy holds (the start, or a run's end) into the storage."""
        assert entry.copy is not None
        if entry.storage.nbytes() != entry.copy.numel():
            entry.storage.resize_(entry.copy.numel())
        self._bytes(entry.storage).copy_(entry.copy)

    def forget_end(self, entry: Storage) -> None:
        """Drop a copy that holds a run's end (the comparison is done)."""
        if not entry.copy_is_start:
            entry.copy = None
            entry.copy_is_start = True

    def as_left(self, device: str, pointer: int, storage: Any, layout: tuple[Any, ...]) -> Tensor:
        """A tensor as a run left it, from its storage then (``pointer``, ``storage``) and its ``layout`` (dtype,
        offset, shape, strides): read from the storage's copy where one was made (it holds that run's end, or the
        start where only a later run wrote it), else from the storage itself, which no later run wrote."""
        entry = self.storages.get((device, pointer))
        if entry is not None and entry.copy is not None:
            storage = entry.copy.untyped_storage()
        dtype, offset, shape, stride = layout
        view: Tensor = self.torch.empty(0, dtype=dtype, device=storage.device).set_(storage, offset, shape, stride)
        return view

    @contextmanager
    def watching(self) -> Iterator[None]:
        """The modes, while a run is watched."""
        with _mode(self.torch)(self):
            yield


_MODE: type | None = None
_WRITTEN: dict[Any, tuple[tuple[int, str], ...]] = {}  # each operation's written arguments, by position and name


def _written_arguments(func: Any) -> tuple[tuple[int, str], ...]:
    """The arguments an operation writes: those its schema marks (``Tensor(a!)``), and a batch norm's running
    statistics, which some of torch's schemas leave unmarked though the kernels update them."""
    schema = getattr(func, "_schema", None)
    if schema is None:
        return ()
    return tuple(
        (index, argument.name)
        for index, argument in enumerate(schema.arguments)
        if (argument.alias_info is not None and argument.alias_info.is_write) or argument.name.startswith("running_")
    )


def _mode(torch: ModuleType) -> type:
    """The dispatch mode that calls ``before_write`` (and ``detached``), defined once torch is imported. Only a
    dispatch mode: a function mode would be the frame that torch's own warnings point at, in place of the user's."""
    global _MODE
    if _MODE is not None:
        return _MODE
    from torch.utils._python_dispatch import TorchDispatchMode

    detach = torch.ops.aten.detach.default

    class SeeWrites(TorchDispatchMode):  # type: ignore[no-untyped-call]
        def __init__(self, writes: TorchWrites) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.seen = writes

        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # Else torch wraps the handler in torch._dynamo.disable, whose first call imports torch._dynamo: a
            # second and 75 MB, and a slower torch.manual_seed for the rest of the session. Under the mode, compiled
            # code runs eagerly all the same (checked in the tests).
            return False

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            written = _WRITTEN.get(func)
            if written is None:
                written = _WRITTEN[func] = _written_arguments(func)
            kwargs = kwargs or {}
            for index, name in written:
                self.seen.before_write(args[index] if index < len(args) else kwargs.get(name))
            if func is detach:
                self.seen.detached(args[0])
            return func(*args, **kwargs)

    _MODE = SeeWrites
    return _MODE


def _digest(data: Tensor) -> bytes:
    """A digest of a byte tensor's contents, read through NumPy's view of it (no copy)."""
    import hashlib

    return hashlib.blake2b(data.numpy().data, digest_size=16).digest()


# -- NumPy ---------------------------------------------------------------------------------------------------------


class Array:
    """One NumPy array the cell found: a copy of it (``copy``) or read-only during runs (``guarded``)."""

    __slots__ = ("array", "copy", "copy_is_start", "guarded", "path", "span")

    def __init__(self, array: NDArray[Any], path: str) -> None:
        self.array = array
        self.path = path
        self.copy: NDArray[Any] | None = None
        self.copy_is_start = True
        self.guarded = False
        interface = array.__array_interface__
        self.span = (int(interface["data"][0]), int(interface["data"][0]) + int(array.nbytes))


class ArrayWrites:
    """The arrays a cell found: copied up front, or read-only while a run is watched."""

    def __init__(self, numpy: ModuleType, cost: Cost) -> None:
        self.numpy = numpy
        self.cost = cost
        self.arrays: list[Array] = []
        self.guarded: list[Array] = []
        #: The guarded arrays the last run made writable again itself: what it wrote there cannot be undone.
        self.flipped: list[Array] = []
        self.up_front = 0  # bytes copied before the first run

    def watch(self, array: NDArray[Any], path: str, *, written_by_name: bool, read: bool) -> Array:
        """Watch an array the cell found: copy it up front if its code writes it by name, if it holds objects, if it
        is small and under a name the cell reads (while the up-front copies stay under 64 MiB), or if NumPy could
        not make it writable again; else make it read-only for runs."""
        entry = Array(array, path)
        self.arrays.append(entry)
        if not array.flags.writeable:
            return entry  # nothing can write it (NumPy refuses), and nothing here makes it writable
        small = read and array.nbytes < _COPY_UP_FRONT and self.up_front + array.nbytes <= _MOST_UP_FRONT
        if small or array.dtype.hasobject or written_by_name or not _can_guard(array):
            self.up_front += array.nbytes
            self.copy(entry)
        else:
            entry.guarded = True
            self.guarded.append(entry)
        return entry

    def copy(self, entry: Array, written: bool = False) -> None:
        started = time.perf_counter()
        entry.copy = entry.array.copy(order="K")
        entry.copy_is_start = True
        self.cost.add(entry.array.nbytes, False, time.perf_counter() - started, entry.path if written else None)

    def unguard(self, entry: Array, written: bool = False) -> None:
        """Copy an array that was read-only for runs, and leave it writable from now on (``written``: because a run
        is about to write it)."""
        if entry.guarded:
            entry.guarded = False
            self.guarded.remove(entry)
            self.copy(entry, written=written)

    def before_write_at(self, pointer: int, nbytes: int) -> None:
        """torch is about to write memory it shares with an array (``torch.from_numpy``): copy the array first."""
        for entry in list(self.guarded):
            first, last = entry.span
            if pointer < last and first < pointer + nbytes:
                self.unguard(entry, written=True)
                _set_writeable(entry.array, True)

    @contextmanager
    def read_only(self) -> Iterator[None]:
        """The guarded arrays read-only, and writable again afterwards (bases before the views of them)."""
        arrays = sorted(self.guarded, key=lambda entry: _depth(entry.array))
        done: list[Array] = []
        try:
            for entry in arrays:
                entry.array.flags.writeable = False
                done.append(entry)
            with _quiet(_TORCH_READ_ONLY):
                yield
        finally:
            self.flipped = [entry for entry in done if entry.guarded and entry.array.flags.writeable]
            for entry in done:
                _set_writeable(entry.array, True)

    def changed(self, entry: Array) -> bool:
        """Whether an array with a copy no longer holds what its copy holds (bit for bit; objects by identity)."""
        if entry.copy is None:
            return False
        array, copy = entry.array, entry.copy
        if array.shape != copy.shape or array.dtype != copy.dtype:
            return True
        if array.dtype.hasobject:
            return not all(x is y for x, y in zip(array.flat, copy.flat, strict=True))
        return bool(array.tobytes() != copy.tobytes())

    def put_back(self, entry: Array, keep_end: bool) -> None:
        assert entry.copy is not None and entry.copy_is_start
        end = entry.array.copy(order="K") if keep_end else None
        entry.array[...] = entry.copy
        if end is not None:
            entry.copy, entry.copy_is_start = end, False


# torch.from_numpy warns, once per process, of an array that is read-only: for these arrays it is seedmagic's doing.
_TORCH_READ_ONLY = "The given NumPy array is not writable"
_NO_MESSAGE = "\x00seedmagic"


@contextmanager
def _quiet(message: str) -> Iterator[None]:
    """One warning ignored while the block runs, and every other filter as the block leaves it (``catch_warnings``
    would also undo the filters the user's code sets)."""
    warnings.filterwarnings("ignore", message=message, category=UserWarning)
    filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list, documented as one
    ours = filters[0]
    try:
        yield
    finally:
        with suppress(ValueError):
            filters.remove(ours)
        # Taking an entry out of the list does not reach the warnings module's caches; adding one does. This one
        # matches no message, and goes too.
        warnings.filterwarnings("default", message=_NO_MESSAGE, append=True)
        filters[:] = [entry for entry in filters if getattr(entry[1], "pattern", None) != _NO_MESSAGE]


def _depth(array: Any) -> int:
    depth = 0
    while getattr(array, "base", None) is not None and hasattr(array.base, "flags"):
        array, depth = array.base, depth + 1
    return depth


def _can_guard(array: Any) -> bool:
    """Whether NumPy will let an array be made writable again: its memory is an array's own, a bytearray's or a
    memory map's (not, say, a torch tensor's, which NumPy cannot ask)."""
    import mmap

    while getattr(array, "base", None) is not None and hasattr(array.base, "flags"):
        array = array.base
    base = getattr(array, "base", None)
    return base is None or isinstance(base, (bytearray, mmap.mmap))


def _set_writeable(array: Any, value: bool) -> None:
    with suppress(ValueError):  # a view whose base is still read-only: its base comes first in the caller's order
        array.flags.writeable = value
