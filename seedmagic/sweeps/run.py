"""Running code once per seed, from Python (``seedmagic.sweep``) and from ``%%seeds`` (``sweep_cell``), each run
as ``%%seeded k --isolate`` runs, into a ``SeedSweep``."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Sequence
from types import CodeType
from typing import TYPE_CHECKING, Any

from ..arguments import InvalidArgumentType, check_bool
from ..engine import ENGINE, Engine
from ..errors import one_line, shown
from .metrics import CELL, NEEDED, SCALAR, SHORT, NotAMetric, as_metric
from .progress import NotebookProgress, Progress, TextProgress
from .result import SeedRun, SeedSweep
from .seeds import as_count, names_a_count, resolve

if TYPE_CHECKING:
    from ..arguments import Selection


class SweepInterrupted(KeyboardInterrupt):
    """``sweep()`` was interrupted: ``.sweep`` holds the seeds that ran."""

    __module__ = "seedmagic.sweeps"  # as a traceback names it: seedmagic.sweeps.SweepInterrupted, its public home

    def __init__(self, sweep: SeedSweep) -> None:
        super().__init__(f"interrupted after {len(sweep.runs)} of {len(sweep.planned)} seeds")
        self.sweep = sweep


def _run_sweep(
    run: Callable[[], Any],
    seeds: Sequence[int],
    *,
    engine: Engine,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    progress: Progress | None = None,
    metric: str = SCALAR,
    name: str | None = None,
    derived_from: int | None = None,
    same_start: Callable[[Callable[[], Any]], Any] | None = None,
    notes: Callable[[], tuple[str, ...]] = tuple,
    said: tuple[str, str] = CELL,
) -> tuple[SeedSweep, BaseException | None]:
    """Run ``run()`` once per seed, each under ``engine.seeded(seed, isolate=True)`` (and through ``same_start``);
    returns the sweep and, with ``stop_on_error``, the exception that stopped it. A value that is not a metric is
    raised as ``NotAMetric``; an interrupt ends the sweep with what ran."""
    __tracebackhide__ = True
    progress = progress or Progress()
    runs: list[SeedRun] = []
    scalar: bool | None = None
    stopped: BaseException | None = None
    interrupted = False
    stopped_by: str | None = None
    progress.start(len(seeds))

    def finished() -> SeedSweep:
        return SeedSweep(
            tuple(seeds),
            tuple(runs),
            metric if scalar is not False else None,
            name,
            derived_from,
            interrupted,
            notes(),
            stopped_by,
        )

    try:
        for done, seed in enumerate(seeds):
            progress.step(done, seed)
            try:
                with engine.seeded(seed, only=only, skip=skip, isolate=True):
                    value = same_start(run) if same_start is not None else run()
            except KeyboardInterrupt:
                interrupted, stopped_by = True, "interrupt"
                break
            except _Stopped:  # the namespace could not be put back as before: the sweep's notes say why
                interrupted = True
                break
            except Exception as exc:
                runs.append(SeedRun(seed, None, one_line(exc)))
                if stop_on_error:
                    interrupted = len(runs) < len(seeds)
                    stopped_by = "error" if interrupted else None
                    stopped = exc
                    break
                continue
            metrics = as_metric(value, said)
            if scalar is None:
                scalar = not isinstance(metrics, dict)
            elif scalar != (not isinstance(metrics, dict)):
                raise NotAMetric(
                    f"seed {seed} gave {'a dict' if isinstance(metrics, dict) else 'one number'}, the seeds before it "
                    f"{'one number' if scalar else 'a dict'}: every run must give the same kind of metric"
                )
            runs.append(SeedRun(seed, {metric: metrics} if isinstance(metrics, float) else metrics))
        else:
            progress.step(len(seeds), -1)
    except KeyboardInterrupt:  # between two runs
        interrupted, stopped_by = True, "interrupt"
    finally:
        result = finished()
        progress.finish(result)
    return result, stopped


def sweep(
    fn: Callable[[], Any],
    seeds: int | str | Iterable[int],
    *,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    progress: bool = False,
    name: str | None = None,
) -> SeedSweep:
    """Call ``fn()`` once per seed, each call as ``with seedmagic.seeded(seed, isolate=True): fn()``, and collect
    its return value, a number, a dict of numbers or a 0-d tensor or array: ``%%seeds`` for scripts.

    ``seeds``: the seeds (``range(10)``), a ``%%seeds`` text (``"0-9"``, ``"3,7,11"``), or a count (``10``: seeds
    derived from the session seed). A call that raises is recorded for its seed and the sweep goes on, unless
    ``stop_on_error``. An interrupt raises ``SweepInterrupted``, a ``KeyboardInterrupt`` whose ``.sweep`` holds
    what ran. ``progress=True`` shows a line on stderr. Checks every argument before running anything.
    """
    __tracebackhide__ = True
    if not callable(fn):
        raise InvalidArgumentType(f"sweep() needs a function to call, got {shown(fn)}")
    check_bool("stop_on_error", stop_on_error)
    check_bool("progress", progress)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentType(f"name must be a str or None, got {shown(name)}")
    resolved = resolve(seeds, ENGINE)
    ENGINE.seeded(resolved[0], only=only, skip=skip)  # checks only/skip; the context manager is not entered
    metric = getattr(fn, "__name__", SCALAR)
    metric = metric if isinstance(metric, str) and metric.isidentifier() else SCALAR
    called = f"{metric}()" if metric != SCALAR else "the function"
    result, stopped = _run_sweep(
        fn,
        resolved,
        engine=ENGINE,
        only=only,
        skip=skip,
        stop_on_error=stop_on_error,
        progress=TextProgress() if progress else None,
        metric=metric,
        name=name,
        derived_from=ENGINE.seed if _is_count(seeds) else None,
        said=(f"{called} returned", "return"),
    )
    if stopped is not None:
        raise stopped
    if result.interrupted:
        raise SweepInterrupted(result)
    return result


def _is_count(seeds: int | str | Iterable[int]) -> bool:
    if isinstance(seeds, str):
        return names_a_count(seeds)
    return as_count(seeds) is not None


# -- in a notebook: %%seeds ----------------------------------------------------------------------------------------


_UNWRAPPING_CALLS = frozenset({"float", "int", "round"})
_UNWRAPPING_METHODS = frozenset({"item", "detach", "cpu", "numpy", "tolist", "float", "double", "squeeze"})


def _metric_name(shell: Any, body: str) -> str:
    """The name of a one-number metric: what the cell's last expression means (see ``_name_of``), else ``metric``."""
    try:
        statements = ast.parse(shell.transform_cell(body)).body
    except SyntaxError:
        return SCALAR
    if not statements or not isinstance(statements[-1], ast.Expr):
        return SCALAR
    return _name_of(statements[-1].value, shell.user_ns) or SCALAR


