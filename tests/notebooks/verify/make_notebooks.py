"""Writes the notebooks that ``seedmagic verify`` and its cause finder are tested on: ``python make_notebooks.py``.

One notebook per cause that really does not reproduce when run twice in fresh kernels, and controls that do. Each
notebook's metadata says what to expect: ``{"seedmagic_test": {"cause": KIND or None, "differs": [...]}}``, where
``differs`` lists the indices (into the notebook's cells, which are also the code cells' indices: the one markdown
cell comes last) of the cells whose outputs differ between two runs. ``"needs": "cuda"``: differs only on a GPU.

The kernels must be started without PYTHONHASHSEED in their environment (hash_order.ipynb), and listdir_order.ipynb
needs /dev/shm (tmpfs, which lists a directory in creation order; ext4 lists it in hash order, the same every run).
"""

from __future__ import annotations

import pathlib
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent

SEED = "%load_ext seedmagic\n%seed 0"

WORDS = 'words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "wizards", "watch"]'

WRITERS = """\
# Twelve processes write their parts at once, each taking its own time (as downloads do): which finishes first varies.
work = "import random, sys, time\\ntime.sleep(random.random() / 20)\\nopen(sys.argv[1], 'w').close()"
workers = [subprocess.Popen([sys.executable, "-c", work, os.path.join(out, f"part-{i:02d}.csv")]) for i in range(12)]
print(sum(worker.wait() for worker in workers), "workers failed")"""

LISTDIR_SETUP = """\
import os
import shutil
import subprocess
import sys
import tempfile

# tmpfs lists a directory in the order its files were made (ext4 in hash order, the same every run)
out = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)"""

DATASET = """\
class Augmented(Dataset):
    \"\"\"Eight samples, each with a random augmentation drawn from NumPy's global generator.\"\"\"

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return i * 1000 + np.random.randint(1000)"""

