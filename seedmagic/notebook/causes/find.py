"""Finding a cell's likely causes: its statements and those it depends on matched against the rules, after what was
seeded before it, with the evidence that the run had a GPU."""

from __future__ import annotations

import ast
import functools
import os
import pathlib
import re
from collections.abc import Iterable, Sequence

from .bindings import Notebook, notebook_up_to
from .cause import Cause
from .cells import Cell
from .depends import depends_on
from .events import END, Chain, Position, Scope, call_of, events_of, on_object
from .rules import RULES, guards_of, magic_guards, matches
from .syntax import argument, last_name

# A cuda device in what a run printed: a tensor's repr, a torch.device, "cuda:0", a line that ends with the device.
_CUDA_SHOWN = re.compile(r"device\(type='cuda'|device='cuda|\bcuda:\d+\b|(?:^|[\s:=])cuda\s*$", re.MULTILINE)


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
    notebook = notebook_up_to(sources, index)
    if notebook is None:
        return []
    if gpu is None and (gpu_visible() or shows_cuda(outputs)):
        gpu = True
    cells = notebook.cells

    # What was seeded (or made deterministic) where: every cell up to the differing one, in notebook order.
    seeders: dict[str, frozenset[str]] = {}
    guards: list[tuple[Position, frozenset[str]]] = []
    for cell in cells.values():
        scope = Scope(notebook.names[cell.index], notebook, index, gpu)
        if cell.magic and cell.magic[0] == "seeded":
            guards.append(((cell.index, 0, -1), magic_guards(*cell.magic)))
        for stmt in cell.tree.body:
            for event in events_of(cell, stmt, scope):
                families = guards_of(event, scope, seeders)
                if families and event.deferred and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    seeders[stmt.name] = seeders.get(stmt.name, frozenset()) | families
                elif families and not event.deferred:
                    guards.append((event.position, families))

    depends = depends_on(notebook, index)
    chain = _chain(depends, notebook, index)
    found: dict[tuple[str, int], tuple[int, int, Cause]] = {}
    for cell, stmt in depends:
        scope = Scope(notebook.names[cell.index], notebook, index, gpu, chain)
        for event in events_of(cell, stmt, scope):
            for rank, rule in enumerate(RULES):
                if not matches(rule, event, scope):
                    continue
                if rule.at is not None:
                    position = rule.at(event, scope)
                else:  # a function runs when called
                    position = (index, *END) if event.deferred else event.position
                if rule.unless and any(at < position and rule.unless in fam for at, fam in guards):
                    continue
                line = event.line
                cause = Cause(rule.kind, cell.index, line, cell.text(line), rule.fix)
                key = (rule.kind, cell.index)
                if key not in found or (rank, line) < found[key][:2]:
                    found[key] = (rank, line, cause)
    ordered = sorted(found.values(), key=lambda f: (f[0], f[2].cell != index, -f[2].cell, f[1]))
    return [cause for _, _, cause in ordered]


def _chain(depends: list[tuple[Cell, ast.stmt]], notebook: Notebook, index: int) -> Chain:
    """Where the statements the differing cell depends on put a model in eval or train mode, train it, load it."""
    chain = Chain()
    for cell, stmt in depends:
        names = notebook.names[cell.index]
        scope = Scope(names, notebook, index)
        for event in events_of(cell, stmt, scope):
            if event.key != "call" or not on_object(call := call_of(event), scope):
                continue
            position = (index, *END) if event.deferred else event.position
            name = last_name(call)
            if name == "eval" and not call.args and not call.keywords:
                chain.evals.append(position)
            elif name == "train":
                mode = argument(call, 0, "mode")
                (chain.evals if isinstance(mode, ast.Constant) and not mode.value else chain.trains).append(position)
            elif name in ("backward", "step"):
                chain.steps.append(position)
            elif name == "load_state_dict":
                chain.loads.append(position)
    return chain
