"""``seedmagic verify``: run a notebook twice in fresh kernels and compare every code cell's outputs.

A run here is what a user's own run is: the notebook's kernel, its directory as the working directory, the
environment as it is (no seed, no PYTHONHASHSEED added; thread counts aside, below), each cell sent with its id.
``seed``/``auto`` add ``%load_ext seedmagic`` and ``%seed`` to both kernels' start, to show whether seedmagic alone
makes it reproducible.

The two runs share the cores there are (``schedule``): both at once, each with half of them (the thread count set the
same in both through OMP_NUM_THREADS and its kin), or, on one core, one after the other. Two runs at once can show the
same clock reading, so a time that falls within the runs counts as a difference too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import dataclasses
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..records import THREAD_VARIABLES
from .causes import Cause, cells_used, likely_causes
from .cell_ids import send_cell_ids
from .outputs import Output, clock_reading, first_difference, normalized

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager
    from nbformat import NotebookNode

#: What a cell's source says to leave its outputs out of the comparison, as nbval reads it.
IGNORED_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP")
IGNORED_TAGS = ("nbval-ignore-output", "nbval-skip")
DEFAULT_TIMEOUT = 600.0
STARTUP_TIMEOUT = 120.0
# What a kernel says on stderr every time it starts: not why it died.
_CHATTER = re.compile(r"\[IPKernelApp\] WARNING \| Kernel is running over TCP")
RUNS = 2
# What a kernel that could not bind its ports says, and how often such a kernel is started again.
PORT_TAKEN = "Address already in use"
PORT_RETRIES = 2
T = TypeVar("T")


class CannotRun(Exception):
    """The notebook could not be verified (missing, not a notebook, kernel died, a cell hung): one line says why."""


class _PortTaken(CannotRun):
    """The kernel died at its start because a port it was given was taken: it can be started again."""


@dataclass(frozen=True)
class Schedule:
    """How the two runs share the machine: at once or one after the other, and the threads each kernel was given
    (``threads``, set through THREAD_VARIABLES; None: the environment as it is, ``usual`` threads)."""

    cores: int  # usable by this process (its CPU affinity)
    at_once: bool
    usual: int  # the threads a kernel of the user's starts with here: OMP_NUM_THREADS, else one per core
    threads: int | None = None

    @property
    def environment(self) -> dict[str, str]:
        """What the kernels' environment adds to this process's."""
        return {} if self.threads is None else dict.fromkeys(THREAD_VARIABLES, str(self.threads))

    @property
    def note(self) -> str | None:
        """One line on how the runs were made, where it is not as a user's kernel runs alone; else None."""
        cores = f"{self.cores} core{'' if self.cores == 1 else 's'}"
        if not self.at_once:
            return f"ran one after the other ({cores}): about twice one run's time"
        if self.threads is None:
            return None
        threads = f"{self.threads} thread{'' if self.threads == 1 else 's'}"
        # Thread counts change floating-point sums: what repeats with these may not with the user's.
        return f"ran both at once, {threads} each: runs with {self.usual} may still differ"


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a container's or taskset's limit), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _threads_set(environ: Mapping[str, str]) -> int | None:
    """What OMP_NUM_THREADS asks for (the first level of a nested list, ``4,2``), or None when unset or unread."""
    first = environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else None


def schedule(cores: int | None = None, environ: Mapping[str, str] | None = None) -> Schedule:
    """How two runs share ``cores`` (default: those usable here). With two cores or more, both at once, each with
    half of them where a kernel would take more (both with the same count: thread counts can change floating-point
    sums); on one, one after the other, as a kernel runs alone."""
    cores = usable_cores() if cores is None else cores
    usual = _threads_set(os.environ if environ is None else environ) or cores
    if cores < RUNS:
        return Schedule(cores, at_once=False, usual=usual)
    share = cores // RUNS
    return Schedule(cores, at_once=True, usual=usual, threads=share if usual > share else None)


@dataclass(frozen=True)
class CellDifference:
    """A code cell whose outputs differ between the two runs."""

    index: int  # in the notebook's cells, from 0
    cell_id: str | None
    difference: str  # where the runs first part, one line
    causes: tuple[Cause, ...]  # those not already told for the cells in ``after``
    after: tuple[int, ...] = ()  # the earlier differing cells it uses (their indices): it may differ because they do

    @property
    def number(self) -> int:
        """The cell's position in the notebook, from 1, as a reader counts."""
        return self.index + 1

    @property
    def name(self) -> str:
        return f"cell {self.number}" + (f" (id {self.cell_id})" if self.cell_id else "")


