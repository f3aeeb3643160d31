"""Why a cell does not reproduce: ``likely_causes`` on the notebooks made for ``seedmagic verify`` and on edge cases
(tests/test_verify.py runs each of them through ``seedmagic verify``)."""

from __future__ import annotations

import importlib.util
import pathlib
from typing import Any

import nbformat
import pytest

from seedmagic.notebook.causes import KINDS, RULES, WHAT, Cause, cells_used, gpu_visible, likely_causes

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


def causes(*cells: str | None, index: int = -1, **given: Any) -> list[Cause]:
    return likely_causes(list(cells), index % len(cells), **given)


def kinds(*cells: str | None, index: int = -1, **given: Any) -> list[str]:
    return [cause.kind for cause in causes(*cells, index=index, **given)]


def where(*cells: str | None, index: int = -1, **given: Any) -> list[tuple[str, int, int, str]]:
    """(kind, cell, line, fix) of each cause: what the report says, less the evidence line (the cell's own text)."""
    return [(c.kind, c.cell, c.line, c.fix) for c in causes(*cells, index=index, **given)]


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
    gpu = expected(path).get("needs") == "cuda" or None  # it differs only on a GPU: a run that differs had one
    for index, (kind, cell, line) in CAUSE_AT[path.stem].items():
        found = likely_causes(cells, index, gpu=gpu)
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
        gpu = expected(path).get("needs") == "cuda" or None
        for index in CAUSE_AT[path.stem]:
            found.setdefault(expected(path)["cause"], []).append(likely_causes(cells, index, gpu=gpu)[0])
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


