"""Why a notebook cell may give different outputs from run to run: its likely causes, each with the fix.

``likely_causes(sources, index)`` reads the notebook's sources (it runs nothing and imports no framework). It turns
IPython syntax (``%seed 0``, ``!ls``, ``%%seeded 0``) into Python, parses each cell with ``ast``, follows import
aliases through the notebook (``import numpy as np``, ``from numpy.random import default_rng``, ``from x import *``)
and looks at the differing cell and at the statements of earlier cells that last bound or changed the names it reads
(``rng = np.random.default_rng()`` in cell 2, ``rng.random()`` in cell 5), and at theirs in turn. A change in place
counts (``model.fit(X, y)``, ``opt.step()``, ``w.add_(1)``, ``x[0] = 1``, ``p.data -= g`` in ``for p in params``),
through what holds the object (``params = [W, b]``, ``opt = SGD(model.parameters())``) and through the notebook's
own functions; a method that only reads (``df.head()``, ``x.item()``, ``model.predict(X)``) does not change.

One table, ``RULES``, says what is a cause: its kind, the calls (or events) it matches, which of those calls count,
the fix, and what makes it harmless when it comes first. A draw from a global generator is harmless after that
generator was seeded (``%seed``, ``%%seeded``, ``random.seed``, ``np.random.seed``, ``torch.manual_seed``,
``seed_everything``, ``set_seed``, ``tf.random.set_seed``, ``keras.utils.set_random_seed``: the table ``GUARDS``),
and a GPU kernel after deterministic mode was switched on. The libraries' own randomness is known: scikit-learn's
estimators and functions left with ``random_state=None`` (and only those that draw: ``KFold`` with ``shuffle=True``,
not ``LogisticRegression()``), pandas' ``sample``, torch's dropout in train mode (``nn.Dropout`` until ``.eval()``;
a layer's initial weights do not count once ``load_state_dict`` replaces them). A GPU cause needs evidence that the
run had a GPU: ``gpu=True``, a GPU on this machine (where verify's kernels run), a cuda device in the executed
outputs, or code that uses cuda unconditionally (not ``"cuda" if torch.cuda.is_available() else "cpu"``). Code inside
a function runs when it is called: it counts as running in the differing cell. This is static analysis: what a cell
computes at run time (a ``getattr``, a function from another module) is not followed, and a cause is what the code
makes likely, not proven. Where nothing is found the answer is no cause, not a guess.

The package, from the bottom up: ``syntax`` (small questions asked of the syntax tree), ``cause`` (a ``Cause`` and
the kinds of cause), ``order`` (sets and listings whose order shows), ``events`` (what a rule can match), ``conditions``
and ``libraries`` (which matched calls count), ``rules`` (the table: ``RULES``, ``GUARDS``), ``cells`` (reading a
cell), ``bindings`` (what the cells bind and change), ``depends`` (the statements a cell depends on) and ``find``
(``likely_causes``).
"""

from __future__ import annotations

from .cause import KINDS, WHAT, Cause
from .cells import PYTHON_CELL_MAGICS
from .depends import cells_used
from .find import gpu_visible, likely_causes, shows_cuda
from .rules import GUARDS, RULES, Rule

__all__ = [
    "GUARDS",
    "KINDS",
    "PYTHON_CELL_MAGICS",
    "RULES",
    "WHAT",
    "Cause",
    "Rule",
    "cells_used",
    "gpu_visible",
    "likely_causes",
    "shows_cuda",
]