@dataclass(frozen=True)
class Verdict:
    """One notebook's result: reproducible or not, the cells that differ (the first one first), the cells left out."""

    path: str
    code_cells: int
    differences: tuple[CellDifference, ...] = ()
    ignored: tuple[int, ...] = ()  # indices of cells marked NBVAL_IGNORE_OUTPUT/NBVAL_SKIP
    seconds: float = 0.0
    setup: tuple[str, ...] = ()  # the lines added to each kernel's start (--seed, --auto)
    missing_ids: int = 0  # code cells without an id: auto mode keys them by their source
    error: str | None = None  # why it could not be verified
    schedule: Schedule | None = None  # how the two runs shared the machine

    @property
    def reproducible(self) -> bool | None:
        """True or False; None when it could not be run."""
        return None if self.error is not None else not self.differences


@dataclass
class Progress:
    """Cells done per run, for a progress display; ``on_change`` is called after every cell."""

    path: str
    total: int
    done: list[int] = field(default_factory=lambda: [0] * RUNS)
    on_change: Callable[[Progress], None] | None = None

    def cell_done(self, run: int) -> None:
        self.done[run] += 1
        if self.on_change is not None:
            self.on_change(self)


def setup_lines(seed: int | None, auto: bool) -> tuple[str, ...]:
    """What ``--seed N`` and ``--auto`` add to each kernel's start (``--auto`` alone seeds with 0)."""
    if seed is None and not auto:
        return ()
    return ("%load_ext seedmagic", f"%seed {0 if seed is None else seed}{' --auto' if auto else ''} -q")


