"""Generators from the seed in force: rng(), torch_generator(), and DataLoader workers with worker_init_fn."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from conftest import run_ok
from torch.utils.data import DataLoader, Dataset

import seedmagic
from seedmagic import derive_seed


class Noisy(Dataset):
    """Each item draws from torch, NumPy and random in whichever process loads it, like an augmentation would."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        info = torch.utils.data.get_worker_info()
        return index, torch.rand(1).item(), float(np.random.rand()), random.random(), info.id if info else -1


def load(**kwargs):
    loader = DataLoader(
        Noisy(),
        batch_size=2,
        shuffle=True,
        num_workers=2,
        worker_init_fn=seedmagic.worker_init_fn,
        generator=seedmagic.torch_generator(),
        multiprocessing_context="fork",
        **kwargs,
    )
    return [tuple(column.tolist() for column in batch) for batch in loader]


def test_torch_generator_is_seeded_like_torchs_own():
    seedmagic.seed_all(17)
    expected = torch.rand(3, generator=torch.Generator().manual_seed(17))
    assert torch.equal(torch.rand(3, generator=seedmagic.torch_generator()), expected)
    assert torch.equal(
        torch.rand(3, generator=seedmagic.torch_generator(4)), torch.rand(3, generator=torch.Generator().manual_seed(4))
    )


def test_torch_generator_needs_a_seed():
    with pytest.raises(ValueError, match="no seed"):
        seedmagic.torch_generator()
    with pytest.raises(ValueError, match="seed must be"):
        seedmagic.torch_generator(-1)


def test_dataloader_with_workers_repeats_after_reseeding():
    seedmagic.seed_all(2023)
    first = load()
    torch.rand(100)
    np.random.rand(100)
    seedmagic.seed_all(2023)
    second = load()
    assert first == second
    seedmagic.seed_all(2024)
    assert load() != first


def test_workers_draw_different_numbers():
    seedmagic.seed_all(5)
    items = [item for batch in load() for item in zip(*batch, strict=True)]
    by_worker = {}
    for _, torch_value, numpy_value, random_value, worker in items:
        by_worker.setdefault(worker, []).append((torch_value, numpy_value, random_value))
    assert set(by_worker) == {0, 1}
    first_draws = [values[0] for values in by_worker.values()]
    for library in range(3):
        assert first_draws[0][library] != first_draws[1][library]


def test_worker_init_fn_moves_the_workers_session_seed(fresh_python):
    seeds = fresh_python(
        """
        import torch, seedmagic
        seedmagic.seed_all(3)
        from torch.utils.data import DataLoader
        class Seeds(torch.utils.data.Dataset):
            def __len__(self): return 2
            def __getitem__(self, i): return seedmagic.current_seed()
        loader = DataLoader(Seeds(), batch_size=1, num_workers=2, worker_init_fn=seedmagic.worker_init_fn,
                            generator=seedmagic.torch_generator(), multiprocessing_context="fork")
        emit([int(batch) for batch in loader])
        """
    )
    assert len(set(seeds)) == 2 and 3 not in seeds


def test_reproducible_after_the_seed_magic(ip):
    ip.user_ns.update(load=load)
    run_ok(ip, "%seed 11 -q")
    first = run_ok(ip, "load()")
    run_ok(ip, "%seed 11 -q")
    assert run_ok(ip, "load()") == first


def test_rng_is_numpys_default_rng_seeded_with_the_seed_in_force(ip):
    seedmagic.seed_all(17)
    assert seedmagic.rng().random(3).tolist() == np.random.default_rng(17).random(3).tolist()
    assert seedmagic.rng(4).random() == np.random.default_rng(4).random()
    assert run_ok(ip, "%%seeded 8\nimport seedmagic\nseedmagic.rng().random()") == np.random.default_rng(8).random()
    with pytest.raises(ValueError, match="seed must be"):
        seedmagic.rng(2**32)


def test_rng_needs_a_seed():
    with pytest.raises(ValueError, match="no seed"):
        seedmagic.rng()


