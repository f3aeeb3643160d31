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
"""

from __future__ import annotations

import ast
import functools
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.inputtransformer2 import TransformerManager

KINDS = (
    "global-generator",
    "local-generator",
    "clock",
    "os-entropy",
    "hash-order",
    "listdir-order",
    "dataloader-workers",
    "gpu-kernel",
)

WHAT = {
    "global-generator": "draws from a global generator that nothing seeded first",
    "local-generator": "a generator seeded from OS entropy",
    "clock": "reads the clock",
    "os-entropy": "reads OS entropy",
    "hash-order": "set order follows hashes, which differ between processes",
    "listdir-order": "a directory listing comes in the file system's order",
    "dataloader-workers": "DataLoader workers seeded from an unseeded base seed",
    "gpu-kernel": "GPU kernels may be nondeterministic",
}


@dataclass(frozen=True)
class Cause:
    """A likely reason a cell differs: its kind, where the evidence is (cell index, 1-based line), the code, the fix."""

    kind: str
    cell: int
    line: int
    evidence: str
    fix: str

    def __str__(self) -> str:
        return (
            f"cell {self.cell + 1}, line {self.line}: {self.evidence} ({self.kind}: {WHAT[self.kind]}); fix: {self.fix}"
        )


# -- reading cells ------------------------------------------------------------------------------------------------

# Cell magics whose body is Python that runs in the notebook's namespace.
PYTHON_CELL_MAGICS = frozenset({"seeded", "time", "timeit", "capture", "prun"})
ALL_GENERATORS = frozenset({"random", "numpy", "torch", "tensorflow"})
_CUDA = re.compile(r"cuda(:\d+)?")
# A cuda device in what a run printed: a tensor's repr, a torch.device, "cuda:0", a line that ends with the device.
_CUDA_SHOWN = re.compile(r"device\(type='cuda'|device='cuda|\bcuda:\d+\b|(?:^|[\s:=])cuda\s*$", re.MULTILINE)
_END = (1 << 62, 0)  # where code inside a function runs: any time in the differing cell

Position = tuple[int, int, int]  # (cell index, line, column)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass
class _Cell:
    index: int
    tree: ast.Module
    lines: list[str]  # the raw source's lines
    offset: int  # raw lines before the Python: a %%magic line, blank lines
    magic: tuple[str, str] | None  # (name, arguments) of a %%cell magic
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def line(self, node: ast.AST) -> int:
        return self.offset + getattr(node, "lineno", 1)

    def text(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""


def _blank(lines: list[str], start: int) -> int:
    """The index of the first line from ``start`` on that is not blank."""
    return next((i for i in range(start, len(lines)) if lines[i].strip()), len(lines))


@functools.lru_cache(maxsize=1)
def _transformer() -> TransformerManager:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()  # type: ignore[no-untyped-call]  # an unannotated __init__


@functools.lru_cache(maxsize=1024)
def _read(index: int, source: str | None) -> _Cell | None:
    """The cell as Python, or None when it is not Python (markdown, %%bash, a syntax error)."""
    if not source or not source.strip():
        return None
    lines = source.splitlines()
    offset, magic = _blank(lines, 0), None
    if lines[offset].startswith("%%"):
        name, _, args = lines[offset][2:].strip().partition(" ")
        if name not in PYTHON_CELL_MAGICS:
            return None
        magic, offset = (name, args.strip()), _blank(lines, offset + 1)
    try:
        # IPython drops leading blank lines: they are counted in ``offset`` instead
        tree = ast.parse(_transformer().transform_cell("\n".join(lines[offset:])))
    except Exception:  # a cell that does not read as Python is skipped, whatever the reason
        return None
    cell = _Cell(index, tree, lines, offset, magic)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            cell.parents[child] = parent
    return cell


class _Names:
    """What a name means at a cell: import aliases (``np`` is ``numpy``) and ``from x import *`` modules."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.modules: set[str] = set()  # names bound by an import
        self.stars: list[str] = []

    def copy(self) -> _Names:
        names = _Names()
        names.aliases, names.modules, names.stars = dict(self.aliases), set(self.modules), list(self.stars)
        return names

    def learn(self, tree: ast.Module) -> None:
        for node in _walk(tree, into_scopes=False):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self.aliases[bound] = alias.name if alias.asname else bound
                    self.modules.add(bound)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.stars.append(node.module)
                    else:
                        bound = alias.asname or alias.name
                        self.aliases[bound] = f"{node.module}.{alias.name}"
                        self.modules.add(bound)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                # randn = torch.randn
                target, value = node.targets[0].id, node.value
                if isinstance(value, (ast.Name, ast.Attribute)) and self.is_module(value):
                    self.aliases[target] = self.qualname(value) or target
                    self.modules.add(target)

    def qualname(self, node: ast.AST) -> str | None:
        """``np.random.rand`` -> ``numpy.random.rand``; an unknown bare name stays itself (``print``, ``hash``)."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            for module in reversed(self.stars):
                if _known(f"{module}.{node.id}"):
                    return f"{module}.{node.id}"
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def is_module(self, node: ast.AST) -> bool:
        """Whether ``node`` is a dotted name that starts at an import (``np.random``), not an object (``rng``)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.modules


# -- events: what a rule can match --------------------------------------------------------------------------------


@dataclass
class _Event:
    """Something a rule can match, at a place in a cell: a call (``key`` "call"), a line magic ("%seed", with its
    ``args``), a set of strings shown or iterated ("<set-order>"), a set of objects shown, iterated or summed
    ("<address-order>") or a "cuda" device string ("<cuda>")."""

    key: str
    cell: _Cell
    node: ast.AST
    deferred: bool = False  # inside a function: runs when called
    args: str = ""  # a magic's arguments

    @property
    def line(self) -> int:
        return self.cell.line(self.node)

    @property
    def position(self) -> Position:
        return (self.cell.index, self.line, getattr(self.node, "col_offset", -1))


@dataclass
class _Chain:
    """What the statements the differing cell depends on do to a torch model, where (a function's body: at the end of
    the differing cell, as it runs when called): ``.eval()``, ``.train()``, a training step (``.backward()``,
    ``.step()``), ``.load_state_dict(...)``."""

    evals: list[Position] = field(default_factory=list)
    trains: list[Position] = field(default_factory=list)
    steps: list[Position] = field(default_factory=list)
    loads: list[Position] = field(default_factory=list)


@dataclass
class _Scope:
    """What the tests of a rule may look at: the names at the event's cell, what the notebook binds (sets, lists,
    classes), whether the run had a GPU (True, False, or None: unknown), the differing cell and its chain."""

    names: _Names
    notebook: _Notebook
    index: int = 0
    gpu: bool | None = None
    chain: _Chain = field(default_factory=_Chain)

    def qualname(self, node: ast.AST) -> str | None:
        return self.names.qualname(node)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk(node: ast.AST, into_scopes: bool = True) -> Iterator[ast.AST]:
    """Every node under ``node``; with ``into_scopes=False``, not the insides of functions, lambdas and classes (their
    name is bound, their names are their own) nor the variables of comprehensions."""
    yield node
    if not into_scopes and isinstance(node, _SCOPES):
        return
    for child in ast.iter_child_nodes(node):
        yield from _walk(child.iter if not into_scopes and isinstance(child, ast.comprehension) else child, into_scopes)


def _events(cell: _Cell, stmt: ast.stmt, scope: _Scope) -> Iterator[_Event]:
    yield from _events_in(cell, stmt, scope, deferred=False)


def _events_in(cell: _Cell, node: ast.AST, scope: _Scope, deferred: bool) -> Iterator[_Event]:
    if isinstance(node, ast.Call):
        func = node.func
        words = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if isinstance(func, ast.Attribute) and func.attr == "run_line_magic" and len(words) == 2:
            yield _Event(f"%{words[0]}", cell, node, deferred, words[1])
        else:
            yield _Event("call", cell, node, deferred)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _CUDA.fullmatch(node.value):
        yield _Event("<cuda>", cell, node, deferred)
    held = _set_holds(node, scope.names, scope.notebook)
    if held is not None and _shown(node, cell, scope, held):
        yield _Event("<address-order>" if held == "object" else "<set-order>", cell, node, deferred)
    inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
    for child in ast.iter_child_nodes(node):
        yield from _events_in(cell, child, scope, inner)


