"""The generators that global seeding misses: a census of those created without a seed, and ``--reach``.

``np.random.default_rng()``, ``random.Random()`` and ``torch.Generator()`` make generators of their own, which
``np.random.seed``, ``random.seed`` and ``torch.manual_seed`` never touch. The census records each one created without
a seed while seedmagic is loaded: where (the cell and line, or the file and line, and the library function that made
it on the user's behalf) and how often. With reach on, each such generator is seeded instead: the n-th of its library
in a cell (from 0) gets the cell's base seed plus n, modulo 2**32, where the base is ``derive_seed(seed in force,
"reach:<library>:<cell>")``; so code and libraries that call ``default_rng()`` repeat, and two cells differ. The
base is hashed once per cell, library and seed: a generator costs an addition, not a hash. The cell is its key as
in auto mode (its id, else its source), also for a ``%%seeded`` cell; a ``seeded()`` block counts anew under the key
of the cell it runs in.

One small unit per library, each changing one attribute, put back exactly when the census and reach are both off.
Each attribute is found again by its module's name: a module run anew (``importlib.reload``, also one that fails part
way, as torch's does) has lost the patch, which is then put in place again.

- NumPy: every generator made without a seed (``default_rng()``, ``Generator(PCG64())``, ``RandomState()``, each
  bit generator, ``SeedSequence()``) takes its entropy from one function, ``numpy.random.bit_generator.randbits``;
  with reach on it returns the derived seed, so ``default_rng()`` is ``default_rng(S)``, ``PCG64()`` is ``PCG64(S)``
  and ``RandomState()`` is ``RandomState(MT19937(S))``. A seeded generator never calls it: it costs them nothing, and
  code that imported ``default_rng`` by name is reached too.
- ``random``: ``random.Random.__init__`` (subclasses that call it are reached; ``random.SystemRandom`` is left alone).
- torch: the ``torch.Generator`` name, by a stand-in whose calls return real ``torch.Generator`` objects and against
  which ``isinstance`` checks as before. A new one starts from a fixed seed, so unseeded it is the same stream every
  time: the census lists those still unseeded. Code that bound ``Generator`` by name before is not reached, and named.

``secrets``, ``os.urandom`` and ``random.SystemRandom`` are never touched. Nothing here knows IPython; nothing imports
a library the user has not imported.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, FrameType, new_class
from typing import TYPE_CHECKING, Any, NamedTuple

from .places import library_files, library_place, short_path
from .sources import TORCH_DEFAULT_SEED

if TYPE_CHECKING:
    from random import Random

    from numpy.random import Philox, RandomState
    from torch import Generator as TorchGenerator


__all__ = ["LIBRARIES", "Census", "Counting", "Unseeded"]

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


_MOST_FRAMES = 60


class Unseeded(NamedTuple):
    """Generators made without a seed at one place: what the status lists."""

    library: str
    #: The code that led to it: a cell's file (with ``cell``, its execution count) or a file of the user's.
    file: str
    line: int
    cell: int | None
    #: The library's own code that called the constructor for the user (``scipy/stats/_resampling.py:1312``).
    via: str
    count: int  # type: ignore[assignment]  # a field, which shadows tuple.count
    #: How many of them reach seeded, and the seed the last one got.
    reached: int
    last_seed: int | None

    @property
    def where(self) -> str:
        if self.cell is not None:
            return f"In [{self.cell}], line {self.line}"
        return f"{self.file}:{self.line}"

    def shown_where(self, width: int) -> str:
        """``where`` in at most ``width`` columns where it can be (see ``short_path``)."""
        return self.where if self.cell is not None else short_path(self.where, width)

    @property
    def for_its_own_use(self) -> bool:
        """Made inside a standard library module that draws for its own bookkeeping (``tempfile``'s file names,
        ``email``'s message ids), never for a result: not a cause of a cell's values."""
        module = self.via.replace("\\", "/").rpartition(":")[0].partition("/")[0].removesuffix(".py")
        return module in _OWN_USE

    @property
    def note(self) -> str:
        if self.library == "torch" and self.reached < self.count:
            return "torch.Generator() starts from a fixed seed: the same stream for every unseeded generator"
        return ""


#: Standard library modules whose generators serve their own bookkeeping.
_OWN_USE = frozenset(
    {"tempfile", "email", "multiprocessing", "uuid", "asyncio", "http", "urllib", "smtplib", "imaplib"}
)


class _Site:
    """The running record of one place: kept while the session lasts; a loop adds to its count. It holds the code
    objects its key names by ``id``, so that no other code takes their ids."""

    __slots__ = ("cell", "codes", "count", "file", "generators", "last_seed", "line", "reached", "via")

    def __init__(self, file: str, line: int, via: str, cell: int | None, codes: tuple[CodeType, ...]) -> None:
        self.file, self.line, self.via, self.cell, self.codes = file, line, via, cell, codes
        self.count = 0
        self.reached = 0
        self.last_seed: int | None = None
        self.generators: weakref.WeakSet[TorchGenerator] | None = None


def _find(where: str) -> object:
    """The object ``where`` names as it is now: ``"random:Random"`` is ``sys.modules["random"].Random``."""
    module, _, path = where.partition(":")
    found: object = sys.modules.get(module)
    for name in path.split(".") if path else ():
        found = getattr(found, name, None)
    return found


class _Patches:
    """Attributes changed, and their values before, so that ``undo`` puts each one back exactly, newest first."""

    def __init__(self) -> None:
        # (library, where the owner is found, the owner, the attribute, its value before, ours)
        self._changed: list[tuple[str, str, object, str, object, object]] = []

    def setattr(self, library: str, where: str, name: str, value: object) -> None:
        """Set the attribute ``name`` of the object ``where`` names (see ``_find``) for ``library``."""
        owner = _find(where)
        self._changed.append((library, where, owner, name, getattr(owner, name), value))
        setattr(owner, name, value)

    def in_place(self, library: str) -> bool:
        """Whether every attribute patched for ``library`` still holds the patch where its module has it now."""
        return all(
            getattr(_find(where), name, None) is ours
            for patched, where, _, name, _, ours in self._changed
            if patched == library
        )

    def undo(self, library: str | None = None) -> None:
        """Put back what was patched (for ``library`` only, where given)."""
        kept = []
        while self._changed:
            entry = self._changed.pop()
            patched, _, owner, name, before, ours = entry
            if library is not None and patched != library:
                kept.append(entry)
            # Someone who changed it after us puts back ours, which passes calls through while nothing is on.
            elif getattr(owner, name, None) is ours:
                setattr(owner, name, before)
        self._changed = kept[::-1]


class _Library:
    """One library's piece: the module whose import makes it patchable, and the patch."""

    name = ""
    module = ""
    #: Whether the census alone installs it (else only reach): what it costs a generator made with a seed.
    census = True

    def install(self, census: Census, patches: _Patches) -> None:
        raise NotImplementedError

    def not_reached(self) -> tuple[str, ...]:
        """Names bound before the patch to what it replaced, which the patch cannot reach."""
        return ()


class _NumPy(_Library):
    name = "numpy"
    module = "numpy.random"

    def install(self, census: Census, patches: _Patches) -> None:
        nprandom = sys.modules["numpy.random"]
        bit_generator = sys.modules["numpy.random.bit_generator"]
        entropy: Callable[[int], int] = bit_generator.randbits
        if nprandom.__file__ is None:
            raise ImportError("numpy.random has no __file__")
        package = os.path.dirname(nprandom.__file__) + os.sep
        seeding = [0]  # RandomState(N) makes an MT19937 from entropy, then seeds it with N: not made without a seed

        @functools.wraps(entropy)
        def randbits(bits: int) -> int:
            # NumPy's own Python code (unpickling, copy.deepcopy) makes a generator to load a saved state into.
            if seeding[0] or sys._getframe(1).f_code.co_filename.startswith(package):
                return entropy(bits)
            seed = census.created("numpy")
            return entropy(bits) if seed is None else seed

        random_state: type[RandomState] = nprandom.RandomState
        philox: type[Philox] = nprandom.Philox

        def seeded_by(given: object, real: Callable[..., Any], args: Any, kwargs: Any) -> Any:
            """``real(*args, **kwargs)``, which takes entropy it then replaces where ``given`` is not None."""
            if given is None:
                return real(*args, **kwargs)
            seeding[0] += 1
            try:
                return real(*args, **kwargs)
            finally:
                seeding[0] -= 1

        def make_random_state(_stand_in: type, *args: Any, **kwargs: Any) -> RandomState:
            seed = args[0] if args else kwargs.get("seed")
            made: RandomState = seeded_by(seed, random_state, args, kwargs)
            return made

        def make_philox(_stand_in: type, *args: Any, **kwargs: Any) -> Philox:
            # Philox(key=K) draws entropy for a seed, then uses the key: the key is its seed.
            key = args[2] if len(args) > 2 else kwargs.get("key")
            made: Philox = seeded_by(key, philox, args, kwargs)
            return made

        patches.setattr(self.name, "numpy.random.bit_generator", "randbits", randbits)
        patches.setattr(self.name, "numpy.random", "RandomState", _stand_in(random_state, make_random_state))
        patches.setattr(self.name, "numpy.random", "Philox", _stand_in(philox, make_philox))


class _PythonRandom(_Library):
    name = "random"
    module = "random"

    def install(self, census: Census, patches: _Patches) -> None:
        random = sys.modules["random"]  # as it is now: reloaded, it has a new Random class
        system = random.SystemRandom
        init = random.Random.__dict__["__init__"]

        @functools.wraps(init)
        def __init__(self: Random, x: object = None) -> None:
            if x is None and not isinstance(self, system):
                x = census.created("random")
            init(self, x)

        patches.setattr(self.name, "random:Random", "__init__", __init__)


class _StandInType(type):
    """A stand-in's type: ``isinstance``, ``issubclass`` and attributes are those of the real class, and a class
    derived from a stand-in (``class Mine(np.random.RandomState)``) derives from the real class instead: its
    instances are its own, and it stays whole when the stand-in is put back."""

    _real: type

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        if not any(isinstance(base, _StandInType) for base in bases):
            return super().__new__(mcls, name, bases, namespace, **kwargs)
        real_bases = tuple(base._real if isinstance(base, _StandInType) else base for base in bases)
        return new_class(name, real_bases, kwargs, lambda body: body.update(namespace))

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._real)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real, name)

    def __repr__(cls) -> str:
        return repr(cls._real)


