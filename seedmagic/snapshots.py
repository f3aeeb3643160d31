"""Snapshots: every imported library's generators, the determinism flags and the session, saved as one value.

``Engine.snapshot`` takes one and ``Engine.restore`` puts it back; here are the value and the two loops over the
libraries' generators, where a library that fails does not stop the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .arguments import InvalidArgumentType
from .determinism import DeterminismState
from .errors import one_line, warn_failures
from .session import Session
from .sources import Source, StateUnavailable
from .status import Seeding

if TYPE_CHECKING:
    from .engine import Engine


class Snapshot(NamedTuple):
    """Everything about randomness that ``restore`` puts back: the imported libraries' generator states, the
    determinism flags, the session, and what the status reports of it (what was seeded, what failed, reach).
    ``unavailable`` names the libraries whose state cannot be saved, and why."""

    states: dict[str, Any]
    unavailable: dict[str, str]
    session: Session
    seedings: dict[str, Seeding]
    failures: dict[str, str]
    reach: bool
    determinism: DeterminismState

    @property
    def imported(self) -> frozenset[str]:
        """The libraries that were imported when the snapshot was taken."""
        return frozenset(self.states) | frozenset(self.unavailable)


def save_generators(sources: Sequence[Source]) -> tuple[dict[str, Any], dict[str, str]]:
    """The generator states of the imported libraries among ``sources``, and why those that cannot be saved cannot."""
    states, unavailable = {}, {}
    for source in sources:
        if not source.imported():
            continue
        try:
            states[source.name] = source.get_state()
        except StateUnavailable as exc:
            unavailable[source.name] = str(exc)
        except Exception as exc:
            unavailable[source.name] = one_line(exc)
        else:
            # What the saved state leaves out (TensorFlow's op kernels, cuRAND): said, not pretended.
            left_out = source.unsaved()
            if left_out:
                unavailable[source.name] = left_out
    return states, unavailable


def restore_generators(sources: Sequence[Source], states: dict[str, Any]) -> None:
    """Put back the states ``save_generators`` saved; a library that fails is warned about, and the others restored."""
    failed = {}
    for source in sources:
        if source.name in states:
            try:
                source.set_state(states[source.name])
            except Exception as exc:
                failed[source.name] = one_line(exc)
    warn_failures("restore", failed)


def take_snapshot(engine: Engine) -> Snapshot:
    """``engine.snapshot()``: every imported library's generators (accelerators only once initialized), the flags
    and the session."""
    states, unavailable = save_generators(engine.sources)
    return Snapshot(
        states,
        unavailable,
        session=engine.session,
        seedings=dict(engine.seedings),
        failures=dict(engine.failures),
        reach=engine.census.reaching,
        determinism=engine.determinism.save(),
    )


def restore_snapshot(engine: Engine, snapshot: Snapshot) -> None:
    """``engine.restore(snapshot)``: put back everything ``snapshot`` saved; a generator or flag that fails does not
    stop the others. A library first imported since is left as its import under the restored session would have
    left it (see ``ImportSeeding.as_if_imported_now``)."""
    if not isinstance(snapshot, Snapshot):  # a tuple of the same length is not one: nothing is changed
        raise InvalidArgumentType(
            f"restore takes a Snapshot (from seedmagic.snapshot()), not {type(snapshot).__name__}"
        )
    if engine.listeners:
        engine.tell("restoring")
    restore_generators(engine.sources, snapshot.states)
    engine.set_session(snapshot.session)
    engine.seedings, engine.failures = dict(snapshot.seedings), dict(snapshot.failures)
    if engine.census.reaching != snapshot.reach:
        engine.census.set_reach(snapshot.reach)
    engine.determinism.load(snapshot.determinism)
    newcomers = [s for s in engine.sources if s.imported() and s.name not in snapshot.imported]
    for source in newcomers:
        engine.imports.as_if_imported_now(source)
    engine.refresh_hook()
    if engine.listeners:
        engine.tell("restored")