# -- what the rules test ------------------------------------------------------------------------------------------

Test = Callable[[_Event, _Scope], bool]


def _call(event: _Event) -> ast.Call:
    assert isinstance(event.node, ast.Call)
    return event.node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    """An argument given by position or by name."""
    return call.args[position] if len(call.args) > position else _keyword(call, name)


def _is_none(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _seed_given(call: ast.Call) -> bool:
    given = [*call.args[:1], *(k.value for k in call.keywords if k.arg in ("seed", "entropy", "x", "a"))]
    return any(not _is_none(value) for value in given)


def _last_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _called(call: ast.Call, scope: _Scope) -> str:
    """The last part of what is called, aliases resolved: ``make()`` after ``from numpy.random import default_rng as
    make`` is ``default_rng``."""
    return (scope.qualname(call.func) or _last_name(call)).rpartition(".")[2]


def _on_object(call: ast.Call, scope: _Scope) -> bool:
    """``w.normal_()``, ``df.sample(3)``: a method of an object, not a module's function."""
    return isinstance(call.func, ast.Attribute) and not scope.names.is_module(call.func.value)


def always(event: _Event, scope: _Scope) -> bool:
    return True


def unseeded(event: _Event, scope: _Scope) -> bool:
    """``default_rng()``, ``default_rng(None)``, ``random.Random()``, ``random.seed()``: seeded from OS entropy."""
    return not _seed_given(_call(event))


def object_reseeded(event: _Event, scope: _Scope) -> bool:
    """``g.seed()`` on an object (a ``torch.Generator``, a ``random.Random``): reseeded from OS entropy."""
    call = _call(event)
    return _on_object(call, scope) and not call.args and not call.keywords


def random_seed_magic(event: _Event, scope: _Scope) -> bool:
    return "--random" in event.args.split()


def reads_now(event: _Event, scope: _Scope) -> bool:
    """``time.localtime()`` reads the clock; ``time.localtime(t)`` converts ``t``."""
    call = _call(event)
    name = _called(call, scope)
    takes_time = name in ("localtime", "gmtime", "ctime", "asctime")
    return not (takes_time and call.args) and not (name == "strftime" and len(call.args) > 1)


def draw(not_draws: frozenset[str]) -> Test:
    """A module function that draws from the module's generator: not one that seeds, makes a generator or saves
    state, and not one given its own ``generator=`` or ``seed=``."""

    def test(event: _Event, scope: _Scope) -> bool:
        call = _call(event)
        own = _keyword(call, "generator"), _keyword(call, "seed")
        return _called(call, scope) not in not_draws and all(_is_none(value) for value in own)

    return test


def no_generator(event: _Event, scope: _Scope) -> bool:
    """``torch.rand(3)``, not ``torch.rand(3, generator=g)``."""
    return _is_none(_keyword(_call(event), "generator"))


def tensor_draw(event: _Event, scope: _Scope) -> bool:
    """``w.normal_()`` on a tensor (an object, not a module), with no ``generator=``, its values not replaced by a
    ``load_state_dict`` after it."""
    return _on_object(_call(event), scope) and no_generator(event, scope) and not _loaded_after(event, scope)


def _loaded_after(event: _Event, scope: _Scope) -> bool:
    """Whether ``load_state_dict`` replaces the weights that this draw made: it comes after it in the chain."""
    return any(load > event.position for load in scope.chain.loads)


def shuffles_without_generator(event: _Event, scope: _Scope) -> bool:
    call = _call(event)
    shuffle = _keyword(call, "shuffle")
    turned_on = shuffle is not None and not (isinstance(shuffle, ast.Constant) and not shuffle.value)
    return turned_on and _is_none(_keyword(call, "generator")) and _keyword(call, "sampler") is None


def _with_workers(call: ast.Call) -> bool:
    workers = _keyword(call, "num_workers")
    return workers is not None and not (isinstance(workers, ast.Constant) and workers.value in (0, None))


def workers_without_generator(event: _Event, scope: _Scope) -> bool:
    call = _call(event)
    return _with_workers(call) and _is_none(_keyword(call, "generator"))


def out_of_order(event: _Event, scope: _Scope) -> bool:
    call = _call(event)
    in_order = _keyword(call, "in_order")
    return _with_workers(call) and isinstance(in_order, ast.Constant) and in_order.value is False


def hashes_text(event: _Event, scope: _Scope) -> bool:
    """``hash(s)``: a str's hash differs between processes; an int's does not."""
    call = _call(event)
    return bool(call.args) and not (isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, int))


def unsorted(event: _Event, scope: _Scope) -> bool:
    """A listing not put in order: not inside ``sorted(...)`` (or ``len``, ``set``...), not sorted later by name."""
    call, cell = _call(event), event.cell
    node: ast.AST = call
    while not isinstance(node, ast.stmt):
        parent = cell.parents.get(node)
        if parent is None:
            return True
        if isinstance(parent, ast.Call) and node is not parent.func and scope.qualname(parent.func) in ORDER_FREE:
            return False
        node = parent
    return not _bound_and_sorted(node, cell)


def _bound_and_sorted(stmt: ast.AST, cell: _Cell) -> bool:
    """``files = os.listdir(d)`` with ``files.sort()`` or ``sorted(files)`` later in the cell."""
    bound = [t.id for t in getattr(stmt, "targets", [getattr(stmt, "target", None)]) if isinstance(t, ast.Name)]
    return isinstance(stmt, (ast.Assign, ast.AnnAssign)) and any(_sorted_later(cell.tree, name) for name in bound)


