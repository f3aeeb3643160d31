"""What a notebook's cells bind and change: the notebook read up to a cell, the functions that change what they are
given, the names that hold the same objects, and the names bound to sets, lists and classes."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .cells import Cell, Names, read_cell
from .order import VALUE_BASES, elements_of, set_holds
from .syntax import is_constant, keyword_value, last_name, local_names, root, walk, word_set

# Calls that change their arguments in place: ``np.random.shuffle(x)``, ``nn.init.normal_(w)``.
IN_PLACE = word_set("shuffle permutation_ fill_ copy_")
# Methods that only read their object (``df.head()``, ``x.item()``, ``model.predict(X)``), unless given inplace=True.
# Not those that change a torch module in place while they make a new tensor: ``cpu``, ``float``, ``to``, ``apply``.
READS_ONLY = word_set(
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
HOLDERS = word_set(
    "list tuple dict iter torch.nn.Sequential torch.nn.ModuleList torch.nn.ModuleDict torch.nn.ParameterList "
    "torch.nn.ParameterDict sklearn.pipeline.make_pipeline sklearn.pipeline.Pipeline"
)
HOLDER_METHODS = word_set(
    "parameters named_parameters children named_children modules named_modules state_dict buffers"
)


@dataclass(frozen=True)
class _Function:
    """What a function of the notebook's changes when called: notebook names, and whether one of its arguments."""

    changes: frozenset[str]
    arguments: bool


@dataclass
class Notebook:
    """The cells up to the differing one, read: the names at each cell, the functions that change what they are
    given, which names hold the same objects, and the names bound to sets, to lists (what they hold) and to
    classes (whether their instances hash by address)."""

    cells: dict[int, Cell] = field(default_factory=dict)
    names: dict[int, Names] = field(default_factory=dict)
    known: Names = field(default_factory=Names)
    functions: dict[str, _Function] = field(default_factory=dict)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # name -> "text" or "object"
    elements: dict[str, str] = field(default_factory=dict)  # name of a list display -> what it holds
    classes: dict[str, str] = field(default_factory=dict)  # class -> "object" (hashed by address) or "value"
    depends: list[tuple[Cell, ast.stmt]] | None = None  # what the last cell depends on, once found

    def together(self, names: set[str]) -> set[str]:
        """The names, and those that hold (or are held by) the same objects."""
        together: set[str] = set()
        for name in names:
            together |= self.groups.get(name, {name})
        return together


def notebook_up_to(sources: Sequence[str | None], index: int) -> Notebook | None:
    """The cells up to ``index`` read, or None where ``index`` is not a code cell. Read once for the causes of a cell
    and the cells it uses (verify asks both, cell after cell)."""
    if not 0 <= index < len(sources) or sources[index] is None:
        return None
    return _read_notebook(tuple(sources[: index + 1]))


@functools.lru_cache(maxsize=4)
def _read_notebook(sources: tuple[str | None, ...]) -> Notebook | None:
    """The notebook read up to its last cell, the differing one."""
    index = len(sources) - 1
    notebook = Notebook()
    for k in range(index + 1):
        cell = read_cell(k, sources[k])
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


def _learn(stmt: ast.stmt, names: Names, notebook: Notebook, held: dict[str, set[str]]) -> None:
    """What one statement tells: a function, a class, a set, a list, what holds what."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        notebook.functions[stmt.name] = _function(stmt, notebook)
    elif isinstance(stmt, ast.ClassDef):
        notebook.classes[stmt.name] = _class_hash(stmt, notebook)
    for node in walk(stmt, into_scopes=False):
        value = getattr(node, "value", None)
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or value is None:
            continue
        bound = node.targets if isinstance(node, ast.Assign) else [node.target]
        targets = [t.id for t in bound if isinstance(t, ast.Name)]
        holds = set_holds(value, names, notebook)
        listed = isinstance(value, (ast.List, ast.Tuple, ast.ListComp))
        inside = elements_of(value, names, notebook) if listed else None
        for target in targets:
            notebook.sets.pop(target, None)
            notebook.elements.pop(target, None)
            if holds is not None:
                notebook.sets[target] = holds
            if inside is not None:
                notebook.elements[target] = inside
            held.setdefault(target, set()).update(_held(value, names))


def _class_hash(node: ast.ClassDef, notebook: Notebook) -> str:
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
        if name in VALUE_BASES or notebook.classes.get(name) == "value":
            return "value"
    return "object"


def _held(value: ast.expr, names: Names) -> set[str]:
    """The names whose objects ``value`` holds: ``[W, b]``, ``model.parameters()``, ``SGD(model.parameters())``."""
    inside: list[ast.expr] = []
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        inside = value.elts
    elif isinstance(value, ast.Dict):
        inside = [v for v in value.values if v is not None]
    elif isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in HOLDER_METHODS and not names.is_module(func.value):
            return root(func.value)
        qualname = names.qualname(func) or ""
        if qualname in HOLDERS or qualname.startswith("torch.optim."):
            inside = [*value.args, *(k.value for k in value.keywords)]
    found: set[str] = set()
    for node in inside:
        found |= _held_one(node, names)
    return found


def _held_one(node: ast.expr, names: Names) -> set[str]:
    if isinstance(node, ast.Starred):
        node = node.value
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return set() if names.is_module(node) else root(node)
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


def _function(node: ast.FunctionDef | ast.AsyncFunctionDef, notebook: Notebook) -> _Function:
    """What calling the function changes: the notebook's names it changes in place (or rebinds, ``global``), and
    whether it changes one of its arguments in place."""
    arguments = {arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg)}
    declared = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
    changed = changed_in_place(ast.walk(node), notebook) - {node.name}
    rebound = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    local = (local_names(node) | arguments) - declared
    return _Function(frozenset((changed - local) | (rebound & declared)), bool(changed & arguments))


def changed_in_place(nodes: Iterable[ast.AST], notebook: Notebook) -> set[str]:
    """The names whose objects these nodes change in place: ``x[0] = 1``, ``m.w = 2``, ``w -= g``, ``m.fit(X)``,
    ``np.random.shuffle(x)``, a call of the notebook's function that changes them."""
    changed: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            changed |= root(node)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed.add(node.target.id)
        elif isinstance(node, ast.Call):
            changed |= _changed_by_call(node, notebook)
    return changed


def _changed_by_call(call: ast.Call, notebook: Notebook) -> set[str]:
    changed: set[str] = set()
    name = last_name(call)
    if isinstance(call.func, ast.Attribute):
        in_place = is_constant(keyword_value(call, "inplace"), True)
        if name not in READS_ONLY or in_place:
            changed |= root(call.func.value)  # data.append(x), model.fit(X, y), opt.step()
    arguments = [*call.args, *(k.value for k in call.keywords)]
    function = notebook.functions.get(call.func.id) if isinstance(call.func, ast.Name) else None
    if function is not None:
        changed |= function.changes
    if name in IN_PLACE or name.endswith("_") or (function is not None and function.arguments):
        for arg in arguments:
            changed |= root(arg)
    return changed