def _name_of(expression: ast.expr, namespace: dict[str, Any]) -> str | None:
    """What a metric is called: the variable, attribute or string key it is read from, past the conversions to a
    number (``acc``, ``float(acc)``, ``acc.item()``, ``history["val_acc"]``); else its text where short
    (``sum(lst)``, ``torch.rand(())``); else the function that computes it (``accuracy(model, splits["A"])``,
    ``model.score(X, y)``); else None."""
    while isinstance(expression, ast.Call) and not expression.keywords:
        function = expression.func
        if isinstance(function, ast.Name) and function.id in _UNWRAPPING_CALLS and function.id not in namespace:
            if not expression.args or isinstance(expression.args[0], ast.Starred):
                break
            expression = expression.args[0]
        elif isinstance(function, ast.Attribute) and function.attr in _UNWRAPPING_METHODS and not expression.args:
            expression = function.value
        else:
            break
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Attribute):
        return expression.attr
    if isinstance(expression, ast.Subscript):
        key = expression.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.isprintable() and key.value:
            return key.value
    text = ast.unparse(expression)
    if len(text) <= SHORT and "\n" not in text:
        return text
    if isinstance(expression, ast.Subscript):  # scores[len(scores) - 1]: scores
        return _name_of(expression.value, namespace)
    if isinstance(expression, ast.Call):
        function = expression.func
        if isinstance(function, ast.Name) and (function.id in namespace or not hasattr(builtins, function.id)):
            return function.id
        if isinstance(function, ast.Attribute):
            root = function.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):  # not torch.rand(9).sum(): that is no one's name
                return function.attr
    return None