NOTEBOOKS: dict[str, dict[str, Any]] = {
    "global_generator": {
        "cause": "global-generator",
        "differs": [1, 2],
        "about": "NumPy's global generator, never seeded: cell 2 draws from it and cell 3 shows what came of it.",
        "cells": [
            "import numpy as np",
            "x = np.random.rand(3)\nprint(x.round(6))",
            "print(round(float(x.sum()), 6))",
        ],
    },
    "local_generator": {
        "cause": "local-generator",
        "differs": [2],
        "about": "`%seed 0` seeds the global generators, not `np.random.default_rng()`, which takes OS entropy: "
        "cell 3 draws from it; cell 4 draws from the seeded global generator and repeats.",
        "cells": [
            SEED,
            "import numpy as np\n\nrng = np.random.default_rng()",
            "print(rng.integers(0, 1_000_000, size=4))",
            "print(np.random.rand(2).round(6))",
        ],
    },
    "clock": {
        "cause": "clock",
        "differs": [3],
        "about": "Cell 2 reads the clock; cell 3 prints the sum it computed (the same every run), cell 4 the time.",
        "cells": [
            "import time\nfrom datetime import datetime",
            "started = datetime.now()\nt0 = time.perf_counter()\ntotal = sum(i * i for i in range(100_000))\n"
            "elapsed = time.perf_counter() - t0",
            'print(f"sum of squares: {total}")',
            'print(f"started {started:%Y-%m-%d %H:%M:%S.%f}, took {elapsed:.9f} s")',
        ],
    },
    "os_entropy": {
        "cause": "os-entropy",
        "differs": [2, 3],
        "about": "A run id from `uuid.uuid4()` and a token from `secrets`: both read OS entropy.",
        "cells": [
            "import uuid\nfrom secrets import token_hex",
            "run_id = uuid.uuid4()",
            'print("run", run_id)',
            "token_hex(8)",
        ],
    },
    "hash_order": {
        "cause": "hash-order",
        "differs": [2, 4],
        "about": "A set of strings iterates in the order of their hashes, which differ from process to process "
        "unless PYTHONHASHSEED is set before the kernel starts; `sorted` repeats.",
        "cells": [
            WORDS,
            'vocab = set(words)\nprint(len(vocab), "distinct words")',
            'print(" ".join(vocab))',
            'print(" ".join(sorted(vocab)))',
            'hash("seedmagic") % 1_000_000',
        ],
    },
    "listdir_order": {
        "cause": "listdir-order",
        "differs": [2],
        "about": "Parallel workers write their parts to a fresh directory; `os.listdir` lists them in the order they "
        "were written, which varies; `sorted` repeats.",
        "cells": [
            LISTDIR_SETUP,
            WRITERS,
            "parts = os.listdir(out)\nprint(parts)",
            "print(sorted(parts))\nshutil.rmtree(out)",
        ],
    },
    "dataloader_workers": {
        "cause": "dataloader-workers",
        "differs": [3],
        "about": "`random` and NumPy are seeded, torch is not: each DataLoader worker reseeds NumPy from a base seed "
        "that torch's unseeded generator draws, so the augmentations differ from run to run.",
        "cells": [
            "import random\n\nimport numpy as np\nfrom torch.utils.data import DataLoader, Dataset\n\n"
            "random.seed(0)\nnp.random.seed(0)  # torch is not seeded",
            DATASET,
            'loader = DataLoader(Augmented(), batch_size=4, num_workers=2, multiprocessing_context="fork")',
            "print([batch.tolist() for batch in loader])",
        ],
    },
    "gpu_kernel": {
        "cause": "gpu-kernel",
        "differs": [1],
        "needs": "cuda",
        "about": "`index_add_` on a GPU adds with atomics, in an order that varies: the float sums differ in their "
        "last bits (on a CPU they repeat).",
        "cells": [
            "import torch\n\ntorch.manual_seed(0)\n"
            'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")',
            "values = torch.rand(1_000_000, device=device)\nbins = torch.randint(0, 10, (1_000_000,), device=device)\n"
            "totals = torch.zeros(10, device=device).index_add_(0, bins, values)\nprint(totals.tolist())",
        ],
    },
    "control_seeded": {
        "cause": None,
        "differs": [],
        "about": "`%seed 0` seeds `random` and NumPy (imported after it): every draw repeats.",
        "cells": [
            SEED,
            "import random\n\nimport numpy as np",
            "print(random.random(), np.random.rand(3).round(6))",
        ],
    },
    "control_rng": {
        "cause": None,
        "differs": [],
        "about": "Generators made from a seed repeat: `seedmagic.rng()` (the seed in force) and `default_rng(2024)`.",
        "cells": [
            SEED,
            "import numpy as np\n\nimport seedmagic\n\nrng = seedmagic.rng()\nfixed = np.random.default_rng(2024)",
            "print(rng.integers(0, 1_000_000, size=4), fixed.random(2).round(6))",
        ],
    },
    "control_sorted_listdir": {
        "cause": None,
        "differs": [],
        "about": "The same parallel writers as listdir_order.ipynb, the listing sorted: it repeats.",
        "cells": [
            LISTDIR_SETUP,
            WRITERS,
            "parts = sorted(os.listdir(out))\nprint(parts)",
            "files = os.listdir(out)\nfiles.sort()\nprint(files[:3])\nshutil.rmtree(out)",
        ],
    },
    "control_sorted_set": {
        "cause": None,
        "differs": [],
        "about": "Sets shown in an order that does not depend on str hashes: sorted, or of small ints.",
        "cells": [
            WORDS,
            "vocab = set(words)\nprint(sorted(vocab), len(vocab))",
            "{3, 1, 2}",
        ],
    },
    "control_dataloader": {
        "cause": None,
        "differs": [],
        "about": "The DataLoader of dataloader_workers.ipynb with seedmagic's worker seeding: it repeats.",
        "cells": [
            SEED,
            "import numpy as np\nfrom torch.utils.data import DataLoader, Dataset\n\nimport seedmagic",
            DATASET,
            "loader = DataLoader(\n    Augmented(),\n    batch_size=4,\n    num_workers=2,\n"
            '    multiprocessing_context="fork",\n    worker_init_fn=seedmagic.worker_init_fn,\n'
            "    generator=seedmagic.torch_generator(),\n)",
            "print([batch.tolist() for batch in loader])",
        ],
    },
}


def build(name: str) -> nbformat.NotebookNode:
    spec = NOTEBOOKS[name]
    expect = {"cause": spec["cause"], "differs": spec["differs"]}
    if "needs" in spec:
        expect["needs"] = spec["needs"]
    cells = [new_code_cell(source, id=f"{name}-{i}") for i, source in enumerate(spec["cells"])]
    title = f"# {name}.ipynb\n\n{spec['about']}\n\nExpected: {expect}"
    cells.append(new_markdown_cell(title, id=f"{name}-about"))
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return new_notebook(cells=cells, metadata={"kernelspec": kernelspec, "seedmagic_test": expect})


def main() -> None:
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
