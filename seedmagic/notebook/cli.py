"""The ``seedmagic`` command (also ``python -m seedmagic``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from . import report
from .verify import DEFAULT_TIMEOUT, Progress, Verdict, verify


def _seed(text: str) -> int:
    from ..arguments import InvalidArgument, parse_seed

    try:
        return parse_seed(text)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    return value


def parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser, and each subcommand's."""
    top = argparse.ArgumentParser(
        prog="seedmagic",
        description="Reproducible, visible randomness for Jupyter notebooks.",
        allow_abbrev=False,
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    command = commands.add_parser(
        "verify",
        help="run each notebook twice and say which cells do not reproduce, why, and how to fix them",
        description=(
            "Run each notebook twice in fresh kernels and compare every code cell's outputs (execution counts, "
            "memory addresses and timings aside; a time of day that falls within the runs counts as a difference). "
            "The runs share the cores: both at once, each kernel given half of them (OMP_NUM_THREADS and the like, "
            "the same in both), or one after the other on one core. Says for each notebook whether it "
            "reproduces, and for each cell that does not, its likely cause and the fix. By default no seed is "
            "added to the kernels: the notebook is tested as its users run it. Exit status: 0 when every "
            "notebook reproduces, 1 when one does not, 2 when one could not be run."
        ),
        allow_abbrev=False,
    )
    command.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="the .ipynb files to verify")
    command.add_argument(
        "--seed", type=_seed, metavar="N", help="start both kernels with %%load_ext seedmagic and %%seed N"
    )
    command.add_argument(
        "--auto", action="store_true", help="start both kernels with %%seed N --auto (N from --seed, else 0)"
    )
    command.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"the most one cell may take (default {DEFAULT_TIMEOUT:g})",
    )
    command.add_argument("--kernel", metavar="NAME", help="the kernel to run (default: the notebook's own)")
    command.add_argument("--json", action="store_true", help="print the report as JSON")
    command.add_argument(
        "--against-saved",
        action="store_true",
        help="run each notebook once and compare each cell with the outputs its file holds; for a cell that "
        "differs, name what changed since it was saved (a version, a GPU, a flag), from the seedmagic record the "
        "file holds (%%seed --record) and the run's; exit status as above",
    )
    return top, {"verify": command}


def _progress_line(stream: TextIO) -> Callable[[Progress], None]:
    def show(progress: Progress) -> None:
        done = ", ".join(f"run {run + 1} {count}/{progress.total}" for run, count in enumerate(progress.done))
        stream.write(f"\r\x1b[Kverifying {progress.path}: {done}")
        stream.flush()

    return show


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top, commands = parser()
    if argv and argv[0] in commands:  # notebooks and options in any order: `verify a.ipynb --seed 0 b.ipynb`
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        if args.against_saved and (args.seed is not None or args.auto):
            commands[argv[0]].error("--against-saved runs the notebook as it was saved: give no --seed or --auto")
    else:
        top.parse_args(argv)  # help, or a one-line error naming the commands
        return 2
    progress = sys.stderr.isatty() and not args.json
    try:
        return _verify(args, progress)
    except KeyboardInterrupt:
        if progress:
            sys.stderr.write("\r\x1b[K")
        print("seedmagic verify: interrupted (its kernels are shut down)", file=sys.stderr)
        return 130


def _verify(args: argparse.Namespace, progress: bool) -> int:
    verdicts = []
    for path in args.notebooks:
        verdict: Verdict
        shown = _progress_line(sys.stderr) if progress else None
        if args.against_saved:
            from .replay import against_saved

            verdict = against_saved(path, timeout=args.timeout, kernel=args.kernel, on_progress=shown)
        else:
            verdict = verify(
                path, seed=args.seed, auto=args.auto, timeout=args.timeout, kernel=args.kernel, on_progress=shown
            )
        if progress:
            sys.stderr.write("\r\x1b[K")
        verdicts.append(verdict)
        if not args.json:
            print(report.text([verdict]), file=sys.stderr if verdict.error else sys.stdout, flush=True)
    if args.json:
        print(report.as_json(verdicts))
    elif len(verdicts) > 1:
        print(report.text(verdicts).splitlines()[-1])
    return report.exit_status(verdicts)


if __name__ == "__main__":
    sys.exit(main())
