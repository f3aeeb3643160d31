"""Which of the calls a rule names count as causes: tests on what they are given, what surrounds them and what comes
after them."""

from __future__ import annotations

import ast

from .events import Event, Scope, Test, call_of, called, on_object
from .order import ORDER_FREE, bound_and_sorted
from .syntax import is_none, keyword_value, seed_given


def always(event: Event, scope: Scope) -> bool:
    return True


def unseeded(event: Event, scope: Scope) -> bool:
    """``default_rng()``, ``default_rng(None)``, ``random.Random()``, ``random.seed()``: seeded from OS entropy."""
    return not seed_given(call_of(event))


def object_reseeded(event: Event, scope: Scope) -> bool:
    """``g.seed()`` on an object (a ``torch.Generator``, a ``random.Random``): reseeded from OS entropy."""
    call = call_of(event)
    return on_object(call, scope) and not call.args and not call.keywords


def random_seed_magic(event: Event, scope: Scope) -> bool:
    return "--random" in event.args.split()


def reads_now(event: Event, scope: Scope) -> bool:
    """``time.localtime()`` reads the clock; ``time.localtime(t)`` converts ``t``."""
    call = call_of(event)
    name = called(call, scope)
    takes_time = name in ("localtime", "gmtime", "ctime", "asctime")
    return not (takes_time and call.args) and not (name == "strftime" and len(call.args) > 1)


def draw(not_draws: frozenset[str]) -> Test:
    """A module function that draws from the module's generator: not one that seeds, makes a generator or saves
    state, and not one given its own ``generator=`` or ``seed=``."""

    def test(event: Event, scope: Scope) -> bool:
        call = call_of(event)
        own = keyword_value(call, "generator"), keyword_value(call, "seed")
        return called(call, scope) not in not_draws and all(is_none(value) for value in own)

    return test


def no_generator(event: Event, scope: Scope) -> bool:
    """``torch.rand(3)``, not ``torch.rand(3, generator=g)``."""
    return is_none(keyword_value(call_of(event), "generator"))


def tensor_draw(event: Event, scope: Scope) -> bool:
    """``w.normal_()`` on a tensor (an object, not a module), with no ``generator=``, its values not replaced by a
    ``load_state_dict`` after it."""
    return on_object(call_of(event), scope) and no_generator(event, scope) and not loaded_after(event, scope)


def loaded_after(event: Event, scope: Scope) -> bool:
    """Whether ``load_state_dict`` replaces the weights that this draw made: it comes after it in the chain."""
    return any(load > event.position for load in scope.chain.loads)


def shuffles_without_generator(event: Event, scope: Scope) -> bool:
    call = call_of(event)
    shuffle = keyword_value(call, "shuffle")
    turned_on = shuffle is not None and not (isinstance(shuffle, ast.Constant) and not shuffle.value)
    return turned_on and is_none(keyword_value(call, "generator")) and keyword_value(call, "sampler") is None


def _with_workers(call: ast.Call) -> bool:
    workers = keyword_value(call, "num_workers")
    return workers is not None and not (isinstance(workers, ast.Constant) and workers.value in (0, None))


def workers_without_generator(event: Event, scope: Scope) -> bool:
    call = call_of(event)
    return _with_workers(call) and is_none(keyword_value(call, "generator"))


def out_of_order(event: Event, scope: Scope) -> bool:
    call = call_of(event)
    in_order = keyword_value(call, "in_order")
    return _with_workers(call) and isinstance(in_order, ast.Constant) and in_order.value is False


def hashes_text(event: Event, scope: Scope) -> bool:
    """``hash(s)``: a str's hash differs between processes; an int's does not."""
    call = call_of(event)
    return bool(call.args) and not (isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, int))


def unsorted(event: Event, scope: Scope) -> bool:
    """A listing not put in order: not inside ``sorted(...)`` (or ``len``, ``set``...), not sorted later by name."""
    call, cell = call_of(event), event.cell
    node: ast.AST = call
    while not isinstance(node, ast.stmt):
        parent = cell.parents.get(node)
        if parent is None:
            return True
        if isinstance(parent, ast.Call) and node is not parent.func and scope.qualname(parent.func) in ORDER_FREE:
            return False
        node = parent
    return not bound_and_sorted(node, cell)


def cuda(event: Event, scope: Scope) -> bool:
    """A "cuda" device string, or ``x.cuda()`` on an object: where the run had a GPU, or, where that is not known,
    where the code uses cuda whatever the machine has (not under an ``if``, nor ``"cuda" if ... else "cpu"``). Not a
    comparison (``device.type == "cuda"``), and never on a run without a GPU."""
    if (event.key == "call" and not on_object(call_of(event), scope)) or _compared(event):
        return False
    return scope.gpu if scope.gpu is not None else not _conditional(event)


def _compared(event: Event) -> bool:
    """``device.type == "cuda"``: a test, not a use."""
    parent = event.cell.parents.get(event.node)
    return isinstance(parent, ast.Compare)


def _conditional(event: Event) -> bool:
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