def _sorted_later(tree: ast.Module, name: str) -> bool:
    """``name.sort()`` or ``sorted(name)`` somewhere in the cell."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func, first = node.func, node.args[0] if node.args else None
        if isinstance(func, ast.Attribute) and func.attr == "sort" and _is_name(func.value, name):
            return True
        if isinstance(func, ast.Name) and func.id == "sorted" and _is_name(first, name):
            return True
    return False


def _is_name(node: ast.AST | None, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def cuda(event: _Event, scope: _Scope) -> bool:
    """A "cuda" device string, or ``x.cuda()`` on an object: where the run had a GPU, or, where that is not known,
    where the code uses cuda whatever the machine has (not under an ``if``, nor ``"cuda" if ... else "cpu"``). Not a
    comparison (``device.type == "cuda"``), and never on a run without a GPU."""
    if (event.key == "call" and not _on_object(_call(event), scope)) or _compared(event):
        return False
    return scope.gpu if scope.gpu is not None else not _conditional(event)


def _compared(event: _Event) -> bool:
    """``device.type == "cuda"``: a test, not a use."""
    parent = event.cell.parents.get(event.node)
    return isinstance(parent, ast.Compare)


def _conditional(event: _Event) -> bool:
    """Whether the code runs only on a condition: in a branch of an ``if``, a conditional expression, ``and``/``or``,
    a ``while`` or a ``try``."""
    node: ast.AST = event.node
    while (parent := event.cell.parents.get(node)) is not None:
        if isinstance(parent, (ast.If, ast.IfExp, ast.While)) and node is not parent.test:
            return True
        if isinstance(parent, (ast.BoolOp, ast.Try)):
            return True
        node = parent
    return False


# -- scikit-learn, pandas and torch's own randomness --------------------------------------------------------------

# scikit-learn's estimators and functions that draw from NumPy's global generator when given no random_state.
SKLEARN_RANDOM = {
    "sklearn.cluster": "AffinityPropagation BisectingKMeans KMeans MiniBatchKMeans SpectralBiclustering "
    "SpectralClustering SpectralCoclustering k_means kmeans_plusplus spectral_clustering",
    "sklearn.covariance": "EllipticEnvelope MinCovDet",
    "sklearn.datasets": "make_biclusters make_blobs make_checkerboard make_circles make_classification make_friedman1 "
    "make_friedman2 make_friedman3 make_gaussian_quantiles make_hastie_10_2 make_low_rank_matrix make_moons "
    "make_multilabel_classification make_regression make_s_curve make_sparse_coded_signal make_sparse_spd_matrix "
    "make_sparse_uncorrelated make_spd_matrix make_swiss_roll",
    "sklearn.decomposition": "DictionaryLearning FactorAnalysis FastICA KernelPCA LatentDirichletAllocation "
    "MiniBatchDictionaryLearning MiniBatchNMF MiniBatchSparsePCA NMF PCA SparsePCA TruncatedSVD dict_learning "
    "dict_learning_online fastica non_negative_factorization",
    "sklearn.dummy": "DummyClassifier",
    "sklearn.ensemble": "AdaBoostClassifier AdaBoostRegressor BaggingClassifier BaggingRegressor ExtraTreesClassifier "
    "ExtraTreesRegressor GradientBoostingClassifier GradientBoostingRegressor HistGradientBoostingClassifier "
    "HistGradientBoostingRegressor IsolationForest RandomForestClassifier RandomForestRegressor RandomTreesEmbedding",
    "sklearn.feature_selection": "mutual_info_classif mutual_info_regression",
    "sklearn.gaussian_process": "GaussianProcessClassifier GaussianProcessRegressor",
    "sklearn.inspection": "permutation_importance",
    "sklearn.kernel_approximation": "Nystroem PolynomialCountSketch RBFSampler SkewedChi2Sampler",
    "sklearn.linear_model": "ElasticNet ElasticNetCV Lars Lasso LassoCV LassoLars LogisticRegression "
    "LogisticRegressionCV MultiTaskElasticNet MultiTaskElasticNetCV MultiTaskLasso MultiTaskLassoCV "
    "PassiveAggressiveClassifier PassiveAggressiveRegressor Perceptron RANSACRegressor Ridge RidgeClassifier "
    "SGDClassifier SGDOneClassSVM SGDRegressor TheilSenRegressor",
    "sklearn.manifold": "LocallyLinearEmbedding MDS SpectralEmbedding TSNE locally_linear_embedding smacof "
    "spectral_embedding",
    "sklearn.mixture": "BayesianGaussianMixture GaussianMixture",
    "sklearn.model_selection": "GroupShuffleSplit KFold RandomizedSearchCV RepeatedKFold RepeatedStratifiedKFold "
    "ShuffleSplit StratifiedGroupKFold StratifiedKFold StratifiedShuffleSplit permutation_test_score train_test_split",
    "sklearn.multiclass": "OutputCodeClassifier",
    "sklearn.multioutput": "ClassifierChain RegressorChain",
    "sklearn.neighbors": "NeighborhoodComponentsAnalysis",
    "sklearn.neural_network": "BernoulliRBM MLPClassifier MLPRegressor",
    "sklearn.preprocessing": "TargetEncoder",
    "sklearn.random_projection": "GaussianRandomProjection SparseRandomProjection",
    "sklearn.svm": "LinearSVC LinearSVR NuSVC SVC",
    "sklearn.tree": "DecisionTreeClassifier DecisionTreeRegressor ExtraTreeClassifier ExtraTreeRegressor",
    "sklearn.utils": "resample shuffle",
}
SKLEARN_DRAWS = tuple(f"{module}.{name}" for module, names in SKLEARN_RANDOM.items() for name in names.split())
_ANY = None  # any value given, but None, False or 0
# Those that draw only when an argument asks for it: (its name, the values that draw, or _ANY).
SKLEARN_ONLY_WHEN: dict[str, tuple[str, tuple[object, ...] | None]] = {
    **dict.fromkeys(("KFold", "StratifiedKFold", "StratifiedGroupKFold"), ("shuffle", (True,))),
    "PCA": ("svd_solver", ("arpack", "randomized")),
    "KernelPCA": ("eigen_solver", ("arpack", "randomized")),
    **dict.fromkeys(("LogisticRegression", "LogisticRegressionCV"), ("solver", ("sag", "saga", "liblinear"))),
    **dict.fromkeys(("Ridge", "RidgeClassifier"), ("solver", ("sag", "saga"))),
    **dict.fromkeys(
        _words("ElasticNet ElasticNetCV Lasso LassoCV MultiTaskElasticNet MultiTaskElasticNetCV MultiTaskLasso")
        | {"MultiTaskLassoCV"},
        ("selection", ("random",)),
    ),
    **dict.fromkeys(("Lars", "LassoLars"), ("jitter", _ANY)),
    **dict.fromkeys(("SVC", "NuSVC"), ("probability", (True,))),
    "NMF": ("init", ("random", "nndsvdar")),
    **dict.fromkeys(("GaussianProcessClassifier", "GaussianProcessRegressor"), ("n_restarts_optimizer", _ANY)),
    **dict.fromkeys(("ClassifierChain", "RegressorChain"), ("order", ("random",))),
    **dict.fromkeys(("LocallyLinearEmbedding", "locally_linear_embedding"), ("eigen_solver", ("arpack",))),
    "NeighborhoodComponentsAnalysis": ("init", ("random",)),
    "DummyClassifier": ("strategy", ("stratified", "uniform")),
    **dict.fromkeys(("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"), ("early_stopping", (True,))),
}
# Those that do not draw when an argument says so: (its name, the values that stop it).
SKLEARN_UNLESS: dict[str, tuple[str, tuple[object, ...]]] = {
    **dict.fromkeys(
        _words("train_test_split SGDClassifier SGDRegressor SGDOneClassSVM Perceptron PassiveAggressiveClassifier")
        | {"PassiveAggressiveRegressor"},
        ("shuffle", (False,)),
    ),
}


def sklearn_draws(event: _Event, scope: _Scope) -> bool:
    """``RandomForestClassifier()``, ``KMeans(3)``, ``train_test_split(X, y)``: no ``random_state``, and (for those
    that draw only on request) asked to draw: ``KFold(5, shuffle=True)``, ``SVC(probability=True)``."""
    call = _call(event)
    if not _is_none(_keyword(call, "random_state")):
        return False
    name = _called(call, scope)
    if name in SKLEARN_UNLESS:
        keyword, stops = SKLEARN_UNLESS[name]
        given = _keyword(call, keyword)
        if isinstance(given, ast.Constant) and given.value in stops:
            return False
    if name not in SKLEARN_ONLY_WHEN:
        return True
    keyword, draws = SKLEARN_ONLY_WHEN[name]
    given = _keyword(call, keyword)
    if not isinstance(given, ast.Constant):
        return given is not None  # a value computed at run time may ask for it
    return bool(given.value) if draws is _ANY else given.value in draws


def pandas_sample(event: _Event, scope: _Scope) -> bool:
    """``df.sample(3)``, ``s.sample(frac=0.5)``: no ``random_state``, so NumPy's global generator. Not
    ``random.Random(0).sample(items, 3)`` (a population and a count) nor a torch shape (``d.sample((5,))``)."""
    call = _call(event)
    pandas_like = len(call.args) <= 1 and not any(isinstance(a, (ast.Tuple, ast.List)) for a in call.args)
    return (
        _on_object(call, scope)
        and pandas_like
        and _keyword(call, "k") is None
        and _is_none(_keyword(call, "random_state"))
    )


def torch_layer(event: _Event, scope: _Scope) -> bool:
    """``nn.Linear(3, 4)``: a layer whose construction draws its initial weights (that no ``load_state_dict`` after it
    replaces)."""
    return _called(_call(event), scope) in TORCH_LAYERS and not _loaded_after(event, scope)


def init_draw(event: _Event, scope: _Scope) -> bool:
    """``nn.init.normal_(w)``: with no ``generator=``, its values not replaced by a ``load_state_dict``."""
    return no_generator(event, scope) and not _loaded_after(event, scope)


def _dropout_training(call: ast.Call) -> ast.expr | None:
    """What ``F.dropout(x, p, training)`` is given for ``training`` (its default is True)."""
    return _argument(call, 2, "training")


def dropout_always(event: _Event, scope: _Scope) -> bool:
    """``F.dropout(x, 0.5)``, ``F.dropout(x, training=True)``: draws whatever mode the model is in."""
    training = _dropout_training(_call(event))
    return training is None or _is_constant(training, True)


def _mode_dependent(event: _Event, scope: _Scope) -> bool:
    """``nn.Dropout(0.5)``, or ``F.dropout(x, training=self.training)``: draws in train mode only."""
    call = _call(event)
    if _called(call, scope) in DROPOUT_LAYER_NAMES:
        return True
    training = _dropout_training(call)
    return training is not None and not isinstance(training, ast.Constant)


def _steps_after(event: _Event, scope: _Scope) -> list[Position]:
    return sorted(step for step in scope.chain.steps if step > event.position)


def dropout_in_training(event: _Event, scope: _Scope) -> bool:
    """Dropout in a model trained after it was made (a ``.backward()`` or ``.step()`` after it): it drew in training."""
    return _mode_dependent(event, scope) and bool(_steps_after(event, scope))


def dropout_at_inference(event: _Event, scope: _Scope) -> bool:
    """Dropout in a model not trained here (its weights loaded) and never put in eval mode after it was made: it
    draws at inference."""
    if not _mode_dependent(event, scope) or _steps_after(event, scope):
        return False
    chain, made = scope.chain, event.position
    return not any(e > made and not any(t > e for t in chain.trains) for e in chain.evals)


def first_step(event: _Event, scope: _Scope) -> Position:
    """Where dropout first drew: the first training step after the model was made."""
    return _steps_after(event, scope)[0]


def in_the_differing_cell(event: _Event, scope: _Scope) -> Position:
    return (scope.index, *_END)


# -- sets, shown or iterated --------------------------------------------------------------------------------------

ORDER_FREE = _words(
    "sorted len set frozenset min max sum any all math.fsum collections.Counter numpy.unique numpy.sort"
)
ORDER_KEEPING = _words("list tuple iter reversed enumerate zip map filter")
SHOWS = _words(
    "print list tuple enumerate str repr iter zip map filter display IPython.display.display numpy.array numpy.asarray "
    "pandas.Series pandas.DataFrame torch.tensor json.dumps"
)
# What adds a set's objects up in its order: floats (or tensors) added in another order round differently.
ADDS_UP = _words("sum math.prod functools.reduce numpy.sum torch.stack torch.cat numpy.stack numpy.concatenate")
_SET_METHODS = _words("union intersection difference symmetric_difference copy")
_NUMBER = (int, float, complex, bool)
_NUMERIC_CALLS = _words("int float len round abs ord hash range sum min max")
_TEXT_CALLS = _words("str repr format chr hex oct bin ascii")
_TEXT_METHODS = _words("lower upper strip lstrip rstrip title capitalize casefold format join zfill removeprefix")
_ARITHMETIC = (ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift)
# Classes whose instances hash by value, not by address: their subclasses too.
_VALUE_BASES = _words("tuple str int float bytes frozenset NamedTuple Enum IntEnum StrEnum Flag IntFlag Decimal")
_HOLDS_OBJECTS = _words("parameters modules children buffers")


def _number(node: ast.expr) -> bool:
    """Surely not a string: ``3``, ``a - b``, ``len(x)``, ``x > 0``. (A set of numbers iterates in a fixed order.)"""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _NUMBER)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (*_ARITHMETIC, ast.RShift)) or (_number(node.left) and _number(node.right))
    if isinstance(node, ast.UnaryOp):
        return True
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _NUMERIC_CALLS
    return isinstance(node, (ast.Compare, ast.BoolOp))


def _element(node: ast.expr, names: _Names, notebook: _Notebook) -> str:
    """What a set element's hash is: "number" (the same in every process), "text" (a str's: differs between
    processes), "object" (an address: differs between runs), or "unknown"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return "text"
    if _number(node):
        return "number"
    if isinstance(node, ast.JoinedStr):
        return "text"
    if isinstance(node, ast.Tuple):
        return _combined(_element(elt, names, notebook) for elt in node.elts)
    if isinstance(node, ast.Lambda):
        return "object"
    if isinstance(node, ast.Call):
        func, qualname = node.func, names.qualname(node.func) or ""
        if isinstance(func, ast.Name) and func.id in _TEXT_CALLS:
            return "text"
        if isinstance(func, ast.Attribute) and func.attr in _TEXT_METHODS:
            return "text"
        if isinstance(func, ast.Name) and func.id in notebook.classes:  # a class of the notebook's
            return "object" if notebook.classes[func.id] == "object" else "unknown"
        if qualname.startswith("torch.") and names.is_module(func):  # tensors and modules hash by address
            return "object"
    return "unknown"


