"""seedmagic: reproducible, visible randomness for IPython and Jupyter.

In a notebook::

    %load_ext seedmagic
    %seed 2023                  # seed random, NumPy, torch (CPU + every GPU) and TensorFlow, now and at import
    %seed                       # what was seeded, fingerprints of the generator states, determinism flags
    %seed 2023 --deterministic  # also deterministic algorithms; %seed --no-deterministic restores the flags

    %%seeded 0                  # reseed, then run the cell like any other cell
    torch.rand(1)

In a script, the same engine::

    import seedmagic
    seedmagic.seed_all(2023)
    with seedmagic.isolated():
        ...                     # every generator is put back afterwards

Importing seedmagic imports no framework; a library is only ever touched once the user has imported it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .arguments import InvalidArgument, InvalidArgumentType, derive_seed
from .engine import ENGINE
from .errors import SeedmagicWarning
from .generators import jax_key, rng, torch_generator, worker_init_fn
from .snapshots import Snapshot
from .status import SeedReport, Status

if TYPE_CHECKING:
    from . import records
    from .check_report import CheckReport

__version__ = "0.1.0"

seed_all = ENGINE.seed_all
set_deterministic = ENGINE.set_deterministic
current_seed = ENGINE.current_seed
seeded = ENGINE.seeded
snapshot = ENGINE.snapshot
restore = ENGINE.restore
isolated = ENGINE.isolated
status = ENGINE.status


def check_run(run: Callable[[], Any], seed: int | None = None, *, trace: bool = False) -> CheckReport:
    """Run ``run()`` twice from the same seed and state, as ``%%seeded SEED --check`` runs a cell, and return the
    report (``print`` it); ``trace=True`` also says where inside torch the two runs part, as ``--trace`` does."""
    from .check import run_twice

    with ENGINE.seeded(seed) as started, ENGINE.census.counting() as made:
        namespace = getattr(run, "__globals__", {})
        code = getattr(run, "__code__", None)
        _, report = run_twice(run, namespace, ENGINE.reseed, started.seed, code=code, trace=trace)
    return dataclasses.replace(report, made_without_seed=tuple(made))


def record() -> records.Record:
    """What this session's random numbers depend on, as ``%seed --record`` shows and saves it in the notebook: a
    JSON object (``seedmagic.records.Record``, schema version ``seedmagic.records.SCHEMA_VERSION``): the seed, mode and
    selection, auto mode's seed per cell, the determinism flags, thread counts, each imported library's version and
    build, and the machine. Reads only; imports nothing and starts no GPU."""
    from . import records

    return records.build(ENGINE)


def __getattr__(name: str) -> Any:
    # Sweeps are imported on first use: `%load_ext seedmagic` does not need them.
    if name in ("SeedSweep", "sweep"):
        from . import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module 'seedmagic' has no attribute {name!r}")


__all__ = [
    "InvalidArgument",
    "InvalidArgumentType",
    "SeedReport",
    "SeedSweep",
    "SeedmagicWarning",
    "Snapshot",
    "Status",
    "check_run",
    "current_seed",
    "derive_seed",
    "isolated",
    "jax_key",
    "load_ipython_extension",
    "record",
    "restore",
    "rng",
    "seed_all",
    "seeded",
    "set_deterministic",
    "snapshot",
    "status",
    "sweep",
    "torch_generator",
    "unload_ipython_extension",
    "worker_init_fn",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext seedmagic``: register ``%seed`` and ``%%seeded``."""
    from .magics import SeedMagics

    magics = SeedMagics(ipython, ENGINE)
    ipython.register_magics(magics)
    magics.start()  # the census too, where the profile asks for it (c.SeedMagics.census)
    ENGINE.refresh_hook()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext seedmagic``: remove the magics and the import hook; generators and flags stay as they are."""
    manager = ipython.magics_manager
    magics = manager.registry.pop("SeedMagics", None)
    if magics is not None:
        magics.stop()
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)
        for kind, names in magics.magics.items():
            for name in names:
                if getattr(manager.magics[kind].get(name), "__self__", None) is magics:
                    del manager.magics[kind][name]
    # What the census and --reach changed in random, NumPy and torch is put back exactly.
    ENGINE.census.set_reach(False)
    ENGINE.census.set_enabled(False)
    ENGINE.hook.uninstall()
    panel = sys.modules.get("seedmagic.panel")
    if panel is not None:
        panel.close_all(ipython)
    recorded = sys.modules.get("seedmagic.records")
    if recorded is not None:  # the record %seed --record shows is no longer updated
        recorded.stop_live(ipython.events)