class _SameStart:
    """Each run starts from the namespace as it was before the sweep, and afterwards everything it changed is put
    back in place (``namespace.Start``, as ``%%seeded --check`` does): the copies a run needs are made once, at its
    first write, and serve every seed."""

    def __init__(self, namespace: dict[str, Any], codes: list[CodeType], reseed: Callable[[], None]) -> None:
        from ..namespace import Start

        self.start = Start.take(namespace, codes)
        self.reseed = reseed
        self.stopped: str = ""

    def __call__(self, run: Callable[[], Any]) -> Any:
        __tracebackhide__ = True
        from ..writes import NoRoom

        try:
            return self.start.run(run, again=self.reseed)
        except NoRoom as refused:
            self.start.put_back()
            self.stopped = f"the sweep stopped before a write: {refused}; the namespace is as before it"
            raise _Stopped from None
        finally:
            lost, drawn = self.start.lost(), self.start.drawn_into()
            if (lost or drawn) and not self.stopped:
                where = (
                    f"wrote into {', '.join(lost[:3])} where seedmagic could not see it (a thread of its own, a C "
                    "extension)"
                    if lost
                    else f"drew into {', '.join(drawn[:3])}, made before the sweep"
                )
                self.stopped = (
                    f"a run {where}, which cannot be undone: the sweep stopped, and the notebook holds what that "
                    "run left"
                )
                raise _Stopped
            if not (lost or drawn):
                self.start.put_back()

    def notes(self) -> tuple[str, ...]:
        notes = [
            f"{record.path} was used by every run ({getattr(record.kind, 'what', 'its state cannot be read')}): each "
            "run saw what the last left in it"
            for record in self.start.opaque()
        ]
        notes += [
            f"{path} could not be put back after a run ({why}): each later run saw what the last left in it"
            for path, why in self.start.unrestored.items()
        ]
        if self.stopped:
            notes.append(self.stopped)
        return tuple(notes)

    def release(self) -> None:
        self.start.release()


class _Stopped(Exception):
    """The sweep cannot put the namespace back as before (``_SameStart.stopped`` says why), and stops."""


def sweep_cell(
    shell: Any,
    body: str,
    magic_line: str,
    seeds: Sequence[int],
    *,
    engine: Engine = ENGINE,
    only: Selection = None,
    skip: Selection = None,
    stop_on_error: bool = False,
    name: str | None = None,
    derived_from: int | None = None,
    quiet: bool = False,
) -> tuple[SeedSweep, BaseException | None]:
    """Run a cell's body once per seed, each as ``%%seeded k --isolate`` would, each from the same namespace; its
    last expression is the metric. The namespace is left as before the sweep. Returns the sweep and, with
    ``stop_on_error``, the exception that stopped it. The progress shows while it runs (``quiet``: not at all): in
    a notebook, a display emptied when the sweep ends; in a terminal, a line on stderr, cleared."""
    __tracebackhide__ = True
    from ..cell import compile_cell

    engine.seeded(seeds[0], only=only, skip=skip)  # checks only/skip before anything runs
    compiled = compile_cell(shell, body, magic_line)
    if compiled.last_expression is None:
        raise NotAMetric(f"the cell has no last expression: {NEEDED}")
    same_start = _SameStart(shell.user_ns, [*compiled.statements, compiled.last_expression], engine.reseed)
    in_kernel = getattr(shell, "kernel", None) is not None
    progress = Progress() if quiet else NotebookProgress() if in_kernel else TextProgress()
    try:
        return _run_sweep(
            compiled.evaluate,
            seeds,
            engine=engine,
            only=only,
            skip=skip,
            stop_on_error=stop_on_error,
            progress=progress,
            metric=_metric_name(shell, body),
            name=name,
            derived_from=derived_from,
            same_start=same_start,
            notes=same_start.notes,
        )
    finally:
        same_start.release()
