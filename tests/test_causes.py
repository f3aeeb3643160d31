"""Why a cell does not reproduce: ``likely_causes`` on the notebooks made for ``seedmagic verify`` and on edge cases
(tests/test_verify.py runs each of them through ``seedmagic verify``)."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

import nbformat
import pytest

from seedmagic.notebook.causes import KINDS, RULES, WHAT, Cause, likely_causes

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERIFY = ROOT / "tests" / "notebooks" / "verify"
NOTEBOOKS = sorted(VERIFY.glob("*.ipynb"))
CAUSE_NOTEBOOKS = [p for p in NOTEBOOKS if not p.stem.startswith("control_")]
CONTROLS = [p for p in NOTEBOOKS if p.stem.startswith("control_")]

# notebook -> {differing cell: (kind, cell of the evidence, its line)}
CAUSE_AT: dict[str, dict[int, tuple[str, int, int]]] = {
    "global_generator": {1: ("global-generator", 1, 1), 2: ("global-generator", 1, 1)},
    "local_generator": {2: ("local-generator", 1, 3)},
    "clock": {3: ("clock", 1, 1)},
    "os_entropy": {2: ("os-entropy", 1, 1), 3: ("os-entropy", 3, 1)},
    "hash_order": {2: ("hash-order", 2, 1), 4: ("hash-order", 4, 1)},
    "listdir_order": {2: ("listdir-order", 2, 1)},
    "dataloader_workers": {3: ("dataloader-workers", 2, 1)},
    "gpu_kernel": {1: ("gpu-kernel", 0, 4)},
}
# Cells of the cause notebooks that repeat, and whose code shows no cause either.
QUIET = {"local_generator": [0, 3], "clock": [0, 2], "hash_order": [0, 1, 3], "global_generator": [0]}


def read(path: pathlib.Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def sources(notebook: nbformat.NotebookNode) -> list[str | None]:
    return [cell.source if cell.cell_type == "code" else None for cell in notebook.cells]


def expected(path: pathlib.Path) -> dict[str, Any]:
    return read(path).metadata["seedmagic_test"]


def causes(*cells: str | None, index: int = -1) -> list[Cause]:
    return likely_causes(list(cells), index % len(cells))


def kinds(*cells: str | None, index: int = -1) -> list[str]:
    return [cause.kind for cause in causes(*cells, index=index)]


# -- the notebooks ------------------------------------------------------------------------------------------------


def test_notebooks_are_what_make_notebooks_writes_and_cover_every_kind():
    spec = importlib.util.spec_from_file_location("make_notebooks", VERIFY / "make_notebooks.py")
    assert spec and spec.loader
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    assert sorted(maker.NOTEBOOKS) == sorted(p.stem for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        assert maker.build(path.stem) == read(path), f"{path.name} is stale: run make_notebooks.py"
    assert sorted(expected(p)["cause"] for p in CAUSE_NOTEBOOKS) == sorted(KINDS)
    assert len(CONTROLS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_v4_5_with_ids_and_says_what_to_expect(path):
    notebook = read(path)
    nbformat.validate(notebook)
    assert (notebook.nbformat, notebook.nbformat_minor) >= (4, 5)
    assert all(cell.get("id") for cell in notebook.cells)
    expect = notebook.metadata["seedmagic_test"]
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    assert code == list(range(len(code))), "code cells first: a cell's index is also its index among code cells"
    assert set(expect["differs"]) <= set(code)
    if expect["cause"] is None:
        assert expect["differs"] == []
    else:
        assert expect["cause"] in KINDS
        assert sorted(CAUSE_AT[path.stem]) == expect["differs"]


@pytest.mark.parametrize("path", CAUSE_NOTEBOOKS, ids=lambda p: p.stem)
def test_each_differing_cell_is_explained_first_by_its_cause_at_the_right_place(path):
    cells = sources(read(path))
    for index, (kind, cell, line) in CAUSE_AT[path.stem].items():
        found = likely_causes(cells, index)
        assert found, f"cell {index}: no cause"
        first = found[0]
        assert (first.kind, first.cell, first.line) == (kind, cell, line), [str(c) for c in found]
        assert first.evidence == cells[cell].splitlines()[line - 1].strip()
        assert first.fix
    for index in QUIET.get(path.stem, []):
        assert likely_causes(cells, index) == [], index


@pytest.mark.parametrize("path", CONTROLS, ids=lambda p: p.stem)
def test_controls_show_no_cause_in_any_cell(path):
    cells = sources(read(path))
    for index in range(len(cells)):
        assert likely_causes(cells, index) == [], (index, [str(c) for c in likely_causes(cells, index)])


def test_the_fixes_say_what_the_issue_says():
    by_kind = {kind: [cause.fix for cause in found] for kind, found in _first_causes().items()}
    assert "%seed" in by_kind["global-generator"][0]
    assert "seedmagic.rng()" in by_kind["local-generator"][0]
    assert "PYTHONHASHSEED" in by_kind["hash-order"][0]
    assert "sorted(" in by_kind["listdir-order"][0]
    assert "worker_init_fn=seedmagic.worker_init_fn" in by_kind["dataloader-workers"][0]
    assert "generator=seedmagic.torch_generator()" in by_kind["dataloader-workers"][0]
    assert "--deterministic" in by_kind["gpu-kernel"][0]


def _first_causes() -> dict[str, list[Cause]]:
    found: dict[str, list[Cause]] = {}
    for path in CAUSE_NOTEBOOKS:
        cells = sources(read(path))
        for index in CAUSE_AT[path.stem]:
            found.setdefault(expected(path)["cause"], []).append(likely_causes(cells, index)[0])
    return found


def test_a_cause_reads_as_one_line_with_the_place_and_the_fix():
    cause = causes("import numpy as np", "rng = np.random.default_rng()", "# notes", "rng.random()")[0]
    assert cause == Cause("local-generator", 1, 1, "rng = np.random.default_rng()", cause.fix)
    text = str(cause)
    assert "\n" not in text
    assert text.startswith("cell 2, line 1: rng = np.random.default_rng()")
    assert "local-generator" in text and cause.fix in text
    with pytest.raises(AttributeError):
        cause.kind = "clock"  # type: ignore[misc]


def test_every_rule_is_of_a_known_kind_and_every_kind_has_a_rule_and_a_description():
    assert {rule.kind for rule in RULES} == set(KINDS) == set(WHAT)


# -- edge cases ---------------------------------------------------------------------------------------------------


def test_import_aliases_are_followed_across_cells():
    assert kinds("import numpy as npy", "npy.random.normal()") == ["global-generator"]
    assert kinds("from numpy import random as r", "r.choice([1, 2])") == ["global-generator"]
    assert kinds("from numpy.random import default_rng as make", "g = make()\ng.random()") == ["local-generator"]
    assert kinds("import torch.utils.data as tud", "tud.DataLoader(ds, num_workers=4)") == ["dataloader-workers"]
    assert kinds("from torch import nn", "nn.Linear(2, 3)") == ["global-generator"]
    assert kinds("import torch", "randn = torch.randn", "randn(3)") == ["global-generator"]
    # a name that merely looks like a module is not one
    assert kinds("rng = object()", "random.random()") == ["global-generator"]
    assert kinds("import numpy as np\nrng = np.random.default_rng(0)", "rng.random()") == []


def test_star_imports_resolve_the_names_they_bring():
    assert kinds("from numpy.random import *", "rand(2)") == ["global-generator"]
    assert kinds("from numpy.random import *", "default_rng()") == ["local-generator"]
    assert kinds("from os import *", "print(listdir('.'))") == ["listdir-order"]
    assert kinds("from os import *", "print(sorted(listdir('.')))") == []
    assert kinds("from math import *", "sqrt(2)") == []


def test_magics_and_shell_lines_parse_and_seed():
    assert kinds("%load_ext seedmagic\n!ls\nx = !ls\n%time y = 1\nimport numpy as np\nnp.random.rand()") == [
        "global-generator"
    ]
    assert kinds("%load_ext seedmagic\n%seed 0", "import numpy as np\nnp.random.rand()") == []
    assert kinds("%seed 0 --auto", "import torch\ntorch.rand(1)") == []
    assert kinds("%%seeded 0\nimport torch\ntorch.rand(1)") == []
    assert kinds("%%seeded\nimport torch\ntorch.rand(1)") == []
    assert kinds("import torch\n%seeded 1\ntorch.rand(1)") == []
    assert kinds("%seed 0 --only torch", "import numpy as np\nnp.random.rand()") == ["global-generator"]
    assert kinds("%seed 0 --skip numpy", "import numpy as np\nnp.random.rand()") == ["global-generator"]
    assert kinds("%seed --random", "import numpy as np\nprint(np.random.rand())") == ["global-generator"]
    assert kinds("%seed --random\nimport numpy as np\nprint(np.random.rand())")[0] == "os-entropy"
    # the body of a Python cell magic is read, its line numbers counted from the magic's line
    found = causes("%%capture out\nimport numpy as np\nrng = np.random.default_rng()")
    assert [(c.kind, c.line) for c in found] == [("local-generator", 3)]
    assert causes("\n%%time\nimport os\nos.listdir('.')")[0].line == 4
    assert causes("\n  \nimport os\nos.listdir('.')")[0].line == 4  # IPython drops leading blank lines
    assert causes("%%time\n\nimport os\nos.listdir('.')")[0].line == 4
    assert causes("import os\nx = 1 + \\\n    2\n%time y = 3\n!ls\nos.listdir('.')")[0].line == 6
    assert kinds("%%bash\nls | python -c 'import os; os.listdir()'") == []
    assert kinds("%%writefile x.py\nimport os\nprint(os.listdir('.'))") == []


def test_cells_that_do_not_parse_are_skipped_and_nothing_raises():
    assert kinds("def broken(:", "import numpy as np\nnp.random.rand()") == ["global-generator"]
    assert kinds("import numpy as np\nnp.random.seed(0)", "def broken(:") == []
    assert kinds("import numpy as np\nrng = np.random.default_rng()", "for x in rng.random(3) print(x)") == []
    odd = ["", "   ", "%%", "%", "!", "?", "x?", "\x00", "é = 1", "await x", "yield", "return 1", "import", "%%seeded"]
    odd += ["%%seeded 0", "class A:\n  def f(self): return self.seed()", "lambda: 0", "seed()", "a.b.c.d()", "f()()"]
    odd += ["hash()", "hash(*a)", "set(*a)", "{*a}", "print(*{'a'})", "x = y = os.listdir()", "[os.listdir()][0]"]
    for cell in odd:
        likely_causes([cell], 0)
        likely_causes([cell, "import numpy as np\nprint(np.random.rand())"], 1)
        likely_causes(["import numpy as np", cell], 1)
    assert likely_causes(["import numpy as np", None, "np.random.rand()"], 1) == []
    assert likely_causes(["np.random.rand()"], 5) == []
    assert likely_causes(["np.random.rand()"], -1) == []
    assert likely_causes([], 0) == []


def test_project_notebooks_are_read_without_error():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = sources(read(path))
        for index in range(len(cells)):
            for cause in likely_causes(cells, index):
                assert cause.kind in KINDS and 0 <= cause.cell <= index and cause.line >= 1


def test_a_cause_in_an_earlier_cell_is_found_through_the_names_the_cell_uses():
    found = causes(
        "import numpy as np\nimport time",
        "rng = np.random.default_rng()\nstamp = time.time()",
        "unrelated = 1",
        "values = rng.random(3)",
        "print(values.round(3))",
    )
    assert [(c.kind, c.cell, c.line) for c in found] == [("local-generator", 1, 1)]  # not the clock: stamp is unused
    # a later rebinding hides the earlier one
    assert (
        kinds("import numpy as np\nrng = np.random.default_rng()", "rng = np.random.default_rng(1)", "rng.random()")
        == []
    )
    # a function defined earlier runs when called: the seed before the call counts
    assert kinds("import random\ndef roll():\n    return random.random()", "random.seed(1)", "roll()") == []
    assert kinds("import random\ndef roll():\n    return random.random()", "roll()") == ["global-generator"]
    # changed in place: data.append(...) in an earlier cell
    assert kinds("import time\ndata = []", "data.append(time.time())", "print(data)") == ["clock"]
    # the variables of a comprehension or a function are their own, not the notebook's
    assert kinds("import time\nt = time.time()", "print([t for t in range(3)])") == []
    assert kinds("import time\nt = time.time()", "def f(t):\n    return t\nprint(f(1))") == []
    assert kinds("import time\ndef stamp():\n    t = time.time()\n    return t", "t = 1\nprint(t)") == []
    # shuffled in place by an earlier cell
    assert kinds("import numpy as np\nx = np.arange(5)", "np.random.shuffle(x)", "print(x)") == ["global-generator"]
    assert kinds("import numpy as np\nx = np.arange(5)", "np.random.shuffle(np.arange(3))", "print(x)") == []
    # names chained through several cells
    assert kinds("import uuid", "key = uuid.uuid4()", "name = f'run-{key}'", "print(name)") == ["os-entropy"]


def test_most_specific_first_and_the_differing_cell_before_earlier_ones():
    found = causes(
        "import numpy as np\nimport os\nrng = np.random.default_rng()",
        "print(np.random.rand(), rng.random(), os.listdir('.'))",
    )
    assert [(c.kind, c.cell) for c in found] == [("local-generator", 0), ("global-generator", 1), ("listdir-order", 1)]
    found = causes("import time\nt = time.time()", "import time\nprint(t, time.time())")
    assert [(c.kind, c.cell) for c in found] == [("clock", 1), ("clock", 0)]


def test_sorted_listings_are_not_flagged():
    assert kinds("import os", "print(sorted(os.listdir('.')))") == []
    assert kinds("import os", "print(sorted(f for f in os.listdir('.') if f.endswith('.py')))") == []
    assert kinds("import os", "print(len(os.listdir('.')))") == []
    assert kinds("import os", "files = os.listdir('.')\nfiles.sort()\nprint(files)") == []
    assert kinds("from pathlib import Path", "print(sorted(Path('.').glob('*.py')))") == []
    assert kinds("from pathlib import Path", "print(list(Path('.').iterdir()))") == ["listdir-order"]
    assert kinds("import glob", "for f in glob.glob('*'):\n    print(f)") == ["listdir-order"]
    assert kinds("import os", "for root, dirs, files in os.walk('.'):\n    print(files)") == ["listdir-order"]


def test_seeded_generators_are_not_flagged_and_unseeded_ones_are():
    assert kinds("import numpy as np", "np.random.default_rng(0).random()") == []
    assert kinds("import numpy as np", "np.random.default_rng(seed=42).random()") == []
    assert kinds("import numpy as np\nSEED = 3", "np.random.default_rng(SEED).random()") == []
    assert kinds("import seedmagic\n%seed 0", "seedmagic.rng().random()") == []
    assert kinds("import numpy as np", "np.random.default_rng(None).random()") == ["local-generator"]
    assert kinds("import numpy as np", "np.random.Generator(np.random.PCG64()).random()") == ["local-generator"]
    assert kinds("import numpy as np", "np.random.RandomState().rand()") == ["local-generator"]
    assert kinds("import random", "random.Random().random()") == ["local-generator"]
    assert kinds("import random", "random.Random(1).random()") == []
    assert kinds("import torch", "g = torch.Generator()\ng.seed()\ntorch.rand(2, generator=g)") == ["local-generator"]
    assert kinds("import torch", "g = torch.Generator()\ntorch.rand(2, generator=g)") == []  # a fixed default seed
    assert kinds("import seedmagic", "import torch\ntorch.rand(2, generator=seedmagic.torch_generator())") == []
    assert kinds("import time\nimport numpy as np", "np.random.default_rng(int(time.time())).random()") == ["clock"]


def test_seeding_before_a_draw_suppresses_global_generator_and_only_for_what_it_seeds():
    assert kinds("import numpy as np\nnp.random.seed(0)", "np.random.rand()") == []
    assert kinds("import numpy as np", "np.random.rand()\nnp.random.seed(0)") == ["global-generator"]
    assert kinds("import random\nimport numpy as np\nrandom.seed(0)", "np.random.rand()") == ["global-generator"]
    assert kinds("import torch\ntorch.manual_seed(0)", "torch.randperm(4)") == []
    assert kinds("import lightning as L\nL.seed_everything(7)", "import torch\ntorch.nn.Linear(2, 2)") == []
    assert kinds("from transformers import set_seed\nset_seed(1)", "import random\nrandom.random()") == []
    assert kinds("import tensorflow as tf\ntf.random.set_seed(1)", "tf.random.uniform((2,))") == []
    assert kinds("import tensorflow as tf\ntf.random.set_seed(1)", "import numpy as np\nnp.random.rand()") != []
    assert kinds("import keras\nkeras.utils.set_random_seed(1)", "import numpy as np\nnp.random.rand()") == []
    assert kinds("import seedmagic\nseedmagic.seed_all(3)", "import random\nrandom.random()") == []
    assert kinds("import random", "with seedmagic.seeded(3):\n    random.random()") == []
    # a seeding function of the notebook's own counts where it is called
    seeding = "import random, numpy as np\ndef fix(s):\n    random.seed(s)\n    np.random.seed(s)"
    assert kinds(seeding, "fix(0)", "np.random.rand()") == []
    assert kinds(seeding, "np.random.rand()") == ["global-generator"]
    # no seed given: a seed from OS entropy, a cause of its own
    assert kinds("import random\nrandom.seed()", "random.random()") == ["global-generator"]
    assert kinds("import lightning as L\nL.seed_everything()", "import torch\ntorch.rand(1)") == ["global-generator"]
    assert kinds("import torch\ntorch.seed()\nprint(torch.rand(1))") == ["global-generator"]


def test_scikit_learn_draws_from_numpy_without_a_random_state():
    split = "from sklearn.model_selection import train_test_split"
    assert kinds(split, "a, b = train_test_split(data)\nprint(a)") == ["global-generator"]
    assert kinds(split, "a, b = train_test_split(data, random_state=0)\nprint(a)") == []
    assert kinds(split + "\nimport numpy as np\nnp.random.seed(0)", "a, b = train_test_split(data)") == []


def test_torch_draws_layers_and_tensor_methods():
    assert kinds("import torch\nimport torch.nn as nn", "nn.Conv2d(1, 1, 3)") == ["global-generator"]
    assert kinds("import torch.nn as nn", "nn.ReLU()") == []
    assert kinds("import torch", "w = torch.empty(3)\nw.normal_()") == ["global-generator"]
    assert kinds("import torch", "torch.nn.init.kaiming_uniform_(w)") == ["global-generator"]
    assert kinds("import torch.nn.functional as F", "F.dropout(x, 0.5)") == ["global-generator"]
    net = "import torch\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n"
    net += "        super().__init__()\n        self.fc = nn.Linear(2, 2)"
    assert [(c.kind, c.cell, c.line) for c in causes(net, "model = Net()\nprint(model.fc.weight)")] == [
        ("global-generator", 0, 6)
    ]
    assert kinds(net, "torch.manual_seed(0)\nmodel = Net()\nprint(model.fc.weight)") == []


def test_dataloader_workers():
    head = "import torch\nfrom torch.utils.data import DataLoader"
    assert kinds(head, "DataLoader(ds, num_workers=2)") == ["dataloader-workers"]
    assert kinds(head, "DataLoader(ds, num_workers=n)") == ["dataloader-workers"]
    assert kinds(head, "DataLoader(ds, num_workers=2, worker_init_fn=seedmagic.worker_init_fn)") == [
        "dataloader-workers"
    ]
    assert kinds(head, "DataLoader(ds, num_workers=2, generator=seedmagic.torch_generator())") == []
    assert kinds(head, "DataLoader(ds, num_workers=0)") == []
    assert kinds(head, "DataLoader(ds)") == []
    assert kinds(head + "\ntorch.manual_seed(0)", "DataLoader(ds, num_workers=2)") == []
    assert kinds(head + "\ntorch.manual_seed(0)", "DataLoader(ds, num_workers=2, in_order=False)") == [
        "dataloader-workers"
    ]
    assert kinds(head, "DataLoader(ds, shuffle=True)") == ["global-generator"]
    assert kinds(head, "DataLoader(ds, shuffle=True, generator=g)") == []


def test_gpu_work_without_deterministic_mode():
    assert kinds("import torch", "x = torch.ones(3).cuda()\nx.sum()") == ["gpu-kernel"]
    assert kinds("import torch", "x = torch.ones(3, device='cuda:0')") == ["gpu-kernel"]
    assert kinds("import torch", "x = torch.ones(3).to('cuda')") == ["gpu-kernel"]
    assert kinds(
        "import torch\ndevice = 'cuda' if torch.cuda.is_available() else 'cpu'", "torch.ones(3).to(device)"
    ) == ["gpu-kernel"]
    assert kinds("import torch", "torch.cuda.is_available()") == []
    assert kinds("%seed 0 --deterministic", "import torch\ntorch.ones(3).cuda()") == []
    assert kinds("%seed --deterministic", "import torch\ntorch.ones(3).cuda()") == []
    assert kinds("import torch\ntorch.use_deterministic_algorithms(True)", "torch.ones(3).cuda()") == []
    assert kinds("import torch\ntorch.use_deterministic_algorithms(False)", "torch.ones(3).cuda()") == ["gpu-kernel"]
    assert kinds("import seedmagic\nseedmagic.seed_all(0, deterministic=True)", "x.cuda()") == []


def test_sets_of_strings_shown_or_iterated():
    assert kinds("s = {'a', 'b', 'c'}", "print(s)") == ["hash-order"]
    assert kinds("s = {'a', 'b', 'c'}", "for x in s:\n    print(x)") == ["hash-order"]
    assert kinds("words = ['a', 'b']", "list(set(words))") == ["hash-order"]
    assert kinds("words = ['a', 'b']", "[w.upper() for w in set(words)]") == ["hash-order"]
    assert kinds("a = set('xy')\nb = {'z'}", "print(a | b)") == ["hash-order"]
    assert kinds("s = frozenset(['a', 'b'])", "s") == ["hash-order"]
    assert kinds("s = {'a', 'b'}", "f'{s}'") == ["hash-order"]
    assert kinds("s = {'a', 'b'}", "s;") == []
    assert kinds("s = {'a', 'b'}", "print(sorted(s), len(s), 'a' in s)") == []
    assert kinds("s = {1, 2, 3}", "print(s)") == []
    assert kinds("print(set(range(5)))") == []
    assert kinds("print({x - 1 for x in data}, {len(w) for w in words}, {1, -2, 3 * 4})") == []
    assert kinds("print({w.lower() for w in words})") == ["hash-order"]
    assert kinds("hash('text')") == ["hash-order"]
    assert kinds("hash(3)") == []


def test_clock_and_os_entropy():
    assert kinds("import datetime", "print(datetime.datetime.now())") == ["clock"]
    assert kinds("from datetime import date", "print(date.today())") == ["clock"]
    assert kinds("import time", "print(time.strftime('%H:%M'))") == ["clock"]
    assert kinds("import time", "print(time.strftime('%H:%M', time.gmtime(0)))") == []
    assert kinds("import os", "os.urandom(4)") == ["os-entropy"]
    assert kinds("import secrets", "secrets.choice('abc')") == ["os-entropy"]
    assert kinds("import random", "random.SystemRandom().random()") == ["os-entropy"]
    assert kinds("import uuid", "uuid.uuid5(uuid.NAMESPACE_DNS, 'x')") == []


def test_gpu_kernel_notebook_is_diagnosed_without_a_gpu():
    cells = sources(read(VERIFY / "gpu_kernel.ipynb"))
    found = likely_causes(cells, 1)
    assert [(c.kind, c.cell, c.line) for c in found] == [("gpu-kernel", 0, 4)]
    assert found[0].evidence == 'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")'
    cells[0] = "%seed 0 --deterministic\n" + cells[0]  # type: ignore[operator]
    assert likely_causes(cells, 1) == []