def _stand_in(real: type, new: Callable[..., object]) -> type:
    """A stand-in for the class ``real`` (a C type, which cannot be patched): calling it calls ``new(stand_in, *args,
    **kwargs)``, which returns a real instance; ``isinstance(x, stand_in)`` is ``isinstance(x, real)``, and pickle
    finds ``real`` by its own module and name."""
    # ``new`` is the call of the stand-in's own type (one Python call, where ``__new__`` alone costs a lookup more),
    # and its ``__new__``, for code that calls that directly.
    kind: type[_StandInType] = type(f"{real.__name__}StandIn", (_StandInType,), {"__call__": new})
    namespace = {"__new__": new, "__doc__": real.__doc__, "__module__": real.__module__, "_real": real}
    stand_in: type = kind(real.__name__, (), namespace)
    stand_in.__qualname__ = real.__qualname__
    return stand_in


class _Torch(_Library):
    # Every torch.Generator is made unseeded and seeded afterwards (``torch.Generator().manual_seed(0)``): the census
    # keeps a weak reference to each it does not seed, and counts, when asked, those still at torch's fixed seed. On
    # a construction of about 1.3 µs (make bench), the census adds 1.3 to 1.9 µs (the weak reference about half);
    # reach adds 2.7 to 3.3 µs, of which torch's own manual_seed of the new generator (its 624-word state filled) is
    # 1.2 µs, which a user seeding it by hand pays too.
    name = "torch"
    module = "torch"
    _real: type[TorchGenerator] | None = None

    def install(self, census: Census, patches: _Patches) -> None:
        torch = sys.modules["torch"]
        real: type[TorchGenerator] = torch.Generator
        self._real = real

        def make(_stand_in: type, *args: Any, **kwargs: Any) -> TorchGenerator:
            generator = real(*args, **kwargs)
            seed = census.created("torch", generator)
            if seed is not None:
                generator.manual_seed(seed)
            return generator

        patches.setattr(self.name, "torch", "Generator", _stand_in(real, make))

    def not_reached(self) -> tuple[str, ...]:
        real = self._real
        if real is None:
            return ()
        names = []
        for module_name, module in list(sys.modules.items()):
            if module_name == "torch" or module_name.startswith(("torch.", "seedmagic")):
                continue
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            names += [f"{module_name}.{name}" for name, value in list(namespace.items()) if value is real]
        return tuple(names)


