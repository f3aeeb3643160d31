"""Why a notebook cell may give different outputs from run to run: its likely causes, each with the fix.

``likely_causes(sources, index)`` reads the notebook's sources (it runs nothing and imports no framework). It turns
IPython syntax (``%seed 0``, ``!ls``, ``%%seeded 0``) into Python, parses each cell with ``ast``, follows import
aliases through the notebook (``import numpy as np``, ``from numpy.random import default_rng``, ``from x import *``)
and looks at the differing cell and at the statements of earlier cells that bind or change the names it uses
(``rng = np.random.default_rng()`` in cell 2, ``rng.random()`` in cell 5), and at theirs in turn.

One table, ``RULES``, says what is a cause: its kind, the calls (or events) it matches, which of those calls count,
the fix, and what makes it harmless when it comes first. A draw from a global generator is harmless after that
generator was seeded (``%seed``, ``%%seeded``, ``random.seed``, ``np.random.seed``, ``torch.manual_seed``,
``seed_everything``, ``set_seed``, ``tf.random.set_seed``, ``keras.utils.set_random_seed``: the table ``GUARDS``),
and a GPU kernel after deterministic mode was switched on. Code inside a function runs when it is called: it counts
as running in the differing cell. This is static analysis: what a cell computes at run time (a ``getattr``, a
function from another module) is not followed, and a cause is what the code makes likely, not proven.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterator, Sequence
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
    "hash-order": "str hashes (and so set order) differ between processes",
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
_END = (1 << 62, 0)  # where code inside a function runs: any time in the differing cell


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
    ``args``), a set shown or iterated ("<set-order>") or a "cuda" device string ("<cuda>")."""

    key: str
    cell: _Cell
    node: ast.AST
    deferred: bool = False  # inside a function: runs when called
    args: str = ""  # a magic's arguments

    @property
    def line(self) -> int:
        return self.cell.line(self.node)

    @property
    def position(self) -> tuple[int, int, int]:
        return (self.cell.index, self.line, getattr(self.node, "col_offset", -1))


@dataclass
class _Scope:
    """What the tests of a rule may look at: the names at the event's cell, and the notebook's set-valued names."""

    names: _Names
    set_names: set[str]

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
    if _is_set(node, scope) and _shown(node, cell, scope):
        yield _Event("<set-order>", cell, node, deferred)
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


def _is_none(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


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


def always(event: _Event, scope: _Scope) -> bool:
    return True


def unseeded(event: _Event, scope: _Scope) -> bool:
    """``default_rng()``, ``default_rng(None)``, ``random.Random()``, ``random.seed()``: seeded from OS entropy."""
    return not _seed_given(_call(event))


def object_reseeded(event: _Event, scope: _Scope) -> bool:
    """``g.seed()`` on an object (a ``torch.Generator``, a ``random.Random``): reseeded from OS entropy."""
    call = _call(event)
    on_object = isinstance(call.func, ast.Attribute) and not scope.names.is_module(call.func.value)
    return on_object and not call.args and not call.keywords


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


def no_random_state(event: _Event, scope: _Scope) -> bool:
    """``train_test_split(X, y)``: with no ``random_state``, scikit-learn draws from NumPy's global generator."""
    return _is_none(_keyword(_call(event), "random_state"))


def tensor_draw(event: _Event, scope: _Scope) -> bool:
    """``w.normal_()`` on a tensor (an object, not a module), with no ``generator=``."""
    call = _call(event)
    on_object = isinstance(call.func, ast.Attribute) and not scope.names.is_module(call.func.value)
    return on_object and no_generator(event, scope)


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
    bound = [t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)]
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and bound:
        return not any(_sorted_later(cell.tree, name) for name in bound)
    return True


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


def cuda_method(event: _Event, scope: _Scope) -> bool:
    call = _call(event)
    return isinstance(call.func, ast.Attribute) and not scope.names.is_module(call.func.value)


# -- sets of strings, shown or iterated ---------------------------------------------------------------------------

ORDER_FREE = _words("sorted len set frozenset min max sum any all collections.Counter")
SHOWS = _words(
    "print list tuple enumerate str repr iter zip map filter display IPython.display.display numpy.array numpy.asarray "
    "pandas.Series pandas.DataFrame torch.tensor json.dumps"
)
_SET_METHODS = _words("union intersection difference symmetric_difference copy")
_NUMBER = (int, float, complex, bool)
_NUMERIC_CALLS = _words("int float len round abs ord hash range sum min max")
_ARITHMETIC = (ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Pow, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift)


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


def _numbers(nodes: Sequence[ast.expr]) -> bool:
    return all(_number(n) for n in nodes)


