"""The IPython connection: the magics parse their arguments and hand them to the engine; the cell events tell the
engine when a cell starts and ends (for auto mode); the profile options seed a session when the extension loads.

What the magics hand their work to: ``parsing`` (how a line is read), ``cell`` and ``check_cell`` (how a ``%%seeded``
cell runs, and runs twice), ``cell_keys`` (what auto mode keys a cell by), ``profile_options``, ``best_seeds``,
``record_output``, ``sweeps`` and ``panel``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
    output_can_be_silenced,
)
from traitlets import Any as AnyTrait
from traitlets import observe

from .arguments import SEED_LIMIT, InvalidArgument, parse_seed, random_seed
from .best_seeds import BestSeeds
from .cell import compile_cell, isolate_held_generators, seeded_cells, show_as_written
from .cell_keys import cell_identity, cell_key
from .engine import ENGINE, Engine
from .errors import WARNING_SKIPS, warn
from .parsing import HelpFormatter, Method, either, no_abbreviations, parse_line, parse_remembered, usage
from .profile_options import ENVIRONMENT_SEED, StrictBool, seed_session, start_census
from .record_output import show_record
from .sources import NAMES

if TYPE_CHECKING:  # IPython's argument decorators are untyped: each returns the function it was given
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

    def argument(*args: Any, **kwargs: Any) -> Callable[[Method], Method]: ...
    def magic_arguments(name: str | None = None) -> Callable[[Method], Method]: ...
    def kwds(**kwargs: Any) -> Callable[[Method], Method]: ...

else:
    from IPython.core.magic_arguments import argument, kwds, magic_arguments

# A warning from a magic points at the user's cell, past IPython's magic machinery (see determinism.warn).
_IPYTHON_FILES = os.path.dirname(os.path.abspath(str(sys.modules["IPython"].__file__))) + os.sep
if _IPYTHON_FILES not in WARNING_SKIPS:
    WARNING_SKIPS.append(_IPYTHON_FILES)


def _libraries_argument(option: str, verb: str) -> Callable[[Method], Method]:
    return argument(
        option,
        metavar="LIBS",
        action="append",
        help=f"comma-separated libraries to {verb} ({', '.join(NAMES)})",
    )


def _named_line_magic(name: str) -> Callable[[Method], Method]:
    """IPython's ``@line_magic(name)``, typed as what it is: a decorator that returns the method it was given."""
    return cast(Callable[[Method], Method], line_magic(name))


class _SeedLine(NamedTuple):
    """What a ``%seed`` line asks for, parsed and checked once: a notebook repeats its lines."""

    seed: int | None
    random: bool
    deterministic: bool | None
    warn_only: bool
    auto: bool | None
    reach: bool | None
    only: tuple[str, ...] | None
    skip: tuple[str, ...] | None
    per_rank: bool
    quiet: bool
    record: bool


@functools.lru_cache(maxsize=256)
def _seed_line(line: str) -> _SeedLine:
    """The ``%seed`` line, or a UsageError (raised anew each time: errors are not kept)."""
    args = parse_line(SeedMagics.seed_magic, line)
    if args.seed is not None and args.random:
        raise UsageError("give a seed or --random, not both")
    if args.warn_only and not args.deterministic:
        raise UsageError("--warn-only goes with --deterministic")
    if args.seed is None and not args.random and (args.only is not None or args.skip is not None or args.per_rank):
        raise UsageError("--only/--skip/--per-rank need a seed, e.g. %seed 0 --only torch")
    with usage:
        seed = None if args.seed is None else parse_seed(args.seed)
    return _SeedLine(
        seed=seed,
        random=args.random,
        deterministic=either(args, "deterministic", "no_deterministic"),
        warn_only=args.warn_only,
        auto=either(args, "auto", "no_auto"),
        reach=either(args, "reach", "no_reach"),
        only=None if args.only is None else tuple(args.only),
        skip=None if args.skip is None else tuple(args.skip),
        per_rank=args.per_rank,
        quiet=args.quiet,
        record=args.record,
    )