def test_gpu_work_without_deterministic_mode(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # this machine shows no GPU: whether the run had one is not known
    assert not gpu_visible()
    assert kinds("import torch", "x = torch.ones(3).cuda()\nx.sum()") == ["gpu-kernel"]
    assert kinds("import torch", "x = torch.ones(3, device='cuda:0')") == ["gpu-kernel"]
    assert kinds("import torch", "x = torch.ones(3).to('cuda')") == ["gpu-kernel"]
    assert kinds("import torch", "torch.cuda.is_available()") == []
    # cuda only where there is one: no evidence of a GPU, no GPU cause
    either = ("import torch\ndevice = 'cuda' if torch.cuda.is_available() else 'cpu'", "torch.ones(3).to(device)")
    assert kinds(*either) == []
    assert kinds("import torch", "if torch.cuda.is_available():\n    x = torch.ones(3).cuda()") == []
    assert kinds("import torch", "use = torch.cuda.is_available() and 'cuda'\ntorch.ones(3).to(use)") == []
    # evidence: the run had a GPU, or its outputs show a cuda device
    assert kinds(*either, gpu=True) == ["gpu-kernel"]
    assert kinds(*either, outputs=["tensor([1., 1., 1.], device='cuda:0')"]) == ["gpu-kernel"]
    assert kinds(*either, outputs=["device(type='cuda', index=0)"]) == ["gpu-kernel"]
    assert kinds(*either, outputs=["Using device: cuda\n"]) == ["gpu-kernel"]
    assert kinds(*either, outputs=["cpu\n", "tensor([1., 1., 1.])", "CUDA available: False"]) == []
    # a run without a GPU has no GPU cause, whatever the code says; a comparison uses no GPU
    assert kinds("import torch", "x = torch.ones(3).cuda()", gpu=False) == []
    assert kinds("import torch", "x = torch.ones(3)\nif x.device.type == 'cuda':\n    print(x)", gpu=True) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert not gpu_visible()
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


def test_gpu_kernel_notebook_is_diagnosed_where_the_run_had_a_gpu():
    cells = sources(read(VERIFY / "gpu_kernel.ipynb"))
    found = likely_causes(cells, 1, gpu=True)
    assert [(c.kind, c.cell, c.line) for c in found] == [("gpu-kernel", 0, 4)]
    assert found[0].evidence == 'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")'
    assert likely_causes(cells, 1, gpu=False) == []  # on a CPU it repeats: "cuda" is only where there is one
    cells[0] = "%seed 0 --deterministic\n" + cells[0]  # type: ignore[operator]
    assert likely_causes(cells, 1, gpu=True) == []


# -- issue 31: causes that are right ------------------------------------------------------------------------------

FIX_SEED = "seed first: %seed N (or %seed N --auto)"
FIX_STATE = "pass random_state=SEED, or %seed N"
FIX_EVAL = "call model.eval() before inference (dropout draws in train mode), or %seed N"
FIX_ADDRESS = "keep the objects in a list, or sort them: sorted(s, key=...)"


def test_a_set_put_in_order_before_it_shows_is_not_a_cause():
    assert kinds("text = 'hello'", "chars = sorted(list(set(text)))\nprint(chars)") == []
    for ordered in (
        "sorted(set(words))",
        "sorted(tuple(set(words)))",
        "sorted([*set(words)])",
        "len(list(set(words)))",
        "sorted(w.upper() for w in set(words))",
        "{w.upper() for w in set(words)} == {'A'}",
        "max(enumerate(set(words)))",
        "sorted(set(words) | {'x'})",
    ):
        assert kinds("words = ['a', 'b']", f"print({ordered})") == [], ordered
    assert kinds("text = 'hello'", "chars = list(set(text))\nchars.sort()\nprint(chars)") == []
    # not put in order: its order shows
    assert kinds("words = ['a', 'b']", "print(list(set(words)))") == ["hash-order"]
    assert kinds("text = 'hello'", "print(''.join(list(set(text))))") == ["hash-order"]
    assert kinds("text = 'hello'", "chars = list(set(text))\nprint(chars)") == ["hash-order"]
    assert kinds("import numpy as np\nwords = ['a', 'b']", "print(np.unique(list(set(words))))") == []
    # a mapping numbered in a set's order is not in order
    assert kinds("words = ['a', 'b']", "stoi = {w: i for i, w in enumerate(set(words))}\nprint(stoi)") == ["hash-order"]


ITEM = "class Item:\n    def __init__(self, price):\n        self.price = price"


def test_a_set_of_objects_iterates_in_address_order_and_its_sum_shows_it():
    assert where(ITEM, "basket = {Item(1.5), Item(2.5)}", "print(sum(item.price for item in basket))") == [
        ("hash-order", 2, 1, FIX_ADDRESS)
    ]
    assert where(ITEM, "basket = {Item(p / 10) for p in range(30)}\nfor item in basket:\n    print(item.price)") == [
        ("hash-order", 1, 2, FIX_ADDRESS)
    ]
    assert kinds(ITEM, "items = [Item(1.5), Item(2.5)]", "print(sum(i.price for i in set(items)))") == ["hash-order"]
    assert kinds("import torch", "s = {torch.tensor(1.0), torch.tensor(2.0)}", "print(sum(s))") == ["hash-order"]
    assert kinds("import torch\nfrom torch import nn", "m = nn.Linear(2, 2)", "print(sum(set(m.parameters())))") == [
        "global-generator",
        "hash-order",
    ]
    # in order, counted, or of values whose order is fixed: no cause
    assert kinds(ITEM, "basket = {Item(1.5)}", "print(len(basket), sorted(i.price for i in basket))") == []
    assert kinds("values = {0.1, 0.2, 0.3}", "print(sum(values))") == []
    assert kinds("values = [0.1, 0.2]", "print(sum(set(values)))") == []  # floats: a fixed order
    assert kinds("s = set(values)", "print(sum(s))") == []  # what it holds is not known: not said to be objects
    # a class that hashes by value is not hashed by address
    frozen = "from dataclasses import dataclass\n@dataclass(frozen=True)\nclass P:\n    x: float"
    assert kinds(frozen, "s = {P(1.0), P(2.0)}", "print(sum(p.x for p in s))") == []
    eq = "class Q:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__"
    assert kinds(eq, "s = {Q(), Q()}", "print(sum(1.5 for q in s))") == []


MAKEMORE = [
    "import torch\nimport torch.nn.functional as F",
    'text = "the quick brown fox"\nchars = sorted(list(set(text)))\nstoi = {c: i for i, c in enumerate(chars)}',
    "device = 'cuda' if torch.cuda.is_available() else 'cpu'\ng = torch.Generator().manual_seed(2147483647)\n"
    "xs = torch.tensor([stoi[c] for c in text[:-1]], device=device)\n"
    "ys = torch.tensor([stoi[c] for c in text[1:]], device=device)\n"
    "W = torch.randn((len(chars), len(chars)), generator=g).to(device)\nb = torch.zeros(len(chars), device=device)\n"
    "parameters = [W, b]\nfor p in parameters:\n    p.requires_grad = True",
    "for step in range(100):\n    ix = torch.randint(0, xs.shape[0], (8,))\n    logits = W[xs[ix]] + b\n"
    "    loss = F.cross_entropy(logits, ys[ix])\n    for p in parameters:\n        p.grad = None\n"
    "    loss.backward()\n    for p in parameters:\n        p.data += -1.0 * p.grad",
    "with torch.no_grad():\n    print(F.cross_entropy(W[xs] + b, ys).item(), chars[:3])",
]


def test_the_weights_trained_in_place_two_cells_earlier_are_followed_not_the_sorted_set(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert where(*MAKEMORE) == [("global-generator", 3, 2, FIX_SEED)]
    assert cells_used(MAKEMORE, 4) == {1, 2, 3}


def test_changes_in_place_are_followed_back_to_where_they_were_made():
    np_ = "import numpy as np"
    # opt.step() changes the model it was given
    torch_ = "import numpy as np\nimport torch\nfrom torch import nn"
    made = "torch.manual_seed(0)\nmodel = nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)"
    step = "batch = torch.from_numpy(np.random.rand(8, 2)).float()\nloss = model(batch).pow(2).mean()\n"
    step += "opt.zero_grad()\nloss.backward()\nopt.step()"
    assert where(torch_, made, step, "print(model.weight)") == [("global-generator", 2, 1, FIX_SEED)]
    # model.fit(...), w.add_(...), x[...] = ..., a function of the notebook's that changes its argument
    sk = "import numpy as np\nfrom sklearn.linear_model import LogisticRegression\nclf = LogisticRegression()"
    assert where(sk, "clf.fit(np.random.rand(10, 2), [0, 1] * 5)", "print(clf.coef_)") == [
        ("global-generator", 1, 1, FIX_SEED)
    ]
    assert where("import torch\nw = torch.zeros(3)", "w.add_(torch.rand(3))", "print(w)") == [
        ("global-generator", 1, 1, FIX_SEED)
    ]
    assert where(np_, "x = np.zeros(3)", "x[1:] = np.random.rand(2)", "print(x)") == [
        ("global-generator", 2, 1, FIX_SEED)
    ]
    fit = "def train(m):\n    m.fit(np.random.rand(10, 2), [0, 1] * 5)"
    assert where(sk, fit, "train(clf)", "print(clf.coef_)") == [("global-generator", 1, 2, FIX_SEED)]
    # a function that changes a notebook name it does not take
    glob = "def train():\n    clf.fit(np.random.rand(10, 2), [0, 1] * 5)"
    assert where(sk, glob, "for _ in range(2):\n    train()", "print(clf.coef_)") == [
        ("global-generator", 1, 2, FIX_SEED)
    ]
    # pandas: inplace=True changes it; a method that returns a new frame does not
    pd_ = "import numpy as np\nimport pandas as pd\ndf = pd.DataFrame({'a': [1.0, None]})"
    assert kinds(pd_, "df.fillna(np.random.rand(), inplace=True)", "print(df)") == ["global-generator"]
    assert kinds(pd_, "filled = df.fillna(np.random.rand())", "print(df)") == []


def test_a_cell_is_not_said_to_use_cells_that_only_read_its_names():
    cells = [
        "import numpy as np",
        "weights = np.random.rand(3)\nprint(weights.round(6))",
        "noise = np.random.default_rng().normal(size=2)\nprint(noise.round(6), weights.mean().round(6))",
        "print(weights.sum().round(6))",
    ]
    assert cells_used(cells, 3) == {1}
    assert where(*cells) == [("global-generator", 1, 1, FIX_SEED)]
    pd_ = ["import pandas as pd", "df = pd.DataFrame({'a': [1, 2]})", "print(df.head(), df.describe())", "df.a.sum()"]
    assert cells_used(pd_, 3) == {1}
    for reading in ("x.item()", "x.tolist()", "model.predict(X)", "model.score(X, y)", "df.groupby('a').mean()"):
        assert cells_used(["x = model = df = 1", reading, "print(x, model, df)"], 2) == {0}, reading


def test_scikit_learn_without_a_random_state_draws_from_numpy():
    head = (
        "import numpy as np\nfrom sklearn.cluster import KMeans\nfrom sklearn.decomposition import PCA\n"
        "from sklearn.ensemble import RandomForestClassifier\nfrom sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import KFold, train_test_split\nfrom sklearn.svm import SVC\n"
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler"
    )
    draws = [
        "RandomForestClassifier()",
        "RandomForestClassifier(n_estimators=10, random_state=None)",
        "KMeans(3)",
        "train_test_split(X, y)",
        "KFold(5, shuffle=True)",
        "LogisticRegression(solver='saga')",
        "PCA(2, svd_solver='randomized')",
        "SVC(probability=True)",
        "SVC(probability=flag)",
        "make_pipeline(StandardScaler(), RandomForestClassifier(max_depth=2))",
    ]
    for code in draws:
        assert where(head, f"model = {code}\nprint(model)") == [("global-generator", 1, 1, FIX_STATE)], code
    fixed = [
        "RandomForestClassifier(random_state=0)",
        "KMeans(3, random_state=rng)",
        "train_test_split(X, y, shuffle=False)",
        "KFold(5)",
        "LogisticRegression()",
        "PCA(2)",
        "SVC()",
        "StandardScaler()",
    ]
    for code in fixed:
        assert kinds(head, f"model = {code}\nprint(model)") == [], code
    assert kinds(head + "\nnp.random.seed(0)", "print(KMeans(3).fit(X).inertia_)") == []
    assert kinds("%seed 0", head, "print(KMeans(3).fit(X).inertia_)") == []
    assert kinds("import sklearn.ensemble as ens", "ens.RandomForestClassifier().fit(X, y)") == ["global-generator"]


def test_pandas_sample_without_a_random_state_draws_from_numpy():
    assert where("import pandas as pd", "print(df.sample(3))") == [("global-generator", 1, 1, FIX_STATE)]
    assert kinds("import pandas as pd", "print(df['a'].sample(frac=0.5))") == ["global-generator"]
    assert kinds("import pandas as pd", "print(df.sample(3, random_state=0))") == []
    assert kinds("import numpy as np\nnp.random.seed(0)", "print(df.sample(3))") == []
    assert kinds("import random\nr = random.Random(0)", "print(r.sample(items, 2), r.sample(items, k=2))") == []


NET = """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.hidden(x))))"""
TORCH = "import torch\nfrom torch import nn\nimport torch.nn.functional as F"
LOADED = "net = Net()\nnet.load_state_dict(torch.load('net.pt'))\nx = torch.ones(3, 4)"


def test_dropout_draws_in_train_mode():
    # weights loaded, never put in eval mode: dropout draws at inference (the layers' first weights are replaced)
    assert where(TORCH, NET, LOADED, "print(net(x))") == [("global-generator", 1, 5, FIX_EVAL)]
    assert kinds(TORCH, NET, LOADED, "net.eval()\nprint(net(x))") == []
    assert kinds(TORCH, NET, LOADED, "net.eval()", "net.train()", "print(net(x))") == ["global-generator"]
    assert kinds(TORCH, NET, LOADED, "net.train(False)\nprint(net(x))") == []
    evaluate = "def evaluate():\n    net.eval()\n    return net(x)"
    assert kinds(TORCH, NET, LOADED, evaluate, "print(evaluate())") == []
    assert kinds("torch.manual_seed(0)\n" + TORCH, NET, LOADED, "print(net(x))") == []
    seq = "model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2))\nmodel.load_state_dict(state)"
    assert where(TORCH, seq, "print(model(torch.ones(1, 4)))") == [("global-generator", 1, 1, FIX_EVAL)]
    # trained here: the weights' first draw, and dropout in training, are what to seed; eval() does not help
    train = "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nfor _ in range(3):\n    loss = net(x).sum()\n"
    train += "    opt.zero_grad()\n    loss.backward()\n    opt.step()"
    made = "net = Net()\nx = torch.ones(3, 4)"
    assert where(TORCH, NET, made, train, "net.eval()\nprint(net(x))") == [("global-generator", 1, 4, FIX_SEED)]
    assert kinds(TORCH, NET, LOADED, train, "net.eval()\nprint(net(x))") == ["global-generator"]
    assert kinds(TORCH, NET, LOADED, "torch.manual_seed(0)", train, "net.eval()\nprint(net(x))") == []
    # the functional form: training=True (its default) draws in any mode, training=False never
    assert where(TORCH, "print(F.dropout(torch.ones(8), p=0.5, training=True))") == [
        ("global-generator", 1, 1, FIX_SEED)
    ]
    assert kinds(TORCH, "print(F.dropout(torch.ones(8), 0.5))") == ["global-generator"]
    assert kinds(TORCH, "print(F.dropout(torch.ones(8), p=0.5, training=False))") == []
    assert kinds(TORCH, "print(F.dropout(torch.ones(8), 0.5, False))") == []
    functional = NET.replace("self.drop(", "F.dropout(").replace("(x))))", "(x)), training=self.training))")
    assert kinds(TORCH, functional, LOADED, "print(net(x))") == ["global-generator"]
    assert kinds(TORCH, functional, LOADED, "net.eval()\nprint(net(x))") == []


def test_torch_randperm_and_randint_unseeded():
    assert where("import torch", "idx = torch.randperm(10)\nprint(idx)") == [("global-generator", 1, 1, FIX_SEED)]
    assert where("import torch", "print(torch.randint(0, 10, (3,)))") == [("global-generator", 1, 1, FIX_SEED)]
    assert kinds("import torch", "print(torch.randperm(10, generator=torch.Generator().manual_seed(0)))") == []


def test_methods_that_change_a_torch_module_in_place_are_changes():
    init = "import torch\nfrom torch import nn\nnet = nn.Linear(2, 2, bias=False)\n"
    init += "def init(m):\n    nn.init.normal_(m.weight)\nwith torch.no_grad():\n    net.weight.fill_(1.0)"
    assert where(init, "net.apply(init)", "print(net.weight)") == [("global-generator", 0, 5, FIX_SEED)]
    assert cells_used(["import torch\nnet = 1", "net.float()", "print(net)"], 2) == {0, 1}