def _is_set(node: ast.AST, scope: _Scope) -> bool:
    """A set that may hold strings: ``{"a", "b"}``, ``set(words)``, ``{w for w in words}``, a name bound to one."""
    if isinstance(node, ast.Set):
        return not _numbers(node.elts)
    if isinstance(node, ast.SetComp):
        return not _number(node.elt)
    if isinstance(node, ast.Name):
        return isinstance(node.ctx, ast.Load) and node.id in scope.set_names
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
        return _is_set(node.left, scope) or _is_set(node.right, scope)
    if isinstance(node, ast.Call):
        if scope.qualname(node.func) in ("set", "frozenset"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Call) and scope.qualname(arg.func) == "range":
                return False
            return not (isinstance(arg, (ast.List, ast.Tuple, ast.Set)) and _numbers(arg.elts))
        func = node.func
        return isinstance(func, ast.Attribute) and func.attr in _SET_METHODS and _is_set(func.value, scope)
    return False


def _shown(node: ast.AST, cell: _Cell, scope: _Scope) -> bool:
    """Whether the set's order reaches the output: iterated, printed, joined, listed, or the cell's shown value."""
    parent = cell.parents.get(node)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)):
        return node is parent.iter
    if isinstance(parent, (ast.Starred, ast.FormattedValue)):
        return True
    if isinstance(parent, ast.Call) and node in parent.args:
        func = parent.func
        joins = isinstance(func, ast.Attribute) and func.attr in ("join", "extend", "writelines")
        return joins or scope.qualname(func) in SHOWS
    if isinstance(parent, ast.Attribute) and parent.attr == "pop":
        return True
    if isinstance(parent, ast.Expr) and cell.tree.body and parent is cell.tree.body[-1]:
        return not cell.lines[-1].rstrip().endswith(";")
    return False


def _set_names(cells: Sequence[_Cell], names: dict[int, _Names]) -> set[str]:
    """Names bound to a set anywhere in the notebook up to the differing cell: ``vocab = set(words)``."""
    found: set[str] = set()
    for cell in cells:
        scope = _Scope(names[cell.index], found)
        for node in ast.walk(cell.tree):
            value = getattr(node, "value", None)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and value is not None and _is_set(value, scope):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