@magics_class
class SeedMagics(Magics):
    """``%seed``, ``%%seeded`` and ``%seedpanel``. Set the options below in ``ipython_config.py`` to seed every
    session when the extension loads: ``c.SeedMagics.seed = 0``, ``c.SeedMagics.auto = True``.

    The class is longer than 300 lines because of its help: the option decorators, the magics' docstrings and the
    options' help strings (about 220 lines) are what ``%seed?``, ``%%seeded?``, ``%%seeds?`` and ``%config
    SeedMagics`` show, and belong beside the magic they document. Its methods only parse and delegate."""

    shell: InteractiveShell  # loaded into one: never None here

    # Checked by seedmagic when the extension loads, not by traitlets: a bad value is then a one-line warning that
    # changes nothing, rather than an extension that fails to load (traitlets' Bool would also take 1 for True).
    seed = AnyTrait(
        None,
        help="Seed every session with this seed (an int, 0 <= seed < 2**32) when the extension loads, as %seed N "
        f"does. The environment variable {ENVIRONMENT_SEED} overrides it.",
    ).tag(config=True)
    auto = AnyTrait(False, help="True or False. With a seed: reseed before every cell, as %seed N --auto does.").tag(
        config=True
    )
    deterministic = AnyTrait(
        False,
        help="True or False. Switch deterministic algorithms on when the extension loads, as %seed --deterministic "
        "does.",
    ).tag(config=True)
    census = StrictBool(
        False,
        help="True or False. Keep a census of the generators made without a seed (np.random.default_rng(), "
        "random.Random(), torch.Generator()), which %seed then lists. Off by default: it wraps their constructors, "
        "which slows them (see the Performance page of the docs), and it lists those that libraries make for "
        "themselves. Also in a running session: %config SeedMagics.census = True; False puts back what it changed.",
    ).tag(config=True)
    #: Whether start() has run: from then on a new census value is checked by its trait and applied at once.
    _started = False

    def __init__(self, shell: Any = None, engine: Engine = ENGINE, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.engine = engine
        # Silent cells (no pre/post_run_cell) with a %%seeded scope: they end at post_execute, which is listened
        # to only while there are some.
        self._silent_cells: list[object] = []
        # The session's last %%seeds sweeps: %seed with a best seed says that the best of n seeds is not a result.
        self._best_seeds = BestSeeds()

    # -- loading ---------------------------------------------------------------------------------------------------

    def _events(self) -> tuple[tuple[str, Any], ...]:
        return (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        )

    def start(self) -> None:
        """Listen to the cell events, take ``%%seeded`` cells, and apply the profile options or SEEDMAGIC_SEED to a
        session with no seed."""
        for event, callback in self._events():
            self.shell.events.register(event, callback)
        self.engine.census.cell_of = self._cell_number
        if seeded_cells not in self.shell.input_transformers_cleanup:
            self.shell.input_transformers_cleanup.append(seeded_cells)
        if not start_census(self.engine, self.census):
            self.census = self.engine.census.enabled  # what %config SeedMagics.census then reads
        self._started = True
        if self.engine.seed is not None:  # %reload_ext: the session keeps its seed
            return
        seed_session(self.engine, self.seed, self.auto, self.deterministic)

    @observe("census")
    def _census_changed(self, change: dict[str, Any]) -> None:
        """``%config SeedMagics.census = True`` (or False) in a running session."""
        if self._started:  # the profile's value is applied by start()
            self.engine.census.set_enabled(change["new"])
            self.engine.refresh_hook()

    def stop(self) -> None:
        """Stop listening to the cell events and taking ``%%seeded`` cells; end the cells still running."""
        for event, callback in (*self._events(), ("post_execute", self.post_execute)):
            if callback in self.shell.events.callbacks[event]:
                self.shell.events.unregister(event, callback)
        while seeded_cells in self.shell.input_transformers_cleanup:
            self.shell.input_transformers_cleanup.remove(seeded_cells)
        self._silent_cells.clear()
        self.engine.end_cells()
        if self.engine.census.cell_of == self._cell_number:
            self.engine.census.cell_of = None

    def _cell_number(self, filename: str) -> int | None:
        """The execution count of the cell IPython compiled to ``filename`` (None for any other file)."""
        return getattr(self.shell.compile, "_filename_map", {}).get(filename)

    def pre_run_cell(self, info: ExecutionInfo) -> None:
        try:
            engine = self.engine
            # The reach key is worked out only if the cell makes a generator under reach (also one the cell
            # switches on).
            engine.begin_cell(
                info, cell_key(info) if engine.session.auto else None, functools.partial(cell_identity, info)
            )
        except Exception as exc:  # never break the user's cell
            warn(f"seedmagic could not reseed the cell: {exc}")

    def post_execute(self) -> None:
        # A silent cell (no pre/post_run_cell) whose %%seeded scope began inside it ends here.
        if self._silent_cells and self.engine.innermost_cell() is self._silent_cells[-1]:
            self.engine.end_cell(self._silent_cells.pop())
        if not self._silent_cells:
            self.shell.events.unregister("post_execute", self.post_execute)

    def post_run_cell(self, result: ExecutionResult | None) -> None:
        # ipykernel passes None for an asynchronous cell it cancelled: the innermost cell is the one that ended.
        self.engine.end_cell(getattr(result, "info", None))

    # -- magics ----------------------------------------------------------------------------------------------------

    @no_abbreviations
    @magic_arguments("seed")
    @kwds(formatter_class=HelpFormatter)
    @argument("seed", nargs="?", help=f"an integer, 0 <= seed < 2**32 (= {SEED_LIMIT}); $var and {{expr}} work")
    @argument("--random", action="store_true", help="draw a fresh seed from OS entropy, print it and seed with it")
    @argument(
        "--auto",
        action="store_true",
        help="from now on, reseed before every cell with a seed derived from the session seed and the cell "
        "(its id in JupyterLab, Notebook 7 and VS Code, else its source), so that each cell gets the same numbers "
        "in any order",
    )
    @argument("--no-auto", action="store_true", help="stop reseeding before every cell")
    @argument(
        "--reach",
        action="store_true",
        help="from now on, also seed the generators made without a seed (np.random.default_rng(), NumPy bit "
        "generators and RandomState(), random.Random(), torch.Generator()), in your code and in libraries, each "
        "from the seed in force and its number in the cell; never secrets, os.urandom or random.SystemRandom",
    )
    @argument("--no-reach", action="store_true", help="stop seeding them, putting back exactly what --reach changed")
    @argument(
        "--per-rank",
        action="store_true",
        help="in a parallel job, seed each process with derive_seed(seed, rank), its rank taken from "
        "torch.distributed, else RANK (torchrun), else the ipyparallel engine id; without it every process gets "
        "the same seed (the identical model initialisation DDP wants)",
    )
    @argument(
        "--deterministic",
        action="store_true",
        help="also switch deterministic algorithms on: torch.use_deterministic_algorithms(True), "
        "cudnn.deterministic=True, cudnn.benchmark=False, CUBLAS_WORKSPACE_CONFIG=:4096:8 when unset, "
        "TensorFlow op determinism; for libraries imported later too",
    )
    @argument("--no-deterministic", action="store_true", help="restore the flags from before --deterministic")
    @argument("--warn-only", action="store_true", help="with --deterministic: torch warns instead of raising")
    @_libraries_argument("--only", "seed, leaving the others alone")
    @_libraries_argument("--skip", "leave alone")
    @argument("-q", "--quiet", action="store_true", help="print nothing unless something failed")
    @argument(
        "--record",
        action="store_true",
        help="show the record of what this session's random numbers depend on (seed, mode, each cell's seed, "
        "flags, versions and builds, threads, the machine) as this cell's output, updated after every cell: the "
        "saved notebook keeps it, and seedmagic verify NOTEBOOK --against-saved compares a new run with it",
    )
    @no_var_expand
    @_named_line_magic("seed")
    def seed_magic(self, line: str) -> None:
        """Seed every RNG library this session uses: random, NumPy, torch (CPU and all
        GPUs), TensorFlow, Keras, CuPy.

        %seed N seeds the libraries imported now, exactly as their own calls
        (random.seed, np.random.seed, torch.manual_seed, tf.random.set_seed) would,
        and each library imported later, at import, with the same N. It prints one
        line saying what it seeded (-q: nothing). CUDA is never started: torch seeds
        each GPU when it starts.

        %seed N --auto also reseeds before every cell, so that a notebook's cells get
        the same random numbers whatever order they run in; an explicit %%seeded wins
        for its cell.

        %seed alone shows the session seed and mode, each library's state (seeded with
        what, a fingerprint of its generator state that changes when the stream
        advances) and the determinism flags, PYTHONHASHSEED included (which a running
        process cannot change: set it before the kernel starts).

        Examples::

            %seed 2023
            %seed 2023 --auto
            %seed 2023 --deterministic
            %seed --no-deterministic
            %seed --random
            %seed 2023 --only torch,numpy
            %seed 2023 --per-rank
            %seed $my_seed
            %seed 2023 --record
        """
        wanted = _seed_line(self._expand(line))
        if wanted.seed is None and not wanted.random:
            if wanted.deterministic is None and wanted.auto is None and wanted.reach is None:
                if wanted.record:
                    show_record(self.shell, self.engine)
                elif not wanted.quiet:  # %seed -q alone: asked for nothing, says nothing
                    print(self.engine.status())
                return
            with usage:
                report = self.engine.set_modes(
                    deterministic=wanted.deterministic, warn_only=wanted.warn_only, auto=wanted.auto, reach=wanted.reach
                )
        else:
            with usage:
                report = self.engine.seed_all(
                    random_seed() if wanted.seed is None else wanted.seed,
                    deterministic=wanted.deterministic,
                    warn_only=wanted.warn_only,
                    only=wanted.only,
                    skip=wanted.skip,
                    auto=wanted.auto,
                    per_rank=wanted.per_rank,
                    reach=wanted.reach,
                )
        if report.failed:
            print(report, file=sys.stderr)
        elif not wanted.quiet:
            print(report)
        if report.seed is not None and self._best_seeds.notes:
            self._best_seeds.note_best_seed(report.per_rank.given if report.per_rank else report.seed)
        if wanted.record:
            show_record(self.shell, self.engine)

    @no_abbreviations
    @magic_arguments()
    @kwds(formatter_class=HelpFormatter)
    @argument("seed", nargs="?", help="an integer, 0 <= seed < 2**32; without one, the session seed from %%seed")
    @argument(
        "--isolate",
        action="store_true",
        help="when the cell ends, put every generator, determinism flag, environment variable and the session "
        "back as they were before it, also if it raises or is interrupted",
    )
    @argument(
        "--check",
        action="store_true",
        help="run the cell twice from the same seed and the same state (everything the first run changes, through "
        "any name, function, hook or object, is put back in place before the second), and report whether what it "
        "binds, deletes or changes, its last expression, what it prints and the figures it draws came out the "
        "same, what it cannot compare, and the likely cause of a difference; it copies only what the cell writes "
        "(tensors to host memory, at the first write); the notebook ends as one plain run leaves it, with one "
        "run's figures; prints and files happen twice",
    )
    @argument(
        "--trace",
        action="store_true",
        help="with --check: also record a small digest of every torch operation in each run (its module, forward "
        "or backward, the step), and name the first module and operation where the two runs part, both values "
        "where they differ most, and its likely cause; slower (each operation is digested) but small in memory",
    )
    @_libraries_argument("--only", "seed (default: those %%seed seeds)")
    @_libraries_argument("--skip", "leave alone")
    @no_var_expand
    @output_can_be_silenced
    @line_cell_magic
    def seeded(self, line: str, cell: str | None = None) -> Any:
        """Reseed, then run the cell as a plain cell: the same random numbers every time.

        IPython runs the cell itself: the last expression is shown as Out[N],
        assignments land in the notebook, magics, ! lines and top-level await work, an
        exception fails the cell with its usual traceback, and a trailing ; silences
        the output. Libraries imported inside the cell are seeded at import with the
        cell's seed. The session seed (%seed) is not changed. (IPython runs the cell as
        if its first line were %seeded ARGS: as a line magic, %seeded runs the rest of
        its cell under the seed.)

        Examples::

            %%seeded 0
            import torch
            torch.rand(1)      # tensor([0.4963]), every run

            %%seeded 0 --check
            x = torch.rand(3)  # runs twice; prints whether x came out the same

            %%seeded 0 --check --trace
            train(model, steps=3)  # and where inside the model the two runs part
        """
        __tracebackhide__ = True
        args = parse_remembered(SeedMagics.seeded, self._expand(line))
        with usage:
            seed = None if args.seed is None else parse_seed(args.seed)
            if args.trace and not args.check:
                raise InvalidArgument("--trace goes with --check: %%seeded --check --trace")
            if cell is None:
                if args.check:
                    raise InvalidArgument("--check runs a whole cell twice: write it as %%seeded --check")
                return self._seed_rest_of_cell(seed, args)
            scope = self.engine.seeded(seed, only=args.only, skip=args.skip, isolate=args.isolate)
        # The cell form runs here only for --check, or when called directly (run_cell_magic): a %%seeded cell
        # typed in a notebook is run by IPython itself (see seeded_cells).
        body = compile_cell(self.shell, cell, f"%%seeded {line}".rstrip())
        if not args.check:
            with scope:
                isolate_held_generators(self.engine, self.shell.user_ns, args.isolate)
                return body.evaluate()
        from .check_cell import check_cell

        return check_cell(self.shell, self.engine, scope, body, cell, isolate=args.isolate, trace=args.trace)

    def _seed_rest_of_cell(self, seed: int | None, args: argparse.Namespace) -> None:
        # IPython gives the displayhook the running cell's result, silent cells' too; pre_run_cell came before
        # the cells that are not silent.
        executing = getattr(self.shell.displayhook, "exec_result", None) is not None
        if executing and not self.engine.in_cell():  # a silent cell: no cell events; it ends at post_execute
            token = object()
            self.engine.begin_cell(token, None)
            if not self._silent_cells:
                self.shell.events.register("post_execute", self.post_execute)
            self._silent_cells.append(token)
        self.engine.seed_cell(seed, only=args.only, skip=args.skip, isolate=args.isolate)
        isolate_held_generators(self.engine, self.shell.user_ns, args.isolate)
        raw_cell = getattr(self.engine.innermost_cell(), "raw_cell", None)
        if isinstance(raw_cell, str):
            show_as_written(raw_cell)

    def _expand(self, line: str) -> str:
        """``$var`` and ``{expression}``, as IPython expands them for every magic; only where the line has them,
        since IPython's expansion copies the whole namespace (the magics are ``no_var_expand``)."""
        if "$" not in line and "{" not in line:
            return line
        # 3: past this method, the magic and run_line_magic: the caller.
        expanded: str = self.shell.var_expand(line, 3)  # type: ignore[no-untyped-call]
        return expanded

    @no_abbreviations
    @magic_arguments()
    @kwds(formatter_class=HelpFormatter)
    @argument(
        "seeds",
        nargs="+",
        help="the seeds: a range (0-9, both ends included), a list (3,7,11), both (0-4,10), or a count alone (10: "
        "that many seeds derived from the session seed); 5, is the one seed 5; $var and {expr} work",
    )
    @argument("-o", "--output", metavar="NAME", help="bind the SeedSweep to NAME in the notebook")
    @argument(
        "--stop-on-error",
        action="store_true",
        help="stop at the first run that raises, and raise its exception (by default it is reported for its seed "
        "and the sweep goes on)",
    )
    @argument("-q", "--quiet", action="store_true", help="show nothing (with -o, only bind the result)")
    @_libraries_argument("--only", "seed (default: those %%seed seeds)")
    @_libraries_argument("--skip", "leave alone")
    @no_var_expand
    @cell_magic
    def seeds(self, line: str, cell: str) -> Any:
        """Run the cell once per seed and show the spread of its last expression.

        Each run is what %%seeded k --isolate gives, from the same notebook state (what
        a run changes is put back in place after it: the notebook ends as before the
        sweep, the same objects). The last expression is the metric: a number, a dict of
        numbers or a 0-d tensor or array. The result is a seedmagic.SeedSweep: the value
        for each seed, and n, mean, standard deviation, 95% confidence interval
        (Student's t), min and max, with a plot of the spread; inf and NaN values are
        shown and left out of the statistics. A progress bar shows while it runs (-q:
        none), and is gone when it ends: the saved notebook keeps none. An interrupt
        stops it, shows what ran (bound to -o NAME) and leaves the cell interrupted, so
        that Run All stops there. Seeding with the best seed afterwards (%seed k) says
        that the best of n seeds is not a result to report.

        Examples::

            %%seeds 0-9 -o sweep
            model = train(make_model())
            accuracy(model)

            %%seeds 10          # ten seeds derived from the session seed (%seed N)
            {"acc": acc, "loss": loss}

            sweep.compare(other)  # the paired difference over the same seeds
        """
        __tracebackhide__ = True
        from .sweeps import names_a_count, parse_seeds, sweep_cell

        args = parse_remembered(SeedMagics.seeds, self._expand(line))
        if args.output is not None and not args.output.isidentifier():
            raise UsageError(f"-o needs a name to bind the result to, got {args.output!r}")
        text = ",".join(args.seeds) if len(args.seeds) > 1 else args.seeds[0]
        with usage:
            seeds = parse_seeds(text, self.engine.seed)
            derived = self.engine.seed if names_a_count(text) else None
            result, error = sweep_cell(
                self.shell,
                cell,
                f"%%seeds {line}".rstrip(),
                seeds,
                engine=self.engine,
                only=args.only,
                skip=args.skip,
                stop_on_error=args.stop_on_error,
                name=args.output,
                derived_from=derived,
                quiet=args.quiet,
            )
        self._best_seeds.remember(result)
        if args.output is not None:
            self.shell.user_ns[args.output] = result
        if error is not None:
            raise error
        if result.stopped_by == "interrupt":
            # What ran is shown, then the cell is an interrupted cell: the kernel aborts the cells queued after it.
            if not args.quiet:
                from IPython.display import display

                display(result)  # type: ignore[no-untyped-call]  # unannotated
            interrupted = f"%%seeds interrupted after {len(result.runs)} of {len(result.planned)} seeds"
            held = f"; {args.output} holds what ran" if args.output is not None else ""
            raise KeyboardInterrupt(interrupted + held)
        return None if args.quiet else result

    @line_magic
    def seedpanel(self, line: str) -> None:
        """Show a live panel of the RNG states and determinism flags, refreshed after
        every cell.

        Folded, it is one line: the seed, the mode, the last cell's seed, how many
        libraries are seeded, how many flags are not deterministic, and what the last
        cell drew from. Unfolded: every library and flag, the ones the last cell drew
        from or changed highlighted, and controls that do what %seed does. To keep it
        in view in JupyterLab: right-click its cell, Create New View for Cell Output,
        and drag that view's tab beside the notebook.

        Without a widget front end (terminal IPython), it prints the %seed table.
        """
        if line.strip():
            raise UsageError(f"%seedpanel takes no arguments, got {line.strip()!r}")
        from .panel import show

        show(self.shell, self.engine)
