"""The IPython magics: they parse their arguments and hand them to the engine."""

from __future__ import annotations

import secrets
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .cell import compile_cell
from .engine import ENGINE, SEED_LIMIT, Engine, parse_seed


def _usage(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the engine; its ValueError/TypeError about the arguments becomes IPython's one-line UsageError."""
    try:
        return call(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _libraries_argument(option: str, verb: str) -> argument:
    return argument(
        option, metavar="LIBS", help=f"comma-separated libraries to {verb} (random, numpy, torch, tensorflow)"
    )


@magics_class
class SeedMagics(Magics):
    """``%seed`` and ``%%seeded``."""

    def __init__(self, shell: Any = None, engine: Engine = ENGINE) -> None:
        super().__init__(shell)
        self.engine = engine

    @magic_arguments()
    @argument("seed", nargs="?", help=f"an integer, 0 <= seed < 2**32 (= {SEED_LIMIT}); $var and {{expr}} work")
    @argument("--random", action="store_true", help="draw a fresh seed from OS entropy, print it and seed with it")
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
    @line_magic
    def seed(self, line: str) -> None:
        """Seed every RNG library this session uses: random, NumPy, torch (CPU and all GPUs), TensorFlow.

        %seed N seeds the libraries imported now, exactly as their own calls (random.seed, np.random.seed,
        torch.manual_seed, tf.random.set_seed) would, and each library imported later, at import, with the same N.
        It prints one line saying what it seeded. CUDA is never started: torch seeds each GPU when it starts.

        %seed alone shows the session seed, each library's state (seeded with what, a fingerprint of its generator
        state that changes when the stream advances) and the determinism flags, PYTHONHASHSEED included (which a
        running process cannot change: set it before the kernel starts).

        Examples::

            %seed 2023
            %seed 2023 --deterministic
            %seed --no-deterministic
            %seed --random
            %seed 2023 --only torch,numpy
            %seed $my_seed
        """
        args = parse_argstring(self.seed, line)
        if args.seed is not None and args.random:
            raise UsageError("give a seed or --random, not both")
        if args.deterministic and args.no_deterministic:
            raise UsageError("give --deterministic or --no-deterministic, not both")
        if args.warn_only and not args.deterministic:
            raise UsageError("--warn-only goes with --deterministic")
        deterministic = True if args.deterministic else False if args.no_deterministic else None

        if args.seed is None and not args.random:
            if args.only is not None or args.skip is not None:
                raise UsageError("--only/--skip need a seed, e.g. %seed 0 --only torch")
            if deterministic is None:
                print(self.engine.status())
                return
            report = _usage(self.engine.set_deterministic, deterministic, warn_only=args.warn_only)
        else:
            seed = secrets.randbits(32) if args.random else _usage(parse_seed, args.seed)
            report = _usage(
                self.engine.seed_all,
                seed,
                deterministic=deterministic,
                warn_only=args.warn_only,
                only=args.only,
                skip=args.skip,
            )
        if report.failed:
            print(report, file=sys.stderr)
        elif not args.quiet:
            print(report)

    @magic_arguments()
    @argument("seed", nargs="?", help="an integer, 0 <= seed < 2**32; without one, the session seed from %%seed")
    @argument(
        "--isolate",
        action="store_true",
        help="afterwards put every generator back where it was before the cell, also if the cell raises",
    )
    @_libraries_argument("--only", "seed (default: those %%seed seeds)")
    @_libraries_argument("--skip", "leave alone")
    @cell_magic
    def seeded(self, line: str, cell: str) -> Any:
        """Reseed, then run the cell exactly like a normal cell: the same random numbers every time it runs.

        The last expression is shown as Out[N], assignments land in the notebook, magics and ! lines work, an
        exception fails the cell as usual and a trailing ; silences the output. Libraries imported inside the
        cell are seeded at import with the cell's seed. The session seed (%seed) is not changed.

        Example::

            %%seeded 0
            import torch
            torch.rand(1)      # tensor([0.4963]), every run
        """
        __tracebackhide__ = True
        args = parse_argstring(self.seeded, line)
        seed = None if args.seed is None else _usage(parse_seed, args.seed)
        scope = _usage(self.engine.seeded, seed, only=args.only, skip=args.skip, isolate=args.isolate)
        body = compile_cell(self.shell, cell, f"%%seeded {line}".rstrip())
        with scope:
            return body.run()

    @line_magic
    def seedpanel(self, line: str) -> None:
        """Show a live panel of the RNG states and determinism flags; it refreshes after every cell.

        Without a widget front end (terminal IPython), it prints the same content as a text table.
        """
        if line.strip():
            raise UsageError(f"%seedpanel takes no arguments, got {line.strip()!r}")
        from .panel import show

        show(self.shell, self.engine)
