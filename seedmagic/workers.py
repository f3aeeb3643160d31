"""Reproducible torch DataLoaders: a seeded ``generator=`` and a ``worker_init_fn`` for worker processes.

A DataLoader draws each epoch's base seed (and the shuffle order) from its ``generator``; every worker then seeds
torch, ``random`` and NumPy from that base seed plus its worker id. With ``generator=torch_generator()`` those draws
depend on the session seed only, not on how many random numbers the notebook drew before. ``worker_init_fn`` then
makes the worker's own seedmagic session follow: libraries the worker imports later are seeded too, each worker
differently.
"""

from __future__ import annotations

from typing import Any

from .engine import ENGINE, derive_seed, validate_seed


def torch_generator(seed: int | None = None, device: str = "cpu") -> Any:
    """A new ``torch.Generator`` seeded with ``seed``, by default the seed in force (``%seed`` or the cell's)."""
    import torch

    if seed is None:
        seed = ENGINE.current_seed()
        if seed is None:
            raise ValueError("no seed: set one with %seed N (or seedmagic.seed_all(N)), or pass seed=")
    return torch.Generator(device=device).manual_seed(validate_seed(seed))


def worker_init_fn(worker_id: int) -> None:
    """Seed a DataLoader worker's ``random``, NumPy and later imports from the seed torch gave this worker.

    Use as ``DataLoader(..., worker_init_fn=seedmagic.worker_init_fn, generator=seedmagic.torch_generator())``.
    torch's own generator in the worker keeps the seed the DataLoader gave it.
    """
    import torch

    worker_seed = derive_seed(ENGINE.current_seed() or 0, f"dataloader-worker:{torch.initial_seed()}:{worker_id}")
    ENGINE.seed_all(worker_seed, skip="torch")