# -- the table ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """``names``: qualified call names (``numpy.random.default_rng``), every function of a module
    (``numpy.random.*``), a method or function by its last name on anything (``*.seed``), or an event (``%seed``,
    ``<set-order>``, ``<cuda>``). ``test``: which of those calls count. ``unless``: what, switched on earlier, makes it
    harmless (a generator family seeded, or "deterministic")."""

    kind: str
    names: tuple[str, ...]
    fix: str
    test: Test = always
    unless: str | None = None


def _under(module: str, names: str) -> tuple[str, ...]:
    """``_under("time", "time perf_counter")`` -> ``("time.time", "time.perf_counter")``."""
    return tuple(f"{module}.{name}" for name in names.split())


FIX_SEED = "seed first: %seed N (or %seed N --auto)"
FIX_HASH = 'set PYTHONHASHSEED=0 in the kernel\'s environment (kernel.json "env"), or sort: sorted(...)'
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
    *_under("torch.nn.functional", "dropout dropout1d dropout2d dropout3d alpha_dropout gumbel_softmax"),
    "torch.utils.data.random_split",
    "torch.nn.init.*",
)
SKLEARN_DRAWS = (*_under("sklearn.model_selection", "train_test_split"), *_under("sklearn.utils", "shuffle resample"))
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


def torch_layer(event: _Event, scope: _Scope) -> bool:
    """``nn.Linear(3, 4)``: a layer whose construction draws its initial weights."""
    return _called(_call(event), scope) in TORCH_LAYERS


def cuda(event: _Event, scope: _Scope) -> bool:
    """A "cuda" device string, or ``x.cuda()`` on an object."""
    return event.key != "call" or cuda_method(event, scope)


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
    Rule("global-generator", SKLEARN_DRAWS, "pass random_state=SEED, or %seed N", no_random_state, unless="numpy"),
    Rule("global-generator", TORCH_DRAWS, FIX_SEED, no_generator, unless="torch"),
    Rule("global-generator", TENSOR_DRAWS, FIX_SEED, tensor_draw, unless="torch"),
    Rule("global-generator", ("torch.nn.*",), FIX_SEED, torch_layer, unless="torch"),
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


def _known(qualname: str) -> bool:
    """Whether a rule or a guard names ``qualname``: how ``from x import *`` names are told apart from others."""
    return qualname in GUARDS or any(
        _name_matches(pattern, qualname, qualname.rpartition(".")[2]) for rule in RULES for pattern in rule.names
    )


def _name_matches(pattern: str, qualname: str | None, last: str) -> bool:
    if pattern.startswith("*."):
        return last == pattern[2:]
    if qualname is None:
        return False
    if pattern.endswith(".*"):
        return qualname.rpartition(".")[0] == pattern[:-2]
    return qualname == pattern


def _matches(rule: Rule, event: _Event, scope: _Scope) -> bool:
    if event.key == "call":
        call = _call(event)
        qualname, last = scope.qualname(call.func), _called(call, scope)
        named = any(_name_matches(p, qualname, last) for p in rule.names if p[0] not in "%<")
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


# -- which statements the differing cell depends on ---------------------------------------------------------------

# Calls that change their arguments in place: ``np.random.shuffle(x)``, ``nn.init.normal_(w)``.
IN_PLACE = _words("shuffle permutation_ fill_ copy_")


def _uses(stmt: ast.stmt) -> set[str]:
    """Names the statement reads from the notebook: not those local to its comprehensions and functions."""
    loads, local = set(), set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.add(node.id)
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


def _touches(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds or may change, names it surely rebinds)."""
    touched: set[str] = set()
    for node in _walk(stmt, into_scopes=False):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            touched.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            touched.add(node.name)
        elif isinstance(node, ast.alias) and node.name != "*":
            touched.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            touched |= _root(node)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                touched |= _root(node.func.value)  # data.append(x), rng.shuffle(x)
            if _last_name(node) in IN_PLACE or _last_name(node).endswith("_"):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    touched |= _root(arg)
    rebinds: set[str] = set()
    if isinstance(stmt, ast.Assign):
        rebinds = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        rebinds = {stmt.name}
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        rebinds = {a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"}
    return touched, rebinds


def _root(node: ast.AST) -> set[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _depends_on(cells: dict[int, _Cell], index: int, modules: set[str]) -> list[tuple[_Cell, ast.stmt]]:
    """The differing cell's statements, then those of earlier cells that bind or change a name it (or one of these
    statements) needs, nearest first. Modules are not followed: ``np.random.seed(0)`` does not make every cell that
    uses ``np`` depend on it (what seeding does is the guards' business)."""
    chosen: list[tuple[_Cell, ast.stmt]] = []
    needed: set[str] = set()
    for k in range(index, -1, -1):
        cell = cells.get(k)
        if cell is None:
            continue
        for stmt in reversed(cell.tree.body):
            touched, rebinds = _touches(stmt)
            if k == index or touched & needed:
                chosen.append((cell, stmt))
                needed = (needed - rebinds) | (_uses(stmt) - modules)
    return chosen


def cells_used(sources: Sequence[str | None], index: int) -> frozenset[int]:
    """The earlier cells whose statements code cell ``index`` depends on (they bind or change a name it needs, or
    one that those statements need): where a difference that shows in ``index`` may have come from."""
    if not 0 <= index < len(sources) or sources[index] is None:
        return frozenset()
    cells = {k: cell for k in range(index + 1) if (cell := _read(k, sources[k])) is not None}
    if index not in cells:
        return frozenset()
    known = _Names()
    for cell in cells.values():
        known.learn(cell.tree)
    return frozenset(cell.index for cell, _ in _depends_on(cells, index, known.modules) if cell.index != index)


# -- the entry point ----------------------------------------------------------------------------------------------


def likely_causes(sources: Sequence[str | None], index: int) -> list[Cause]:
    """Why code cell ``index`` may differ between runs. ``sources`` is every cell's source in notebook order (None for
    markdown/raw cells). Looks in that cell first, then in the earlier cells it depends on (names it uses that they
    bind; e.g. ``rng = np.random.default_rng()`` in cell 2, ``rng.random()`` in cell 5). Most specific first; empty
    when nothing is found."""
    if not 0 <= index < len(sources) or sources[index] is None:
        return []
    cells: dict[int, _Cell] = {}
    names: dict[int, _Names] = {}
    known = _Names()
    for k in range(index + 1):
        cell = _read(k, sources[k])
        if cell is not None:
            cells[k] = cell
            known.learn(cell.tree)
            names[k] = known.copy()
    if index not in cells:
        return []
    set_names = _set_names(list(cells.values()), names)

    # What was seeded (or made deterministic) where: every cell up to the differing one, in notebook order.
    seeders: dict[str, frozenset[str]] = {}
    guards: list[tuple[tuple[int, int, int], frozenset[str]]] = []
    for cell in cells.values():
        scope = _Scope(names[cell.index], set_names)
        if cell.magic and cell.magic[0] == "seeded":
            guards.append(((cell.index, 0, -1), _magic_guards(*cell.magic)))
        for stmt in cell.tree.body:
            for event in _events(cell, stmt, scope):
                families = _guards(event, scope, seeders)
                if families and event.deferred and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    seeders[stmt.name] = seeders.get(stmt.name, frozenset()) | families
                elif families and not event.deferred:
                    guards.append((event.position, families))

    found: dict[tuple[str, int], tuple[int, int, Cause]] = {}
    for cell, stmt in _depends_on(cells, index, known.modules):
        scope = _Scope(names[cell.index], set_names)
        for event in _events(cell, stmt, scope):
            position = (index, *_END) if event.deferred else event.position  # a function runs when called
            for rank, rule in enumerate(RULES):
                if not _matches(rule, event, scope):
                    continue
                if rule.unless and any(at < position and rule.unless in fam for at, fam in guards):
                    continue
                line = event.line
                cause = Cause(rule.kind, cell.index, line, cell.text(line), rule.fix)
                key = (rule.kind, cell.index)
                if key not in found or (rank, line) < found[key][:2]:
                    found[key] = (rank, line, cause)
    ordered = sorted(found.values(), key=lambda f: (f[0], f[2].cell != index, -f[2].cell, f[1]))
    return [cause for _, _, cause in ordered]