def read_notebook(path: str | os.PathLike[str]) -> NotebookNode:
    """The notebook at ``path``, or CannotRun saying in one line why not."""
    import nbformat

    location = Path(path)
    if not location.exists():
        raise CannotRun("no such file")
    if location.is_dir():
        raise CannotRun("a directory, not a notebook")
    try:
        with warnings_silenced():
            notebook: NotebookNode = nbformat.read(location, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # JSON or schema errors: nbformat raises many kinds
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CannotRun(f"not a notebook ({reason[:120]})") from None
    return notebook


@contextlib.contextmanager
def warnings_silenced() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. nbformat's MissingIDFieldWarning: counted and reported instead
        yield


def is_ignored(cell: NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return any(marker in cell.source for marker in IGNORED_MARKERS) or any(tag in tags for tag in IGNORED_TAGS)


@dataclass(frozen=True)
class Runs:
    """How both runs of one notebook are made."""

    path: Path
    kernel: str | None
    timeout: float
    setup: tuple[str, ...]
    progress: Progress
    schedule: Schedule

    async def one(self, nb: NotebookNode, run: int) -> NotebookNode:
        """Run ``nb`` in a fresh kernel; CannotRun if it cannot be run to the end. Its kernel is shut down.

        A kernel that could not bind the ports it was given (another process took one between jupyter_client's
        choice and the kernel's start, which happens when several programs start kernels at once) is started
        again on new ones, twice at most: no cell had run."""
        for _ in range(PORT_RETRIES):
            try:
                return await self._run(copy.deepcopy(nb), run)
            except _PortTaken:
                continue
        return await self._run(nb, run)

    async def _run(self, nb: NotebookNode, run: int) -> NotebookNode:
        from nbclient import NotebookClient

        running: list[int] = []
        client = NotebookClient(
            nb,
            timeout=self.timeout,
            startup_timeout=STARTUP_TIMEOUT,
            allow_errors=True,  # an error is an output like any other
            kernel_name=self.kernel or "",
            resources={"metadata": {"path": str(self.path.parent)}},
            extra_arguments=[f"--IPKernelApp.exec_lines={line}" for line in self.setup],
            on_cell_start=lambda cell_index, **_: running.append(cell_index),
            on_cell_executed=lambda **_: self.progress.cell_done(run),
        )
        send_cell_ids(client)
        # nbclient's own kernel_manager_class: an AsyncKernelManager, whose methods are coroutines.
        km = cast("AsyncKernelManager", client.create_kernel_manager())
        # The kernel's stderr (its start-up chatter) is kept for the message when it dies, not shown.
        with tempfile.TemporaryFile() as stderr:
            try:
                await client.async_execute(env={**os.environ, **self.schedule.environment}, stderr=stderr)
            except Exception as exc:
                stderr.seek(0)
                told = stderr.read().decode(errors="replace")
                cell = nb.cells[running[-1]] if running else None
                why = self._why(exc, cell, running, told)
                if not running and PORT_TAKEN in f"{exc} {told}":
                    raise _PortTaken(why) from exc
                raise CannotRun(why) from exc
            finally:
                # nbclient shuts down a kernel it started; this also covers a run cancelled while it starts.
                atexit.unregister(client._cleanup_kernel)
                if km.has_kernel:
                    with contextlib.suppress(Exception):
                        await km.shutdown_kernel(now=True)
        return client.nb

    def _why(self, exc: BaseException, cell: NotebookNode | None, running: list[int], stderr: str) -> str:
        name = type(exc).__name__
        said = " ".join(str(exc).split())
        where = "the kernel's start"
        if running:  # else no cell had started: the kernel did not start, or died starting
            where = f"cell {running[-1] + 1}" + (
                f" (id {cell.get('id')})" if cell is not None and cell.get("id") else ""
            )
        told = [line.strip() for line in stderr.splitlines() if line.strip() and not _CHATTER.match(line)]
        last = f" ({told[-1][:120]})" if told else ""
        if name == "CellTimeoutError":
            return f"{where} ran past --timeout {self.timeout:g} s"
        if name == "DeadKernelError":
            return f"the kernel died in {where}{last}" if running else f"the kernel died{last}"
        if name == "NoSuchKernel":
            return f"no kernel named {said}"
        if not running:
            return f"the kernel did not start: {name}: {said[:120]}{last}"
        return f"{where}: {name}: {said[:150]}{last}"

    async def both(self, nb: NotebookNode) -> list[NotebookNode]:
        if not self.schedule.at_once:  # a cancelled run shuts its own kernel down
            return [await self.one(copy.deepcopy(nb), run) for run in range(RUNS)]
        tasks = [asyncio.ensure_future(self.one(copy.deepcopy(nb), run)) for run in range(RUNS)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:  # when one run fails, the other is stopped and shuts its kernel down
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _quiet_about_a_stopped_kernels_poller(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: nbclient's kernel-alive poller, cancelled with its cell, may find its client
    gone (an ``AssertionError`` on ``self.kc``), and asyncio would print that as "Task exception was never
    retrieved" under the user's one-line message. Only that is silenced; anything else is reported as asyncio
    does."""
    task = context.get("future")
    coro = getattr(task, "get_coro", lambda: None)() if task is not None else None
    if isinstance(context.get("exception"), AssertionError) and (
        getattr(coro, "__name__", "") == "_async_poll_kernel_alive"
    ):
        return
    loop.default_exception_handler(context)


def interruptible(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end on an event loop of its own thread. Ctrl-C (KeyboardInterrupt here) cancels it,
    waits while it shuts its kernels down, and is raised. (nbclient takes SIGINT for itself when its loop runs in
    the main thread: it kills the kernel and the run goes on, failing.)"""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_quiet_about_a_stopped_kernels_poller)
    task = loop.create_task(work)
    value: list[T] = []  # what the work returned
    error: list[BaseException] = []  # or what it raised
    finished = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            value.append(loop.run_until_complete(task))
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)
        finally:
            try:
                # As asyncio.run ends: what the work left running (nbclient's pollers of a cancelled cell) is
                # cancelled.
                left = asyncio.all_tasks(loop)
                for pending in left:
                    pending.cancel()
                if left:
                    loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
            finally:
                finished.set()

    threading.Thread(target=run, name="seedmagic-verify", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        # Waited for with an Event: a Thread.join that Ctrl-C interrupts may take the thread for finished.
        loop.call_soon_threadsafe(task.cancel)  # once: the work cancels what it started, once each
        finished.wait(STARTUP_TIMEOUT)
        raise
    if error:
        raise error[0]
    return value[0]


def verify(
    path: str | os.PathLike[str],
    *,
    seed: int | None = None,
    auto: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    kernel: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Verdict:
    """Run the notebook at ``path`` twice in fresh kernels, as ``schedule()`` shares the cores, and compare every code
    cell's outputs.

    A notebook that cannot be read, a kernel that dies or does not start, or a cell past ``timeout`` seconds makes
    a Verdict with ``error`` set (one line); no kernel is left running."""
    began, clock = time.perf_counter(), time.time()
    name = str(path)
    setup = setup_lines(seed, auto)
    try:
        nb = read_notebook(path)
    except CannotRun as exc:
        return Verdict(name, 0, error=str(exc), setup=setup)
    code = sum(cell.cell_type == "code" for cell in nb.cells)
    shared = schedule()
    runs = Runs(Path(path).resolve(), kernel, timeout, setup, Progress(name, code, on_change=on_progress), shared)
    try:
        first, second = interruptible(runs.both(nb))
    except CannotRun as exc:
        return Verdict(name, code, error=str(exc), setup=setup, schedule=shared)
    verdict = compare(nb, first, second, path=name, setup=setup, clock=(clock, time.time()))
    return dataclasses.replace(verdict, seconds=time.perf_counter() - began, schedule=shared)


def _shows_the_time(
    index: int, source: str, outputs: list[tuple[Output, ...]], clock: tuple[float, float]
) -> tuple[Cause, ...]:
    """The clock as the cause where both runs' outputs show a time within the runs (a shell command's file times, a
    library's log line): the code that printed it need not read the clock itself."""
    readings = [clock_reading(run, *clock) for run in outputs]
    if not all(readings):
        return ()
    shown = readings[0][1].text  # type: ignore[index]
    lines = source.splitlines()
    line = next((number for number, text in enumerate(lines, 1) if text.lstrip().startswith("!")), 1)
    return (
        Cause(
            "clock",
            index,
            line,
            f"its output shows the time it ran ({shown!r})",
            "keep times out of the output, or mark the cell's output as varying",
        ),
    )


def compare(
    nb: NotebookNode,
    first: NotebookNode,
    second: NotebookNode,
    *,
    path: str,
    seconds: float = 0.0,
    setup: tuple[str, ...] = (),
    clock: tuple[float, float] | None = None,
) -> Verdict:
    """The verdict on two runs of ``nb``: the code cells whose normalized outputs differ, each with its likely
    causes (what ``setup`` seeded counts as seeded), and, for a later one, the differing cells it uses. With
    ``clock``, the ``time.time()`` span the runs ran in, a cell that shows a time within it differs too, also where
    both runs show the same one."""
    sources = [cell.source if cell.cell_type == "code" else None for cell in nb.cells]
    # The kernels' start-up lines, read as a cell before the first: what they seed is seeded.
    analysed = ["\n".join(setup), *sources] if setup else sources
    offset = len(analysed) - len(sources)
    differences: list[CellDifference] = []
    ignored: list[int] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_ignored(cell):
            ignored.append(index)
            continue
        outputs: list[tuple[Output, ...]] = [normalized(run.cells[index].outputs) for run in (first, second)]
        difference = first_difference(outputs[0], outputs[1])
        reading = None if difference is not None or clock is None else clock_reading(outputs[0], *clock)
        if reading is not None:
            position, shown = reading
            difference = (
                f"output {position + 1} ({outputs[0][position].kind}) shows the time it ran, {shown.text!r}, in both "
                "runs: it changes with the clock"
            )
        if difference is None:
            continue
        used = {k - offset for k in cells_used(analysed, index + offset)}
        after = tuple(earlier for earlier in differences if earlier.index in used)
        told = {(c.kind, c.cell, c.line) for earlier in after for c in earlier.causes}
        causes = tuple(
            dataclasses.replace(cause, cell=cause.cell - offset)
            for cause in likely_causes(analysed, index + offset)
            if cause.cell >= offset and (cause.kind, cause.cell - offset, cause.line) not in told
        )
        if not any(cause.kind == "clock" for cause in causes) and clock is not None:
            causes = _shows_the_time(index, cell.source, outputs, clock) + causes
        differences.append(CellDifference(index, cell.get("id"), difference, causes, tuple(e.index for e in after)))
    code_cells = sum(source is not None for source in sources)
    missing = sum(1 for cell in nb.cells if cell.cell_type == "code" and not cell.get("id"))
    return Verdict(path, code_cells, tuple(differences), tuple(ignored), seconds, setup, missing)