def _combined(kinds: Iterable[str]) -> str:
    found = set(kinds)
    for kind in ("text", "unknown", "object"):
        if kind in found:
            return kind
    return "number"


def _elements_of(node: ast.expr, names: _Names, notebook: _Notebook) -> str:
    """What the elements of an iterable are: ``[Item(1), Item(2)]``, ``(w.lower() for w in words)``, ``"abc"``,
    ``range(3)``, ``model.parameters()``, a name bound to a list display."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return _combined(_element(elt, names, notebook) for elt in node.elts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
        return _element(node.elt, names, notebook)
    if isinstance(node, ast.Constant):
        return "text" if isinstance(node.value, (str, bytes)) else "unknown"
    if isinstance(node, ast.Name):
        return notebook.elements.get(node.id, "unknown")
    if isinstance(node, ast.Call):
        if names.qualname(node.func) == "range":
            return "number"
        if isinstance(node.func, ast.Attribute) and node.func.attr in _HOLDS_OBJECTS:
            return "object"
    return "unknown"


def _set_holds(node: ast.AST, names: _Names, notebook: _Notebook) -> str | None:
    """For a set whose order varies from process to process, what it holds: "object" (objects hashed by address,
    ``{Item(1), Item(2)}``) or "text" (strings, or what may be: ``set(words)``); None for anything else, a set of
    numbers among them (``{1, 2}``, ``set(range(3))``: its order is fixed)."""
    kind: str | None = None
    if isinstance(node, ast.Set):
        kind = _combined(_element(elt, names, notebook) for elt in node.elts)
    elif isinstance(node, ast.SetComp):
        kind = _element(node.elt, names, notebook)
    elif isinstance(node, ast.Name):
        return notebook.sets.get(node.id) if isinstance(node.ctx, ast.Load) else None
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
        sides = [_set_holds(node.left, names, notebook), _set_holds(node.right, names, notebook)]
        return "text" if "text" in sides else "object" if "object" in sides else None
    elif isinstance(node, ast.Call):
        if names.qualname(node.func) in ("set", "frozenset"):
            kind = _elements_of(node.args[0], names, notebook) if node.args else "number"
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _SET_METHODS:
            return _set_holds(node.func.value, names, notebook)
    if kind is None or kind == "number":
        return None
    return "object" if kind == "object" else "text"


def _ordered_later(node: ast.AST, cell: _Cell, scope: _Scope, held: str) -> bool:
    """Whether the set's order is lost before it shows: ``sorted(list(set(x)))``, ``len([w for w in s])``,
    ``{f(x) for x in s}`` (a new set), ``chars = list(s)`` then ``chars.sort()``. Adding objects up (``sum``) keeps
    their order: floats added in another order round differently."""
    free = ORDER_FREE - {"sum"} if held == "object" else ORDER_FREE
    while (parent := cell.parents.get(node)) is not None:
        if isinstance(parent, ast.comprehension):
            if node is not parent.iter:
                return False
            comprehension = cell.parents.get(parent)
            if comprehension is None or isinstance(comprehension, ast.SetComp):
                return comprehension is not None  # a set made from it has an order of its own
            node = comprehension
        elif isinstance(parent, (ast.Starred, ast.List, ast.Tuple)):
            node = parent
        elif isinstance(parent, ast.Set):
            return True
        elif isinstance(parent, ast.Call) and node in parent.args:
            name = scope.qualname(parent.func)
            if name in free:
                return True
            if name not in ORDER_KEEPING:
                return False
            node = parent
        else:
            return isinstance(parent, (ast.Assign, ast.AnnAssign)) and _bound_and_sorted(parent, cell)
    return False


def _shown(node: ast.AST, cell: _Cell, scope: _Scope, held: str) -> bool:
    """Whether the set's order reaches the output: iterated, printed, joined, listed, the cell's shown value, or (a set
    of objects) added up; not where it is put in order first (``sorted(list(s))``)."""
    if _ordered_later(node, cell, scope, held):
        return False
    parent = cell.parents.get(node)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
        return node is parent.iter
    if isinstance(parent, (ast.Starred, ast.FormattedValue)):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        joins = isinstance(func, ast.Attribute) and func.attr in ("join", "extend", "writelines")
        name = scope.qualname(func)
        return joins or name in SHOWS or (held == "object" and name in ADDS_UP)
    if isinstance(parent, ast.Attribute) and parent.attr == "pop":
        return True
    if isinstance(parent, ast.Expr) and cell.tree.body and parent is cell.tree.body[-1]:
        return not cell.lines[-1].rstrip().endswith(";")
    return False


# -- the table ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """``names``: qualified call names (``numpy.random.default_rng``), every function of a module
    (``numpy.random.*``), a method or function by its last name on anything (``*.seed``), or an event (``%seed``,
    ``<set-order>``, ``<cuda>``). ``test``: which of those calls count. ``unless``: what, switched on earlier, makes it
    harmless (a generator family seeded, or "deterministic"). ``at``: where it draws, where that is not where it is
    written (dropout draws when the model runs): what ``unless`` must come before."""

    kind: str
    names: tuple[str, ...]
    fix: str
    test: Test = always
    unless: str | None = None
    at: Callable[[_Event, _Scope], Position] | None = None

    @functools.cached_property
    def _patterns(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The call names it matches: (qualified names, modules of ``module.*``, last names of ``*.name``)."""
        calls = [name for name in self.names if name[0] not in "%<"]
        exact = frozenset(name for name in calls if not name.startswith("*.") and not name.endswith(".*"))
        modules = frozenset(name[:-2] for name in calls if name.endswith(".*"))
        return exact, modules, frozenset(name[2:] for name in calls if name.startswith("*."))

    def calls(self, qualname: str | None, last: str) -> bool:
        """Whether it names the call ``qualname`` (None where it is not a dotted name), whose last part is ``last``."""
        exact, modules, lasts = self._patterns
        if last in lasts:
            return True
        return qualname is not None and (qualname in exact or qualname.rpartition(".")[0] in modules)


