"""The session's modes: deterministic algorithms, auto mode and reach, switched together without seeding.

Each is checked first, then the deterministic switch goes (all or nothing), then auto mode and reach: a refused
change leaves every flag as it was. Nothing here knows IPython.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arguments import InvalidArgument, check_bool, check_deterministic
from .status import SeedReport

if TYPE_CHECKING:
    from .engine import Engine


class Modes:
    """The engine's switches: ``set_modes`` for ``%seed --deterministic/--auto/--reach`` without a seed, and the
    pieces ``seed_all`` uses too."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def set_modes(
        self,
        *,
        deterministic: bool | None = None,
        warn_only: bool = False,
        auto: bool | None = None,
        reach: bool | None = None,
    ) -> SeedReport:
        """Change the deterministic switch, auto mode and reach together, without seeding; None leaves one as it
        is."""
        check_deterministic(deterministic, warn_only)
        check_bool("auto", auto, none=True)
        check_bool("reach", reach, none=True)
        if auto and self.engine.seed is None:
            raise InvalidArgument("auto mode needs a session seed: %seed N --auto")
        if reach and self.engine.seed is None:
            raise InvalidArgument("reach needs a session seed: %seed N --reach")
        flags_changed = self.switch(deterministic, warn_only)
        if auto is not None and auto != self.engine.session.auto:
            self.engine.set_session(self.engine.session._replace(auto=auto))
        if reach is not None:
            self.engine.census.set_reach(reach)
        self.engine.refresh_hook()
        report = SeedReport(None, deterministic=deterministic, flags_changed=tuple(flags_changed), auto=auto)
        return report if reach is None else self.with_reach(report, reach)

    def with_reach(self, report: SeedReport, reach: bool) -> SeedReport:
        return report._replace(reach=reach, not_reached=self.engine.census.not_reached() if reach else ())

    def switch(self, deterministic: bool | None, warn_only: bool) -> list[str]:
        if deterministic is True:
            return self.engine.determinism.enable(warn_only)
        if deterministic is False:
            return self.engine.determinism.disable()
        return []
