"""Issue 31's causes on notebooks run for real: each is built with nbformat and run twice by ``seedmagic verify``
(real kernels, real torch, scikit-learn and pandas), and the report is asserted line by line where it names each
differing cell, its likely cause (cell, line, code) and the fix, or says that no cause is known. Only where the two
runs part (their random numbers) and the time taken are left out.

The kernels see no GPU (``CUDA_VISIBLE_DEVICES=""``), as on a machine without one, and no PYTHONHASHSEED."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook
from test_causes import NET  # the model with a dropout the cause finder reads

from seedmagic.notebook import report
from seedmagic.notebook.verify import verify

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
GLOBAL = "draws from a global generator that nothing seeded first"
FIX_SEED = "seed first: %seed N (or %seed N --auto)"
FIX_STATE = "pass random_state=SEED, or %seed N"


@pytest.fixture(autouse=True)
def machine_without_a_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)


def verified(tmp_path: Path, cells: dict[str, str]) -> list[str]:
    """What ``seedmagic verify`` says of the notebook made of ``cells`` (id -> source): its headline and, for each
    differing cell, its name and role, each likely cause with its fix, or that none is known."""
    nb = new_notebook(
        cells=[new_code_cell(source, id=cell_id) for cell_id, source in cells.items()],
        metadata={"kernelspec": KERNELSPEC},
    )
    path = tmp_path / "notebook.ipynb"
    nbformat.write(nb, path)
    verdict = verify(path, timeout=300)
    text = report.text([verdict]).replace(str(path), "notebook.ipynb")
    assert verdict.error is None, text
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("output ", "note: "))]
    assert all(len(line) <= 160 for line in lines), text  # one short line each
    return [re.sub(r"; [0-9.]+ s\)$", ")", line) for line in lines]


def cause(cell: int, line: int, code: str, what: str, fix: str) -> list[str]:
    return [f"    likely cause, cell {cell} line {line}: {code}", f"      {what}; fix: {fix}"]


def test_weights_trained_in_place_by_an_unseeded_randint_not_the_sorted_set_nor_a_gpu(tmp_path):
    """Cell 2's ``sorted(list(set(text)))`` is in a fixed order, cell 3's ``"cuda" if ... else "cpu"`` chose the CPU:
    what differs is cell 4's unseeded ``torch.randint``, which picked the batches that trained W and b in place (through
    ``parameters``). Cell 6 reads W only: it does not use cell 5, which differs too."""
    said = verified(
        tmp_path,
        {
            "imports": "import torch\nimport torch.nn.functional as F",
            "vocab": 'text = "the quick brown fox jumps over the lazy dog " * 4\nchars = sorted(list(set(text)))\n'
            'stoi = {c: i for i, c in enumerate(chars)}\nprint(len(chars), "".join(chars))',
            "params": 'device = "cuda" if torch.cuda.is_available() else "cpu"\n'
            "g = torch.Generator().manual_seed(2147483647)\n"
            "xs = torch.tensor([stoi[c] for c in text[:-1]], device=device)\n"
            "ys = torch.tensor([stoi[c] for c in text[1:]], device=device)\n"
            "W = torch.randn((len(chars), len(chars)), generator=g).to(device)\n"
            "b = torch.zeros(len(chars), device=device)\nparameters = [W, b]\nfor p in parameters:\n"
            "    p.requires_grad = True",
            "train": "for step in range(100):\n    ix = torch.randint(0, xs.shape[0], (8,))\n"
            "    logits = W[xs[ix]] + b\n    loss = F.cross_entropy(logits, ys[ix])\n    for p in parameters:\n"
            "        p.grad = None\n    loss.backward()\n    for p in parameters:\n        p.data += -1.0 * p.grad",
            "loss": 'with torch.no_grad():\n    print(f"{F.cross_entropy(W[xs] + b, ys).item():.6f}")',
            "weights": "print(W.abs().sum().item())",
            "device": "print(device, W.device, xs.device)",
        },
    )
    assert said == [
        "notebook.ipynb: NOT reproducible (2 of 7 code cells differ)",
        "  cell 5 (id loss): the first cell to differ",
        *cause(4, 2, "ix = torch.randint(0, xs.shape[0], (8,))", GLOBAL, FIX_SEED),
        "  cell 6 (id weights): differs, for a cause of its own",
        *cause(4, 2, "ix = torch.randint(0, xs.shape[0], (8,))", GLOBAL, FIX_SEED),
    ]


def test_scikit_learn_without_random_state_and_pandas_sample(tmp_path):
    """``train_test_split(X, y)``, ``RandomForestClassifier()`` and ``KMeans(8)`` with no random_state draw from
    NumPy's global generator, as ``df.sample(3)`` does; ``LogisticRegression()`` (lbfgs) and ``random_state=0``
    repeat."""
    said = verified(
        tmp_path,
        {
            "imports": "import numpy as np\nimport pandas as pd\nfrom sklearn.cluster import KMeans\n"
            "from sklearn.datasets import make_classification\nfrom sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import train_test_split",
            "data": "X, y = make_classification(n_samples=200, n_features=6, random_state=0)\n"
            'df = pd.DataFrame(X, columns=list("abcdef"))',
            "split": "X_train, X_test, y_train, y_test = train_test_split(X, y)\nprint(y_test[:16])",
            "forest": "forest = RandomForestClassifier(n_estimators=10)\nforest.fit(X_train, y_train)\n"
            "print(forest.feature_importances_.round(4))",
            "kmeans": "km = KMeans(8, n_init=1).fit(X)\nprint(km.cluster_centers_[:, 0].round(3))",
            "logistic": "clf = LogisticRegression().fit(X, y)\nprint(clf.coef_.round(4))",
            "sample": "print(df.sample(3).round(3))",
            "seeded": "print(df.sample(3, random_state=0).round(3))",
        },
    )
    assert said == [
        "notebook.ipynb: NOT reproducible (4 of 8 code cells differ)",
        "  cell 3 (id split): the first cell to differ",
        *cause(3, 1, "X_train, X_test, y_train, y_test = train_test_split(X, y)", GLOBAL, FIX_STATE),
        "  cell 4 (id forest): differs, as it uses cell 3 (id split)",
        *cause(4, 1, "forest = RandomForestClassifier(n_estimators=10)", GLOBAL, FIX_STATE),
        "  cell 5 (id kmeans): differs, for a cause of its own",
        *cause(5, 1, "km = KMeans(8, n_init=1).fit(X)", GLOBAL, FIX_STATE),
        "  cell 7 (id sample): differs, for a cause of its own",
        *cause(7, 1, "print(df.sample(3).round(3))", GLOBAL, FIX_STATE),
    ]


def test_dropout_in_train_mode_at_inference_and_functional_dropout(tmp_path):
    """Weights loaded from a checkpoint (the layers' first random weights are replaced): the model was never put in
    eval mode, so its ``nn.Dropout`` draws at inference; after ``net.eval()`` it repeats. ``F.dropout(...,
    training=True)`` draws; ``training=False`` does not."""
    torch.manual_seed(0)
    state = {
        "hidden.weight": torch.randn(8, 4),
        "hidden.bias": torch.randn(8),
        "out.weight": torch.randn(2, 8),
        "out.bias": torch.randn(2),
    }
    torch.save(state, tmp_path / "net.pt")
    said = verified(
        tmp_path,
        {
            "imports": "import torch\nfrom torch import nn\nimport torch.nn.functional as F",
            "net": NET,
            "load": 'net = Net()\nnet.load_state_dict(torch.load("net.pt"))\nx = torch.ones(3, 4)',
            "infer": "with torch.no_grad():\n    print(net(x))",
            "eval": "net.eval()\nwith torch.no_grad():\n    print(net(x))",
            "functional": "print(F.dropout(torch.ones(8), p=0.5, training=True))",
            "off": "print(F.dropout(torch.ones(8), p=0.5, training=False))",
        },
    )
    fix_eval = "call model.eval() before inference (dropout draws in train mode), or %seed N"
    assert said == [
        "notebook.ipynb: NOT reproducible (2 of 7 code cells differ)",
        "  cell 4 (id infer): the first cell to differ",
        *cause(2, 5, "self.drop = nn.Dropout(0.5)", GLOBAL, fix_eval),
        "  cell 6 (id functional): differs, for a cause of its own",
        *cause(6, 1, "print(F.dropout(torch.ones(8), p=0.5, training=True))", GLOBAL, FIX_SEED),
    ]


def test_a_sum_over_a_set_of_objects_and_a_cause_that_is_not_known(tmp_path):
    """A set of objects iterates in the order of their addresses, which differ from run to run: the sum of their
    floats rounds differently; sorted first, it repeats. A process id differs too, for no cause the code shows: it
    says so rather than naming a wrong one."""
    said = verified(
        tmp_path,
        {
            "account": "class Account:\n    def __init__(self, balance):\n        self.balance = balance",
            "accounts": "import math\naccounts = {Account(math.sin(k) * 1e6) for k in range(20000)}\n"
            "print(len(accounts))",
            "total": "print(sum(a.balance for a in accounts))",
            "sorted": "print(sum(sorted(a.balance for a in accounts)))",
            "pid": "import os\nprint(os.getpid() > 0, os.getpid())",
        },
    )
    assert said == [
        "notebook.ipynb: NOT reproducible (2 of 5 code cells differ)",
        "  cell 3 (id total): the first cell to differ",
        *cause(
            3,
            1,
            "print(sum(a.balance for a in accounts))",
            "set order follows hashes, which differ between processes",
            "keep the objects in a list, or sort them: sorted(s, key=...)",
        ),
        "  cell 5 (id pid): differs, for a cause of its own",
        "    no known cause in the cell's code or the cells it uses",
    ]


def test_a_later_cell_is_said_to_use_only_the_cells_whose_names_it_reads(tmp_path):
    """Cell 3 only reads ``weights`` (``weights.mean()``): cell 4, which prints ``weights``, uses cell 2, not 3."""
    said = verified(
        tmp_path,
        {
            "imports": "import numpy as np",
            "weights": "weights = np.random.rand(3)\nprint(weights.round(6))",
            "noise": "noise = np.random.default_rng().normal(size=2)\nprint(noise.round(6), weights.mean().round(6))",
            "total": "print(weights.sum().round(6))",
        },
    )
    assert said == [
        "notebook.ipynb: NOT reproducible (3 of 4 code cells differ)",
        "  cell 2 (id weights): the first cell to differ",
        *cause(2, 1, "weights = np.random.rand(3)", GLOBAL, FIX_SEED),
        "  cell 3 (id noise): differs, as it uses cell 2 (id weights)",
        *cause(
            3,
            1,
            "noise = np.random.default_rng().normal(size=2)",
            "a generator seeded from OS entropy",
            "seed it: seedmagic.rng() or np.random.default_rng(SEED)",
        ),
        "  cell 4 (id total): differs, as it uses cell 2 (id weights)",
    ]