def _under(module: str, names: str) -> tuple[str, ...]:
    """``_under("time", "time perf_counter")`` -> ``("time.time", "time.perf_counter")``."""
    return tuple(f"{module}.{name}" for name in names.split())


FIX_SEED = "seed first: %seed N (or %seed N --auto)"
FIX_STATE = "pass random_state=SEED, or %seed N"
FIX_EVAL = "call model.eval() before inference (dropout draws in train mode), or %seed N"
FIX_HASH = 'set PYTHONHASHSEED=0 in the kernel\'s environment (kernel.json "env"), or sort: sorted(...)'
FIX_ADDRESS = "keep the objects in a list, or sort them: sorted(s, key=...)"
NUMPY_GENERATORS = _under("numpy.random", "default_rng RandomState SeedSequence PCG64 PCG64DXSM MT19937 Philox SFC64")
NUMPY_NOT_DRAWS = _words("seed get_state set_state Generator BitGenerator get_bit_generator set_bit_generator") | {
    name.rpartition(".")[2] for name in NUMPY_GENERATORS
}
RANDOM_NOT_DRAWS = _words("seed getstate setstate Random SystemRandom")
TF_NOT_DRAWS = _words("set_seed Generator get_global_generator set_global_generator experimental")
TORCH_DRAWS = (
    *_under(
        "torch", "rand rand_like randn randn_like randint randint_like randperm bernoulli multinomial normal poisson"
    ),
    "torch.nn.functional.gumbel_softmax",
    "torch.utils.data.random_split",
)
DROPOUT_LAYER_NAMES = _words("Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout")
DROPOUT_LAYERS = tuple(f"torch.nn.{name}" for name in sorted(DROPOUT_LAYER_NAMES))
DROPOUT_FUNCTIONS = _under(
    "torch.nn.functional", "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout"
)
TENSOR_DRAWS = _under("*", "uniform_ normal_ random_ bernoulli_ exponential_ cauchy_")
TORCH_LAYERS = _words(
    "Linear Bilinear LazyLinear Embedding EmbeddingBag MultiheadAttention PReLU RNN LSTM GRU RNNCell LSTMCell GRUCell "
    "Transformer TransformerEncoderLayer TransformerDecoderLayer"
) | {f"{conv}{d}d" for conv in ("Conv", "ConvTranspose", "LazyConv", "LazyConvTranspose") for d in (1, 2, 3)}
CLOCK = (
    *_under("time", "time time_ns perf_counter perf_counter_ns monotonic monotonic_ns process_time process_time_ns"),
    *_under("time", "thread_time ctime localtime gmtime asctime strftime"),
    *_under("datetime.datetime", "now today utcnow"),
    *_under("pandas.Timestamp", "now today"),
    "datetime.date.today",
)

