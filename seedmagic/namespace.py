"""A cell's starting namespace: everything it can reach, watched so that a run of it can be undone in place.

``Start.take(namespace)`` walks (``reach``) everything the notebook's names reach, and the modules of the user's own
files: the values of every name, what containers hold, objects' attributes (``__dict__`` and ``__slots__``), what
functions keep (closure cells, defaults, attributes), the classes the notebook defines, a module's parameters, buffers
and hooks, an optimizer's state, a tensor's ``.grad``. So a callback kept in a list, a hook held by a module, a closure
over a list, an optimizer holding a model's very tensors are all found, however the cell reaches them. For each
mutable object it keeps a shallow record: a list's items, a dict's items in order, an object's attributes, a
generator's state, a tensor's version counter, storage and layout. That costs what the notebook holds in objects,
never in bytes: tensors and arrays are watched, not copied (``writes``: a tensor is copied to host memory just before
a run first writes into it; a small or named array up front; a large one is read-only for the run).

A run under ``Start.run`` works on the objects themselves. Afterwards ``changed()`` says which of them differ from
their records, and ``put_back()`` puts each one back in place, so every object keeps its identity: what shared a
tensor, a list or a module before still shares it. With ``keep_end`` the run's end state is kept for a comparison
(``Ended``). A run that raises is not undone here: the caller decides (a cell that fails keeps what it did).

Not reached: the state of library modules (a library's caches, its classes' attributes), objects only C code holds,
what ``sys.modules`` or ``getattr(module, name)`` reaches, files and other effects outside the process's objects.
Objects with no state to read (an open file, a lock, a generator object) are named, never taken for unchanged.
"""

from __future__ import annotations

import functools
import gc
import re
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any, TypeVar

from .array_kinds import ArrayKind, TensorKind
from .compare import Comparison
from .errors import one_line
from .kinds import NamespaceKind, OpaqueKind
from .names import Names, names_used, written_by_name
from .plots import Figures
from .reach import Reach, Record, user_modules
from .writes import ArrayWrites, Cost, TorchWrites

_F = TypeVar("_F", bound=Callable[..., Any])