LIBRARIES: tuple[_Library, ...] = (_NumPy(), _PythonRandom(), _Torch())


class Counting(NamedTuple):
    """What reach counts a cell's generators under: its key, how many of each library it made, their base seeds."""

    key: str | Callable[[], str]
    counters: dict[str, int]
    bases: dict[tuple[str, int, str], int]


class Census:
    """Which generators were made without a seed, where; and, with reach on, seeding them.

    ``seed_in_force()`` is the seed reach derives from (None: no seed, nothing reached); ``derive(seed, key)`` is
    how. ``cell_of(filename)`` gives the execution count of a cell's file (set by the notebook side)."""

    def __init__(self, seed_in_force: Callable[[], int | None], derive: Callable[[int, str], int]) -> None:
        self.seed_in_force = seed_in_force
        self.derive = derive
        self.cell_of: Callable[[str], int | None] | None = None
        #: Whether the census records (reach records too).
        self.enabled = False
        self.reaching = False
        # (library, code, instruction), and (..., the library's code, instruction) for a site beyond a library's
        self._sites: dict[tuple[str, int, int] | tuple[str, int, int, int, int], _Site] = {}
        self._patches = _Patches()
        self._installed: set[str] = set()
        #: The running cell's key, or what gives it when first needed (see ``begin_cell``).
        self._cell_key: str | Callable[[], str] = "-"
        self._counters: dict[str, int] = {}
        # The cell's base seed per (library, seed in force, DataLoader worker): cleared with the counters.
        self._bases: dict[tuple[str, int, str], int] = {}
        self._not_reached: tuple[int, tuple[str, ...]] | None = None

    @property
    def active(self) -> bool:
        """Whether the patches are in place (the census or reach is on)."""
        return self.enabled or self.reaching

    @property
    def watched(self) -> frozenset[str]:
        """The modules whose import installs a patch."""
        return frozenset(library.module for library in LIBRARIES)

    # -- switching -------------------------------------------------------------------------------------------------

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._apply()

    def set_reach(self, reaching: bool) -> None:
        """Seed generators made without a seed from now on (from the seed in force), or stop."""
        if reaching and not self.reaching:
            self.restart()
        self.reaching = reaching
        self._apply()

    def _wanted(self, library: _Library) -> bool:
        return self.reaching or (self.enabled and library.census)

    def _apply(self) -> None:
        wanted = {library.name for library in LIBRARIES if self._wanted(library)}
        if self._installed - wanted:  # put back everything, exactly, then patch again what is still wanted
            self._patches.undo()
            self._installed.clear()
            self._not_reached = None
        for library in LIBRARIES:
            if library.name in wanted:
                self._refresh(library)

    def imported(self, module: str, loaded: bool = True) -> None:
        """A watched module finished importing, or running anew (``importlib.reload``): patch it if the census or
        reach is on. ``loaded=False``: its code raised; a module reloaded part way is patched again."""
        for library in LIBRARIES:
            if library.module == module and self._wanted(library) and (loaded or library.name in self._installed):
                self._refresh(library)

    def _refresh(self, library: _Library) -> None:
        """Patch an imported library, and patch again one whose module ran anew since and so lost the patch."""
        if library.name in self._installed:
            if self._patches.in_place(library.name):
                return
            self._patches.undo(library.name)
            self._installed.discard(library.name)
            self._not_reached = None
        if sys.modules.get(library.module) is not None:  # None: its import is blocked
            self._install(library)

    def _install(self, library: _Library) -> None:
        try:
            library.install(self, self._patches)
        except Exception:  # a version whose layout differs: that library is neither counted nor reached
            return
        self._installed.add(library.name)

    # -- cells -----------------------------------------------------------------------------------------------------

    def begin_cell(self, key: str | Callable[[], str] | None) -> Counting | None:
        """A cell starts: reach counts its generators from zero, under ``key`` (its id or source, or a call that gives
        it, made only if the cell makes a generator under reach). None: a ``seeded()`` block, which counts anew under
        the key of the cell it runs in. Returns what ``end_cell`` takes when the cell ends."""
        if key is None:
            if self._counters:
                self.restart()
            return None
        outer = Counting(self._cell_key, self._counters, self._bases)
        self._cell_key, self._counters, self._bases = key, {}, {}
        return outer

    def end_cell(self, outer: Counting | None) -> None:
        """The cell whose ``begin_cell`` returned ``outer`` ended: the cell it ran in counts on, under its key."""
        if outer is not None:
            self._cell_key, self._counters, self._bases = outer

    def restart(self) -> None:
        """Count from zero again, as at the start of the cell (a cell run twice, a new session seed)."""
        self._counters.clear()
        self._bases.clear()

    # -- recording -------------------------------------------------------------------------------------------------

    def created(self, library: str, generator: TorchGenerator | None = None) -> int | None:
        """A generator of ``library`` is being made without a seed: record where; with reach on and a seed in force,
        return the seed it gets."""
        frame = sys._getframe(1)  # the stand-in's or the patch's: passed over, as any of seedmagic's own frames
        code = frame.f_code
        while code.co_filename.startswith(_HERE):
            caller = frame.f_back
            if caller is None:
                return None
            frame = caller
            code = frame.f_code
        # The hot path (a loop in the user's code): one lookup by the calling instruction, found the first time.
        site = self._sites.get((library, id(code), frame.f_lasti))
        if site is None:  # a library's code is never kept under this key: its site is the user's code beyond it
            if code.co_filename.startswith(library_files()):
                site = self._site_beyond(library, frame)
            else:
                site = self._sites[library, id(code), frame.f_lasti] = self._site(frame, frame)
        site.count += 1
        seed = self.seed_in_force() if self.reaching else None
        if seed is None:
            if generator is not None:  # counted, when asked, if it is still unseeded then
                if site.generators is None:
                    site.generators = weakref.WeakSet()
                site.generators.add(generator)
            return None
        counters = self._counters
        number = counters[library] = counters.get(library, -1) + 1
        worker = _worker()
        base = self._bases.get((library, seed, worker))
        if base is None:
            key = self._cell_key
            if not isinstance(key, str):
                key = self._cell_key = key()
            base = self._bases[library, seed, worker] = self.derive(seed, f"reach:{library}:{key}{worker}")
        seed = site.last_seed = (base + number) & 0xFFFF_FFFF
        site.reached += 1
        return seed

    def _site_beyond(self, library: str, via: FrameType) -> _Site:
        """The site of a generator a library's code made: the user's code that called it, the cell or file."""
        frame = via
        for _ in range(_MOST_FRAMES):
            caller = frame.f_back
            if caller is None:  # the library's code all the way up: the site is where it made the generator
                break
            frame = caller
            if not frame.f_code.co_filename.startswith(library_files()):
                break
        if frame.f_code.co_filename.startswith(library_files()):
            frame = via
        key = (library, id(frame.f_code), frame.f_lasti, id(via.f_code), via.f_lasti)
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = self._site(frame, via)
        return site

    def _site(self, frame: FrameType, via: FrameType) -> _Site:
        file = frame.f_code.co_filename
        via_text = "" if via is frame else library_place(via.f_code.co_filename, via.f_lineno)
        cell = self.cell_of(file) if self.cell_of is not None else None
        return _Site(file, frame.f_lineno, via_text, cell, (frame.f_code, via.f_code))

    @contextmanager
    def counting(self) -> Iterator[list[Unseeded]]:
        """Record the generators of NumPy and ``random`` made without a seed, and not reached, inside the block (the
        census switched on for it where it is off, and back after): the list is filled when the block ends. These
        start from OS entropy, so two runs draw differently; an unseeded ``torch.Generator()`` starts from a fixed
        seed, the same in both, and is left out."""
        before = {key: site.count - site.reached for key, site in self._sites.items()}
        was_enabled = self.enabled
        if not was_enabled:
            self.set_enabled(True)
        made: list[Unseeded] = []
        try:
            yield made
        finally:
            if not was_enabled:
                self.set_enabled(False)
            for key, site in self._sites.items():
                new = site.count - site.reached - before.get(key, 0)
                if new > 0 and key[0] != "torch":
                    made.append(Unseeded(key[0], site.file, site.line, site.cell, site.via, new, 0, None))

    def unseeded(self) -> tuple[Unseeded, ...]:
        """Every place that made generators without a seed, in order of first creation. A torch generator seeded
        after it was made (``torch.Generator().manual_seed(0)``) is not counted."""
        rows: dict[tuple[str, str, int, str], Unseeded] = {}
        for key, site in self._sites.items():
            library = key[0]
            count = site.count
            if library == "torch":
                count = site.reached + sum(_still_unseeded(g) for g in list(site.generators or ()))
                if not count:
                    continue
            where = (library, site.file, site.line, site.via)
            row = Unseeded(library, site.file, site.line, site.cell, site.via, count, site.reached, site.last_seed)
            before = rows.get(where)
            if before is not None:  # two calls on one line
                last = row.last_seed if row.last_seed is not None else before.last_seed
                row = row._replace(count=before.count + count, reached=before.reached + row.reached, last_seed=last)
            rows[where] = row
        return tuple(rows.values())

    def not_reached(self) -> tuple[str, ...]:
        """Names that reach cannot seed through: bound to a constructor before it was patched."""
        if not self.active:
            return ()
        size = len(sys.modules)
        kept = self._not_reached
        if kept is None or kept[0] != size:
            names = tuple(n for lib in LIBRARIES if lib.name in self._installed for n in lib.not_reached())
            kept = self._not_reached = (size, names)
        return kept[1]

    def clear(self) -> None:
        """Forget what was recorded, and the running cell's key."""
        self._sites.clear()
        self._cell_key = "-"
        self.restart()


def _still_unseeded(generator: TorchGenerator) -> bool:
    try:
        return generator.initial_seed() == TORCH_DEFAULT_SEED
    except Exception:
        return False


def _worker() -> str:
    """In a DataLoader worker, what tells it from the others (each derives its own seeds); else nothing."""
    data = sys.modules.get("torch.utils.data")
    if data is None:
        return ""
    info = data.get_worker_info()
    return "" if info is None else f":worker:{info.id}:{info.seed}"