# Most specific first: a cause found by an earlier rule is listed before one found by a later rule.
RULES: tuple[Rule, ...] = (
    Rule("local-generator", NUMPY_GENERATORS, "seed it: seedmagic.rng() or np.random.default_rng(SEED)", unseeded),
    Rule("local-generator", ("random.Random",), "seed it: random.Random(SEED)", unseeded),
    Rule(
        "local-generator", ("*.seed",), "seed it: seedmagic.torch_generator() or g.manual_seed(SEED)", object_reseeded
    ),
    Rule(
        "local-generator",
        ("tensorflow.random.Generator.from_non_deterministic_state",),
        "seed it: tf.random.Generator.from_seed(SEED)",
    ),
    Rule("os-entropy", _under("os", "urandom getrandom"), "derive it from the seed: seedmagic.rng().bytes(n)"),
    Rule(
        "os-entropy",
        _under("secrets", "token_bytes token_hex token_urlsafe"),
        "derive it from the seed: seedmagic.rng().bytes(n), .hex() for text",
    ),
    Rule(
        "os-entropy",
        _under("uuid", "uuid4 uuid1"),
        "derive it from the seed: uuid.UUID(int=random.getrandbits(128), version=4) after %seed N",
    ),
    Rule(
        "os-entropy",
        ("random.SystemRandom", *_under("secrets", "SystemRandom choice randbelow randbits")),
        "derive it from the seed: random.Random(SEED) or seedmagic.rng()",
    ),
    Rule("os-entropy", ("%seed",), "fix the seed: %seed N instead of %seed --random", random_seed_magic),
    Rule("clock", CLOCK, "keep clock readings out of the output, or mark the cell's output as varying", reads_now),
    Rule(
        "global-generator",
        ("random.seed", "numpy.random.seed", *_under("torch", "seed random.seed cuda.seed cuda.seed_all")),
        "give it a seed, or use %seed N: without one it reseeds from OS entropy",
        unseeded,
    ),
    Rule("global-generator", ("random.*",), FIX_SEED, draw(RANDOM_NOT_DRAWS), unless="random"),
    Rule("global-generator", ("numpy.random.*",), FIX_SEED, draw(NUMPY_NOT_DRAWS), unless="numpy"),
    Rule("global-generator", SKLEARN_DRAWS, FIX_STATE, sklearn_draws, unless="numpy"),
    Rule("global-generator", ("*.sample",), FIX_STATE, pandas_sample, unless="numpy"),
    Rule("global-generator", TORCH_DRAWS, FIX_SEED, no_generator, unless="torch"),
    Rule("global-generator", ("torch.nn.init.*",), FIX_SEED, init_draw, unless="torch"),
    Rule("global-generator", TENSOR_DRAWS, FIX_SEED, tensor_draw, unless="torch"),
    Rule("global-generator", ("torch.nn.*",), FIX_SEED, torch_layer, unless="torch"),
    Rule("global-generator", DROPOUT_FUNCTIONS, FIX_SEED, dropout_always, unless="torch"),
    Rule(
        "global-generator",
        (*DROPOUT_LAYERS, *DROPOUT_FUNCTIONS),
        FIX_SEED,
        dropout_in_training,
        unless="torch",
        at=first_step,
    ),
    Rule(
        "global-generator",
        (*DROPOUT_LAYERS, *DROPOUT_FUNCTIONS),
        FIX_EVAL,
        dropout_at_inference,
        unless="torch",
        at=in_the_differing_cell,
    ),
    Rule(
        "global-generator",
        ("*.DataLoader",),
        "%seed N, or generator=seedmagic.torch_generator()",
        shuffles_without_generator,
        unless="torch",
    ),
    Rule("global-generator", ("tensorflow.random.*", "keras.random.*"), FIX_SEED, draw(TF_NOT_DRAWS), "tensorflow"),
    Rule(
        "dataloader-workers",
        ("*.DataLoader",),
        "worker_init_fn=seedmagic.worker_init_fn, generator=seedmagic.torch_generator()",
        workers_without_generator,
        unless="torch",
    ),
    Rule("dataloader-workers", ("*.DataLoader",), "drop in_order=False: batches come as workers finish", out_of_order),
    Rule("hash-order", ("<set-order>",), FIX_HASH),
    Rule("hash-order", ("<address-order>",), FIX_ADDRESS),
    Rule("hash-order", ("hash",), 'set PYTHONHASHSEED=0 in the kernel\'s environment (kernel.json "env")', hashes_text),
    Rule(
        "listdir-order",
        (*_under("os", "listdir scandir"), *_under("glob", "glob iglob"), *_under("*", "iterdir glob rglob")),
        "sort it: sorted(...)",
        unsorted,
    ),
    Rule("listdir-order", _under("os", "walk fwalk"), "sort it: dirs.sort() and sorted(files) in the walk", unsorted),
    Rule("gpu-kernel", ("<cuda>", "*.cuda"), "%seed N --deterministic", cuda, unless="deterministic"),
)

# What makes a rule's ``unless`` true from here on: the generator families a call seeds, or "deterministic".
ALL = ALL_GENERATORS
GUARDS: dict[str, frozenset[str]] = {
    "random.seed": frozenset({"random"}),
    "numpy.random.seed": frozenset({"numpy"}),
    "torch.manual_seed": frozenset({"torch"}),
    "torch.random.manual_seed": frozenset({"torch"}),
    "tensorflow.random.set_seed": frozenset({"tensorflow"}),
    **dict.fromkeys(("keras.utils.set_random_seed", "tensorflow.keras.utils.set_random_seed"), ALL),
    **dict.fromkeys(("seedmagic.seed_all", "seedmagic.seeded", "*.seed_everything", "*.set_seed"), ALL),
    "torch.use_deterministic_algorithms": frozenset({"deterministic"}),
    "seedmagic.set_deterministic": frozenset({"deterministic"}),
    "tensorflow.config.experimental.enable_op_determinism": frozenset({"deterministic"}),
}


@functools.lru_cache(maxsize=4096)
def _known(qualname: str) -> bool:
    """Whether a rule or a guard names ``qualname``: how ``from x import *`` names are told apart from others."""
    return qualname in GUARDS or any(rule.calls(qualname, qualname.rpartition(".")[2]) for rule in RULES)


def _matches(rule: Rule, event: _Event, scope: _Scope) -> bool:
    if event.key == "call":
        call = _call(event)
        qualname, last = scope.qualname(call.func), _called(call, scope)
        named = rule.calls(qualname, last)
    else:
        named = event.key in rule.names
    return named and rule.test(event, scope)


def _magic_guards(name: str, args: str) -> frozenset[str]:
    """``%seed 0 --only torch,numpy --deterministic`` -> {"torch", "numpy", "deterministic"}; ``%%seeded`` seeds with
    the session seed when it is given none; ``%seed --random`` seeds from OS entropy."""
    words = args.split()
    families: set[str] = set()
    given = bool(words) and not words[0].startswith("-")
    if (given or name == "seeded") and "--random" not in words:
        families |= ALL_GENERATORS
        for option, keep in (("--only", True), ("--skip", False)):
            if option in words[:-1]:
                listed = set(words[words.index(option) + 1].split(","))
                families = families & listed if keep else families - listed
    if "--deterministic" in words:
        families.add("deterministic")
    return frozenset(families)


def _guards(event: _Event, scope: _Scope, seeders: dict[str, frozenset[str]]) -> frozenset[str]:
    """What the event seeds or switches on (empty for most events)."""
    if event.key in ("%seed", "%seeded"):
        return _magic_guards(event.key[1:], event.args)
    if event.key != "call":
        return frozenset()
    call = _call(event)
    qualname = scope.qualname(call.func) or ""
    if qualname in seeders:  # a function of the notebook's that seeds
        return seeders[qualname]
    families = GUARDS.get(qualname) or GUARDS.get(f"*.{_called(call, scope)}", frozenset())
    if "deterministic" in families:  # use_deterministic_algorithms(False) switches it off
        flag = call.args[0] if call.args else _keyword(call, "mode")
        return frozenset() if isinstance(flag, ast.Constant) and not flag.value else families
    if not _seed_given(call):  # random.seed(), seed_everything(): a seed from OS entropy
        return frozenset()
    deterministic = _keyword(call, "deterministic")
    if qualname == "seedmagic.seed_all" and isinstance(deterministic, ast.Constant) and deterministic.value:
        return families | {"deterministic"}
    return families


# -- what the notebook binds and changes --------------------------------------------------------------------------

# Calls that change their arguments in place: ``np.random.shuffle(x)``, ``nn.init.normal_(w)``.
IN_PLACE = _words("shuffle permutation_ fill_ copy_")
# Methods that only read their object (``df.head()``, ``x.item()``, ``model.predict(X)``), unless given inplace=True.
# Not those that change a torch module in place while they make a new tensor: ``cpu``, ``float``, ``to``, ``apply``.
READS_ONLY = _words(
    "item tolist numpy detach clone copy size dim numel mean sum std var max min argmax argmin abs round reshape "
    "view flatten squeeze unsqueeze permute transpose astype predict "
    "predict_proba predict_log_proba decision_function score transform inverse_transform get_params head tail "
    "describe info value_counts unique nunique groupby agg aggregate query isna isnull notna notnull corr cov plot "
    "hist items keys values get format join split strip lower upper startswith endswith count index find iterrows "
    "itertuples parameters named_parameters children named_children modules named_modules state_dict buffers "
    "sample any all cumsum cumprod prod median quantile nlargest nsmallest idxmax idxmin to_numpy to_list to_dict "
    "to_string tobytes dot matmul eq ne lt gt le ge equal allclose isclose norm exp log sqrt sort_values sort_index "
    "drop dropna fillna reset_index set_index rename replace merge assign pivot pivot_table melt"
)
# What holds the objects it is given or comes from, so that changing one changes the other: ``params = [W, b]``,
# ``opt = torch.optim.SGD(model.parameters())``, ``pipe = make_pipeline(scaler, clf)``.
HOLDERS = _words(
    "list tuple dict iter torch.nn.Sequential torch.nn.ModuleList torch.nn.ModuleDict torch.nn.ParameterList "
    "torch.nn.ParameterDict sklearn.pipeline.make_pipeline sklearn.pipeline.Pipeline"
)
HOLDER_METHODS = _words("parameters named_parameters children named_children modules named_modules state_dict buffers")