def gc_paused(method: _F) -> _F:
    """Python's cyclic garbage collector paused while ``method`` runs: walking, reading and comparing a notebook's
    objects makes as many small containers as it holds, and each collection would go through all of them again.
    Only seedmagic's own bookkeeping: a cell always runs with the collector as the user left it."""

    @functools.wraps(method)
    def paused(*args: Any, **kwargs: Any) -> Any:
        if not gc.isenabled():
            return method(*args, **kwargs)
        gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            gc.enable()

    return paused  # type: ignore[return-value]


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """An interrupt (SIGINT: the kernel's stop button, Ctrl-C) that arrives inside the block is raised when it ends:
    putting a namespace back is never stopped half-way. Only the main thread receives signals; elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []
    try:
        original = signal.signal(signal.SIGINT, lambda signum, frame: received.append((signum, frame)))
    except (ValueError, TypeError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, original)
        if received and callable(original):
            original(*received[0])


class Start(Reach):
    """Everything a cell can reach, recorded before it runs: run it watched, see what a run changed, put it back."""

    def __init__(self, namespace: dict[str, Any], names: Names) -> None:
        super().__init__(namespace, names)
        self.cost = Cost()
        torch, numpy = sys.modules.get("torch"), sys.modules.get("numpy")
        self.tensors = TorchWrites(torch, self.cost) if torch is not None else None
        self.arrays = ArrayWrites(numpy, self.cost) if numpy is not None else None
        if self.tensors is not None:
            self.tensors.arrays = self.arrays
        self.storages: dict[int, list[Record]] = {}  # id(Storage) -> the tensors that view it
        self.retried: list[str] = []  # arrays a run wrote while read-only, and was run again for
        #: What could not be put back after a run, by path, and why: a later run started from what that one left.
        self.unrestored: dict[str, str] = {}
        self._written_names: frozenset[str] = frozenset()

    # -- walking ---------------------------------------------------------------------------------------------------

    @classmethod
    def generators(cls, namespace: dict[str, Any]) -> Start:
        """Walk what ``namespace`` and the user's own modules reach, and record only the generators (``random.Random``,
        NumPy's, torch's): what ``--isolate`` puts back besides the global ones (``put_back``)."""
        return cls.take(namespace, generators_only=True)

    @classmethod
    @gc_paused
    def take(
        cls, namespace: dict[str, Any], codes: list[types.CodeType] | None = None, *, generators_only: bool = False
    ) -> Start:
        """Walk and record everything ``namespace`` and the user's own modules reach."""
        start = cls(namespace, names_used(codes, namespace))
        start.generators_only = generators_only
        if not generators_only:
            start.figures = Figures.take()
        start._written_names = written_by_name(codes)
        shell = getattr(namespace.get("get_ipython"), "__self__", None)
        for kept in (shell, sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if kept is not None:
                start._seen.add(id(kept))
        start._walk([(None, "", namespace, "", NamespaceKind("", True))])
        modules = [
            (None, "", module.__dict__, f"<module {module.__name__}>", NamespaceKind(f"{module.__name__}.", False))
            for module in user_modules()
            if module.__dict__ is not namespace
        ]
        start._walk(modules)
        if start.figures is not None:
            start.figures.settle()
        return start

    def _watch(self, record: Record) -> None:
        obj = record.obj
        if isinstance(record.kind, TensorKind) and self.tensors is not None:
            state = record.state
            entry = self.tensors.watch(obj, record.path) if state.storage is not None else None
            if entry is not None:
                record.storage = entry
                self.storages.setdefault(id(entry), []).append(record)
            elif obj.device.type != "meta":
                try:  # no storage of its own (sparse, nested): a clone to compare with and put back
                    record.state = state._replace(copy=obj.detach().clone())
                except Exception:
                    record.kind = OpaqueKind("a tensor that cannot be copied")
        elif isinstance(record.kind, ArrayKind) and self.arrays is not None:
            read = self.names.read
            record.array = self.arrays.watch(
                obj,
                record.path,
                written_by_name=record.root in self._written_names,
                read=read is None or record.root in read,
            )

    # -- running ---------------------------------------------------------------------------------------------------

    def run(self, run: Callable[[], Any], *, again: Callable[[], None] | None = None) -> Any:
        """``run()`` watched. If it fails writing an array that was read-only for it, and ``again`` is given (what
        seeds the generators for it), it is undone and run once more with the arrays copied (``retried`` names
        them)."""
        __tracebackhide__ = True
        try:
            with self.watching():
                return run()
        except (ValueError, TypeError, BufferError) as error:
            if again is None or not self.read_only_hit(error):
                raise
        assert self.arrays is not None
        self.retried = [entry.path for entry in self.arrays.guarded]
        self.put_back()
        for entry in list(self.arrays.guarded):
            self.arrays.unguard(entry)
        again()
        with self.watching():
            return run()

    @contextmanager
    def watching(self) -> Iterator[None]:
        """The modes and read-only arrays while a run goes on; neither an interrupt nor an error leaves them on."""
        if self.tensors is not None:
            self.tensors.start_run()
        stack = ExitStack()
        with interrupts_deferred():
            if self.arrays is not None and self.arrays.guarded:
                stack.enter_context(self.arrays.read_only())
            if self.tensors is not None and self.tensors.needs_mode:
                stack.enter_context(self.tensors.watching())
        try:
            yield
        finally:
            with interrupts_deferred():
                stack.close()
                if self.tensors is not None:
                    self.tensors.settled_lost = self.tensors.settle()

    def read_only_hit(self, error: BaseException) -> bool:
        """Whether an error may be NumPy refusing to write an array this run had read-only."""
        if self.arrays is None or not self.arrays.guarded:
            return False
        seen: BaseException | None = error
        for _ in range(4):
            if seen is None:
                return False
            if _READ_ONLY.search(str(seen)):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    # -- after a run -----------------------------------------------------------------------------------------------

    @gc_paused
    def changed(self) -> list[Record]:
        """The records whose object the last run changed."""
        return [record for record in self.records if record.kind.readable and self._changed(record)]

    def _changed(self, record: Record) -> bool:
        kind, arrays = record.kind, self.arrays
        try:
            if record.storage is not None and record.storage.written:
                return True
            if record.array is not None and arrays is not None and arrays.changed(record.array):
                return True
            if (
                isinstance(kind, TensorKind)
                and record.state.copy is not None
                and _differs(record.state.copy, record.obj)
            ):
                return True
            return not kind.unchanged(record.state, record.obj)
        except Exception:  # a state that can no longer be read: changed, and compared as far as it can be
            return True

    def lost(self) -> list[str]:
        """What the last run wrote where nothing watched: it cannot be undone (a write from another thread, or a C
        extension, into a tensor; an array the run made writable again itself)."""
        lost = [] if self.tensors is None else [entry.path for entry in self.tensors.settled_lost]
        for record in self.records:
            entry = record.storage
            if entry is not None and not entry.written and not entry.compared and record.state.version is not None:
                try:
                    if record.obj._version != record.state.version:
                        lost.append(record.path)
                except Exception:
                    pass
        if self.arrays is not None:
            lost += [entry.path for entry in self.arrays.flipped]
        return lost

    def drawn_into(self) -> list[str]:
        """The figures from before the cell that the last run drew into: they cannot be put back."""
        return [] if self.figures is None else self.figures.drawn_into()

    @gc_paused
    def put_back(self, *, keep_end: bool = False, to: Ended | None = None) -> Ended:
        """Put every object the last run changed back as it was before the cell (or, ``to``, as an earlier run left
        it), in place. With ``keep_end``, the run's end is kept for a comparison: the states, and the storages' and
        arrays' copies swapped to hold it. The figures the run made are closed in pyplot (kept, with ``keep_end``);
        ``to`` leaves the figures as they are."""
        ended = Ended()
        with interrupts_deferred():
            if to is None and not self.generators_only:  # --isolate: the cell's figures are its output
                if self.figures is None:
                    self.figures = Figures.take(made_before=False)  # matplotlib imported by the run
                if self.figures is not None:
                    ended.figures = self.figures.set_aside()
            changed = self.changed()
            if to is not None:
                ids = {id(record) for record in changed}
                changed += [record for record in to.states if id(record) not in ids]
            back = to.states if to is not None else {}
            tensors = []
            for record in changed:
                if keep_end:
                    end = record.kind.read(record.obj)
                    if isinstance(record.kind, TensorKind) and record.state.copy is not None:
                        end = end._replace(copy=record.obj.detach().clone())
                    ended.states[record] = end
                if isinstance(record.kind, TensorKind):
                    tensors.append(record)  # after the rest: a tensor's storage first, then its layout
                    continue
                self._put(record, back.get(record, record.state))
                array = record.array
                if array is not None and array.copy is not None and self.arrays is not None:
                    if to is not None:
                        array.array[...] = array.copy  # it holds the earlier run's end, or the start it kept
                    elif array.copy_is_start:
                        self.arrays.put_back(array, keep_end)
                        if keep_end:
                            ended.arrays.add(id(array))
            done: set[int] = set()
            for record in tensors:
                entry = record.storage
                if entry is not None and self.tensors is not None and entry.copy is not None and id(entry) not in done:
                    done.add(id(entry))
                    if to is not None:
                        self.tensors.put_copy(entry)
                    elif entry.written and entry.copy_is_start:
                        self.tensors.put_back(entry, keep_end)
                        if keep_end:
                            ended.storages.add(id(entry))
            for record in tensors:
                self._put(record, back.get(record, record.state))
            self._reread_versions()
        return ended

    def _put(self, record: Record, state: Any) -> None:
        try:
            record.kind.put(record.obj, state)
        except Exception as exc:  # the rest is put back all the same; the caller names what was not
            self.unrestored.setdefault(record.path, one_line(exc))

    def _reread_versions(self) -> None:
        for record in self.records:
            if record.storage is not None and record.state.version is not None:
                with suppress(Exception):
                    record.state = record.state._replace(version=record.obj._version)

    def opaque(self) -> list[Record]:
        """The objects with no state to read that the cell's code can reach (by the names it reads)."""
        read = self.names.read if self.names.read is not None else self.namespace.keys()
        return [record for record in self.records if not record.kind.readable and record.users and record.root in read]

    def release(self) -> None:
        """Let go of every record and copy."""
        self.records.clear()
        self.known.clear()
        self._by_id.clear()
        self.storages.clear()
        self.figures = None
        if self.tensors is not None:
            self.tensors.storages.clear()
        if self.arrays is not None:
            self.arrays.arrays.clear()
            self.arrays.guarded.clear()


class Ended:
    """What a run left, kept for a comparison: the states of the objects it changed, and which storages' and arrays'
    copies now hold its end."""

    def __init__(self) -> None:
        self.states: dict[Record, Any] = {}
        self.storages: set[int] = set()
        self.arrays: set[int] = set()
        self.figures: list[Any] = []  # the figures it made, closed in pyplot


def _differs(copy: Any, tensor: Any) -> bool:
    return Comparison().difference(copy, tensor) is not None


_READ_ONLY = re.compile(r"read-only|readonly|not writ(e)?able|must be .*writ(e)?able", re.IGNORECASE)


__all__ = ["Ended", "Start", "gc_paused", "interrupts_deferred"]
