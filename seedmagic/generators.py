"""Generators seeded from the seed in force, for code in the modern style, and DataLoader workers.

Global seeding does not reach NumPy's ``default_rng()`` or a ``torch.Generator()``: ``rng()`` and
``torch_generator()`` make such generators from the seed in force (the session seed, or the cell's inside
``%%seeded`` and in auto mode), so that a seeded cell that uses them repeats too.

A DataLoader draws each epoch's base seed (and the shuffle order) from its ``generator``; every worker then seeds
torch, ``random`` and NumPy from that base seed plus its worker id. With ``generator=torch_generator()`` those draws
depend on the session seed only, not on how many random numbers the notebook drew before. ``worker_init_fn`` then
reseeds torch, ``random`` and NumPy, each from its own seed derived from the worker's, and makes the worker's own
seedmagic session follow: libraries the worker imports later are seeded too, each worker differently.
"""

from __future__ import annotations

import sys
from typing import Any

from .arguments import InvalidArgument, InvalidArgumentType, derive_seed, validate_seed
from .engine import ENGINE
from .errors import one_line
from .ranks import current_rank


def _seed_in_force(seed: int | None) -> int:
    if seed is None:
        seed = ENGINE.current_seed()
        if seed is None:
            raise InvalidArgument("no seed: set one with %seed N (or seedmagic.seed_all(N)), or pass seed=")
    return validate_seed(seed)


def rng(seed: int | None = None) -> Any:
    """A new NumPy ``Generator`` (``np.random.default_rng``) seeded with ``seed``, by default the seed in force."""
    seed = _seed_in_force(seed)  # before the import: bad input changes nothing
    import numpy

    return numpy.random.default_rng(seed)


def torch_generator(seed: int | None = None, device: Any = "cpu") -> Any:
    """A new ``torch.Generator`` seeded with ``seed``, by default the seed in force (``%seed`` or the cell's), on
    ``device`` (a string or a ``torch.device``)."""
    seed = _seed_in_force(seed)
    if not isinstance(device, str) and type(device).__name__ != "device":
        raise InvalidArgumentType(f"device must be a string or a torch.device, got {device!r}")
    import torch

    try:
        generator = torch.Generator(device=device)
    except RuntimeError as error:
        said = one_line(error).removeprefix(f"{type(error).__name__}: ")
        raise InvalidArgument(f"torch has no generator for device={str(device)!r}: {said}") from None
    return generator.manual_seed(seed)


def jax_key(seed: int | None = None) -> Any:
    """``jax.random.key(seed)``, by default with the seed in force: JAX has no global generator to seed, so a seeded
    cell that draws from this key (and keys split from it) repeats."""
    seed = _seed_in_force(seed)  # before the import: bad input imports nothing
    import jax

    return jax.random.key(seed)


def worker_init_fn(worker_id: int) -> None:
    """Seed a DataLoader worker from the seed torch gave this worker and the process's rank, so that workers (also of
    different ranks) never draw the same augmentations.

    The worker's session seed becomes S, derived from those; torch, ``random`` and NumPy are seeded with
    ``derive_seed(S, "torch")``, ``derive_seed(S, "random")`` and ``derive_seed(S, "numpy")``: torch and NumPy seed
    the same generator (MT19937) the same way, so one seed for both would make them draw the same words. The other
    libraries, and any the worker imports only later (NumPy too), are seeded with S.

    Use as ``DataLoader(..., worker_init_fn=seedmagic.worker_init_fn, generator=seedmagic.torch_generator())``.
    """
    if type(worker_id) is not int or worker_id < 0:
        error = InvalidArgumentType if type(worker_id) is not int else InvalidArgument
        raise error(f"worker_id must be a DataLoader worker's id (an int >= 0), got {worker_id!r}")
    import random

    import torch

    rank = current_rank()
    key = f"dataloader-worker:{torch.initial_seed()}:{worker_id}:rank:{rank.rank if rank else 0}"
    worker_seed = derive_seed(ENGINE.current_seed() or 0, key)
    ENGINE.seed_all(worker_seed)
    torch.manual_seed(derive_seed(worker_seed, "torch"))
    random.seed(derive_seed(worker_seed, "random"))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(derive_seed(worker_seed, "numpy"))