@dataclass(frozen=True)
class _Function:
    """What a function of the notebook's changes when called: notebook names, and whether one of its arguments."""

    changes: frozenset[str]
    arguments: bool


@dataclass
class _Notebook:
    """The cells up to the differing one, read: the names at each cell, the functions that change what they are
    given, which names hold the same objects, and the names bound to sets, to lists (what they hold) and to
    classes (whether their instances hash by address)."""

    cells: dict[int, _Cell] = field(default_factory=dict)
    names: dict[int, _Names] = field(default_factory=dict)
    known: _Names = field(default_factory=_Names)
    functions: dict[str, _Function] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # name -> "text" or "object"
    elements: dict[str, str] = field(default_factory=dict)  # name of a list display -> what it holds
    classes: dict[str, str] = field(default_factory=dict)  # class -> "object" (hashed by address) or "value"
    depends: list[tuple[_Cell, ast.stmt]] | None = None  # what the last cell depends on, once found

    def together(self, names: set[str]) -> set[str]:
        """The names, and those that hold (or are held by) the same objects."""
        together: set[str] = set()
        for name in names:
            together |= self.groups.get(name, {name})
        return together


def _notebook(sources: Sequence[str | None], index: int) -> _Notebook | None:
    """The cells up to ``index`` read, or None where ``index`` is not a code cell. Read once for the causes of a cell
    and the cells it uses (verify asks both, cell after cell)."""
    if not 0 <= index < len(sources) or sources[index] is None:
        return None
    return _read_notebook(tuple(sources[: index + 1]))


@functools.lru_cache(maxsize=4)
def _read_notebook(sources: tuple[str | None, ...]) -> _Notebook | None:
    """The notebook read up to its last cell, the differing one."""
    index = len(sources) - 1
    notebook = _Notebook()
    for k in range(index + 1):
        cell = _read(k, sources[k])
        if cell is not None:
            notebook.cells[k] = cell
            notebook.known.learn(cell.tree)
            notebook.names[k] = notebook.known.copy()
    if index not in notebook.cells:
        return None
    held: dict[str, set[str]] = {}
    for cell in notebook.cells.values():
        names = notebook.names[cell.index]
        for stmt in cell.tree.body:
            _learn(stmt, names, notebook, held)
    notebook.groups = _groups(held, notebook.known.modules)
    return notebook


def _learn(stmt: ast.stmt, names: _Names, notebook: _Notebook, held: dict[str, set[str]]) -> None:
    """What one statement tells: a function, a class, a set, a list, what holds what."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        notebook.functions[stmt.name] = _function(stmt, notebook)
    elif isinstance(stmt, ast.ClassDef):
        notebook.classes[stmt.name] = _class_hash(stmt, notebook)
    for node in _walk(stmt, into_scopes=False):
        value = getattr(node, "value", None)
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or value is None:
            continue
        bound = node.targets if isinstance(node, ast.Assign) else [node.target]
        targets = [t.id for t in bound if isinstance(t, ast.Name)]
        holds = _set_holds(value, names, notebook)
        listed = isinstance(value, (ast.List, ast.Tuple, ast.ListComp))
        inside = _elements_of(value, names, notebook) if listed else None
        for target in targets:
            notebook.sets.pop(target, None)
            notebook.elements.pop(target, None)
            if holds is not None:
                notebook.sets[target] = holds
            if inside is not None:
                notebook.elements[target] = inside
            held.setdefault(target, set()).update(_held(value, names))


def _class_hash(node: ast.ClassDef, notebook: _Notebook) -> str:
    """Whether instances hash by address ("object"): no ``__eq__`` or ``__hash__`` of its own, no decorator (a
    frozen dataclass hashes by value), no base that hashes by value (``tuple``, ``NamedTuple``, ``Enum``)."""
    if node.decorator_list:
        return "value"
    own = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    own |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    if own & {"__eq__", "__hash__"}:
        return "value"
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name in _VALUE_BASES or notebook.classes.get(name) == "value":
            return "value"
    return "object"


def _held(value: ast.expr, names: _Names) -> set[str]:
    """The names whose objects ``value`` holds: ``[W, b]``, ``model.parameters()``, ``SGD(model.parameters())``."""
    inside: list[ast.expr] = []
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        inside = value.elts
    elif isinstance(value, ast.Dict):
        inside = [v for v in value.values if v is not None]
    elif isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in HOLDER_METHODS and not names.is_module(func.value):
            return _root(func.value)
        qualname = names.qualname(func) or ""
        if qualname in HOLDERS or qualname.startswith("torch.optim."):
            inside = [*value.args, *(k.value for k in value.keywords)]
    found: set[str] = set()
    for node in inside:
        found |= _held_one(node, names)
    return found


def _held_one(node: ast.expr, names: _Names) -> set[str]:
    if isinstance(node, ast.Starred):
        node = node.value
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return set() if names.is_module(node) else _root(node)
    return _held(node, names)


def _groups(held: dict[str, set[str]], modules: set[str]) -> dict[str, frozenset[str]]:
    """Names that hold the same objects, each mapped to all of its group."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for holder, inside in held.items():
        for name in inside - modules:
            parent[find(name)] = find(holder)
    members: dict[str, set[str]] = {}
    for name in parent:
        members.setdefault(find(name), set()).add(name)
    return {name: frozenset(members[find(name)]) for name in parent}


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, notebook: _Notebook) -> _Function:
    """What calling the function changes: the notebook's names it changes in place (or rebinds, ``global``), and
    whether it changes one of its arguments in place."""
    arguments = {arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg)}
    declared = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
    changed = _in_place(ast.walk(node), notebook) - {node.name}
    rebound = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    local = (_local_names(node) | arguments) - declared
    return _Function(frozenset((changed - local) | (rebound & declared)), bool(changed & arguments))


def _in_place(nodes: Iterable[ast.AST], notebook: _Notebook) -> set[str]:
    """The names whose objects these nodes change in place: ``x[0] = 1``, ``m.w = 2``, ``w -= g``, ``m.fit(X)``,
    ``np.random.shuffle(x)``, a call of the notebook's function that changes them."""
    changed: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            changed |= _root(node)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed.add(node.target.id)
        elif isinstance(node, ast.Call):
            changed |= _changed_by_call(node, notebook)
    return changed


def _changed_by_call(call: ast.Call, notebook: _Notebook) -> set[str]:
    changed: set[str] = set()
    name = _last_name(call)
    if isinstance(call.func, ast.Attribute):
        in_place = _is_constant(_keyword(call, "inplace"), True)
        if name not in READS_ONLY or in_place:
            changed |= _root(call.func.value)  # data.append(x), model.fit(X, y), opt.step()
    arguments = [*call.args, *(k.value for k in call.keywords)]
    function = notebook.functions.get(call.func.id) if isinstance(call.func, ast.Name) else None
    if function is not None:
        changed |= function.changes
    if name in IN_PLACE or name.endswith("_") or (function is not None and function.arguments):
        for arg in arguments:
            changed |= _root(arg)
    return changed


# What stands for the gradients ``loss.backward()`` leaves in the parameters, that ``opt.step()`` and ``p.grad`` read.
GRADIENTS = "<gradients>"


def _uses(stmt: ast.stmt) -> set[str]:
    """Names the statement reads from the notebook: not those local to its comprehensions and functions; and the
    gradients, where it steps an optimizer or reads ``.grad``."""
    loads, local = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.add(node.id)
        elif (isinstance(node, ast.Attribute) and node.attr == "grad" and isinstance(node.ctx, ast.Load)) or (
            isinstance(node, ast.Call) and _last_name(node) == "step"
        ):
            loads.add(GRADIENTS)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *_COMPREHENSIONS)):
            local |= _local_names(node)
    return loads - local


