"""Call-backs around the import of a watched library, so that a library imported after ``%seed N`` is seeded.

The finder sits first on ``sys.meta_path`` but finds nothing itself: for a watched top-level name it asks the other
finders for the real spec and wraps the loader, so that the call-backs run right before and right after the
library's own module code, in the importing cell. Every other import passes through at the cost of one set lookup.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Loader


class _NotifyingLoader:
    """Runs the real loader between the call-backs. The module keeps the real loader as its ``__loader__``."""

    def __init__(self, loader: Loader, hook: ImportHook) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        self._hook.before(module.__name__)
        loaded = False
        try:
            self._loader.exec_module(module)
            loaded = True
        finally:
            self._hook.after(module.__name__, loaded)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class ImportHook:
    """Calls ``before(name)`` when a watched top-level module starts importing, ``after(name, loaded)`` when done."""

    def __init__(
        self, watched: Iterable[str], before: Callable[[str], None], after: Callable[[str, bool], None]
    ) -> None:
        self.watched = frozenset(watched)
        self.before = before
        self.after = after
        # The modules this hook is finding now: another hook on sys.meta_path (a second engine's) asks every finder
        # in turn, this one included, and must get None rather than ask back.
        self._finding: set[str] = set()

    @property
    def installed(self) -> bool:
        # A hook compares equal only to itself (object's identity); the other finders are compared the same way.
        return self in sys.meta_path

    def install(self) -> None:
        if not self.installed:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        sys.meta_path[:] = [finder for finder in sys.meta_path if finder is not self]

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.watched or fullname in self._finding:
            return None
        self._finding.add(fullname)
        try:
            for finder in list(sys.meta_path):
                find_spec = getattr(finder, "find_spec", None)
                if finder is self or find_spec is None:
                    continue
                spec: ModuleSpec | None = find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._finding.discard(fullname)
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            # Not a Loader subclass, so that every other attribute (load_module too) is the real loader's.
            spec.loader = _NotifyingLoader(spec.loader, self)  # type: ignore[assignment]
        return spec

    def invalidate_caches(self) -> None:
        pass