def test_workers_of_different_ranks_draw_different_numbers(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    seedmagic.seed_all(5)
    rank_0 = load()
    seedmagic.seed_all(5)
    assert load() == rank_0
    monkeypatch.setenv("RANK", "1")
    seedmagic.seed_all(5)
    rank_1 = load()
    assert [batch[0] for batch in rank_1] == [batch[0] for batch in rank_0]  # same shuffle: same seed, same data
    assert [batch[1:4] for batch in rank_1] != [batch[1:4] for batch in rank_0]  # different augmentations


class Words(Dataset):
    """What a worker's generators hold when it loads an item, then the first 32-bit words each one draws."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        _, keys, position, _, _ = np.random.get_state()
        return {
            "session seed": seedmagic.current_seed(),
            "torch state": torch.get_rng_state(),
            "numpy state": (keys.tolist(), position),
            "random state": random.getstate(),
            "torch words": torch.randint(0, 2**32, (8,)).tolist(),
            "numpy words": np.random.randint(0, 2**32, size=16, dtype=np.uint64).tolist(),
            "random words": [random.getrandbits(32) for _ in range(16)],
        }


def as_loaded(item):
    return item


def first_items_of_each_worker():
    loader = DataLoader(
        Words(),
        batch_size=None,
        collate_fn=as_loaded,
        num_workers=2,
        worker_init_fn=seedmagic.worker_init_fn,
        generator=seedmagic.torch_generator(),
        multiprocessing_context="fork",
    )
    return list(loader)[:2]  # items 0 and 1: the first that workers 0 and 1 load


def test_each_worker_seeds_torch_random_and_numpy_with_seeds_of_their_own():
    seedmagic.seed_all(7)
    items = first_items_of_each_worker()
    for item in items:
        seed = item["session seed"]
        # As each library's own seeding call leaves it, with a seed derived for that library.
        assert torch.equal(item["torch state"], torch.Generator().manual_seed(derive_seed(seed, "torch")).get_state())
        _, keys, position, _, _ = np.random.RandomState(derive_seed(seed, "numpy")).get_state()
        assert item["numpy state"] == (keys.tolist(), position)
        assert item["random state"] == random.Random(derive_seed(seed, "random")).getstate()
        # torch and NumPy seed MT19937 alike: with one seed, torch's 64-bit draws would be made of NumPy's words.
        torch_words, numpy_words, random_words = (set(item[f"{name} words"]) for name in ("torch", "numpy", "random"))
        assert not torch_words & numpy_words
        assert not random_words & (torch_words | numpy_words)
    assert items[0]["session seed"] != items[1]["session seed"]
    assert items[0]["numpy words"] != items[1]["numpy words"]
    seedmagic.seed_all(7)
    again = first_items_of_each_worker()
    assert [item["numpy words"] for item in again] == [item["numpy words"] for item in items]
    assert [item["torch words"] for item in again] == [item["torch words"] for item in items]


@pytest.mark.parametrize(
    "call, kind, message",
    [
        (lambda: seedmagic.torch_generator(0, device="nope"), ValueError, "torch has no generator for device='nope': "),
        (lambda: seedmagic.torch_generator(0, device=3.5), TypeError, "device must be a string or a torch.device"),
        (lambda: seedmagic.worker_init_fn("x"), TypeError, "worker_id must be a DataLoader worker's id"),
        (lambda: seedmagic.worker_init_fn(-1), ValueError, "worker_id must be a DataLoader worker's id"),
        (lambda: seedmagic.worker_init_fn(True), TypeError, "worker_id must be a DataLoader worker's id"),
        (lambda: seedmagic.rng(-1), ValueError, "seed must be between 0 and 2**32 - 1"),
    ],
    ids=["device", "device-type", "worker-str", "worker-negative", "worker-bool", "rng-seed"],
)
def test_bad_input_to_the_generator_helpers_is_one_line_and_changes_nothing(call, kind, message):
    import random

    torch.manual_seed(5)
    random.seed(5)
    before = (torch.get_rng_state(), random.getstate(), seedmagic.current_seed())
    with pytest.raises(kind) as raised:
        call()
    assert isinstance(raised.value, seedmagic.InvalidArgument)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]
    assert seedmagic.current_seed() == before[2]


def test_a_bad_seed_to_jax_key_imports_nothing(fresh_python):
    imported = fresh_python(
        """
        import sys, seedmagic
        try:
            seedmagic.jax_key(-1)
        except ValueError as error:
            said = str(error)
        emit([said, "jax" in sys.modules])
        """
    )
    assert imported[0].startswith("seed must be between 0 and 2**32 - 1") and imported[1] is False