def _local_names(scope: ast.AST) -> set[str]:
    """The names a function or comprehension binds for itself: its arguments, loop variables and assignments."""
    names = {arg.arg for arg in ast.walk(scope.args) if isinstance(arg, ast.arg)} if hasattr(scope, "args") else set()
    inner = scope.generators if isinstance(scope, _COMPREHENSIONS) else getattr(scope, "body", [])
    for node in inner if isinstance(inner, list) else [inner]:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
    return names


def _touches(stmt: ast.stmt, notebook: _Notebook) -> tuple[set[str], set[str]]:
    """(names the statement binds or may change, with those that hold the same objects; names it surely rebinds)."""
    touched: set[str] = set()
    nodes = list(_walk(stmt, into_scopes=False))
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            touched.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            touched.add(node.name)
        elif isinstance(node, ast.alias) and node.name != "*":
            touched.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            # for p in params: p.data -= lr * p.grad  changes what params holds
            looped = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            body = [sub for stmt_ in node.body for sub in ast.walk(stmt_)]
            if looped & _in_place(body, notebook):
                touched |= _roots(node.iter)
    touched |= _in_place(nodes, notebook)
    calls = {_last_name(node) for node in nodes if isinstance(node, ast.Call)}
    if calls & {"backward", "zero_grad"}:
        touched.add(GRADIENTS)
    rebinds: set[str] = set()
    if isinstance(stmt, ast.Assign):
        rebinds = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        rebinds = {stmt.name}
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        rebinds = {a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"}
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and _last_name(stmt.value) == "zero_grad":
        rebinds = {GRADIENTS}  # opt.zero_grad(): the gradients from before are gone
    return notebook.together(touched), rebinds


def _root(node: ast.AST) -> set[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _roots(node: ast.AST) -> set[str]:
    """The names an iterable comes from: ``params``, ``model.parameters()``, ``zip(a, b)``."""
    if isinstance(node, ast.Call):
        found = _roots(node.func.value) if isinstance(node.func, ast.Attribute) else set()
        for arg in node.args:
            found |= _roots(arg)
        return found
    return _root(node)


def _depends_on(notebook: _Notebook, index: int) -> list[tuple[_Cell, ast.stmt]]:
    """The differing cell's statements, then those of earlier cells that bind or change a name it (or one of these
    statements) needs, nearest first. Modules are not followed: ``np.random.seed(0)`` does not make every cell that
    uses ``np`` depend on it (what seeding does is the guards' business)."""
    if notebook.depends is not None:
        return notebook.depends
    chosen: list[tuple[_Cell, ast.stmt]] = []
    needed: set[str] = set()
    for k in range(index, -1, -1):
        cell = notebook.cells.get(k)
        if cell is None:
            continue
        for stmt in reversed(cell.tree.body):
            touched, rebinds = _touches(stmt, notebook)
            if k == index or touched & needed:
                chosen.append((cell, stmt))
                needed = (needed - rebinds) | (_uses(stmt) - notebook.known.modules)
    notebook.depends = chosen
    return chosen


def cells_used(sources: Sequence[str | None], index: int) -> frozenset[int]:
    """The earlier cells whose statements code cell ``index`` depends on (they bind or change a name it needs, or
    one that those statements need): where a difference that shows in ``index`` may have come from."""
    notebook = _notebook(sources, index)
    if notebook is None:
        return frozenset()
    return frozenset(cell.index for cell, _ in _depends_on(notebook, index) if cell.index != index)


# -- the entry point ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _gpu_devices() -> bool:
    dev = pathlib.Path("/dev")
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists()


def gpu_visible() -> bool:
    """Whether this machine shows a GPU to the kernels it starts (verify's run here): an NVIDIA (or ROCm) device, not
    hidden by ``CUDA_VISIBLE_DEVICES``."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    return _gpu_devices()


def shows_cuda(outputs: Iterable[str]) -> bool:
    """Whether a run's outputs show a cuda device: ``device='cuda:0'`` in a tensor, ``cuda`` printed as the device."""
    return any(_CUDA_SHOWN.search(text) for text in outputs)


def likely_causes(
    sources: Sequence[str | None], index: int, *, outputs: Iterable[str] = (), gpu: bool | None = None
) -> list[Cause]:
    """Why code cell ``index`` may differ between runs. ``sources`` is every cell's source in notebook order (None for
    markdown/raw cells). Looks in that cell first, then in the earlier cells it depends on (names it uses that they
    bind or change; e.g. ``rng = np.random.default_rng()`` in cell 2, ``rng.random()`` in cell 5). Most specific
    first; empty when nothing is found.

    ``gpu``: whether the run had a GPU; None when not known, and then a GPU on this machine (``gpu_visible()``) or a
    cuda device in ``outputs`` (the texts of the executed notebook's outputs) says it had. Without that, a GPU cause
    is named only where the code uses cuda unconditionally; with ``gpu=False``, never."""
    notebook = _notebook(sources, index)
    if notebook is None:
        return []
    if gpu is None and (gpu_visible() or shows_cuda(outputs)):
        gpu = True
    cells = notebook.cells

    # What was seeded (or made deterministic) where: every cell up to the differing one, in notebook order.
    seeders: dict[str, frozenset[str]] = {}
    guards: list[tuple[Position, frozenset[str]]] = []
    for cell in cells.values():
        scope = _Scope(notebook.names[cell.index], notebook, index, gpu)
        if cell.magic and cell.magic[0] == "seeded":
            guards.append(((cell.index, 0, -1), _magic_guards(*cell.magic)))
        for stmt in cell.tree.body:
            for event in _events(cell, stmt, scope):
                families = _guards(event, scope, seeders)
                if families and event.deferred and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    seeders[stmt.name] = seeders.get(stmt.name, frozenset()) | families
                elif families and not event.deferred:
                    guards.append((event.position, families))

    depends = _depends_on(notebook, index)
    chain = _chain(depends, notebook, index)
    found: dict[tuple[str, int], tuple[int, int, Cause]] = {}
    for cell, stmt in depends:
        scope = _Scope(notebook.names[cell.index], notebook, index, gpu, chain)
        for event in _events(cell, stmt, scope):
            for rank, rule in enumerate(RULES):
                if not _matches(rule, event, scope):
                    continue
                if rule.at is not None:
                    position = rule.at(event, scope)
                else:  # a function runs when called
                    position = (index, *_END) if event.deferred else event.position
                if rule.unless and any(at < position and rule.unless in fam for at, fam in guards):
                    continue
                line = event.line
                cause = Cause(rule.kind, cell.index, line, cell.text(line), rule.fix)
                key = (rule.kind, cell.index)
                if key not in found or (rank, line) < found[key][:2]:
                    found[key] = (rank, line, cause)
    ordered = sorted(found.values(), key=lambda f: (f[0], f[2].cell != index, -f[2].cell, f[1]))
    return [cause for _, _, cause in ordered]


def _chain(depends: list[tuple[_Cell, ast.stmt]], notebook: _Notebook, index: int) -> _Chain:
    """Where the statements the differing cell depends on put a model in eval or train mode, train it, load it."""
    chain = _Chain()
    for cell, stmt in depends:
        names = notebook.names[cell.index]
        scope = _Scope(names, notebook, index)
        for event in _events(cell, stmt, scope):
            if event.key != "call" or not _on_object(call := _call(event), scope):
                continue
            position = (index, *_END) if event.deferred else event.position
            name = _last_name(call)
            if name == "eval" and not call.args and not call.keywords:
                chain.evals.append(position)
            elif name == "train":
                mode = _argument(call, 0, "mode")
                (chain.evals if isinstance(mode, ast.Constant) and not mode.value else chain.trains).append(position)
            elif name in ("backward", "step"):
                chain.steps.append(position)
            elif name == "load_state_dict":
                chain.loads.append(position)
    return chain
