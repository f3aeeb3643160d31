"""How a magic's line is read: its options spelled out in full, an unknown option answered with the nearest known one,
and the engine's refusal of an argument turned into IPython's one-line UsageError.

The magics declare their options with IPython's ``magic_arguments`` decorators (see ``magics.py``); ``parse_line`` reads
a line with the parser those decorators built.
"""

from __future__ import annotations

import argparse
import difflib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicHelpFormatter

from .arguments import InvalidArgument

#: A magic method, which a decorator returns as it was given.
Method = TypeVar("Method", bound=Callable[..., Any])

if TYPE_CHECKING:  # IPython's magic_arguments is untyped

    def parse_argstring(magic_func: Callable[..., Any], argstring: str) -> argparse.Namespace: ...

else:
    from IPython.core.magic_arguments import parse_argstring


class Usage:
    """``with usage:``: the engine's refusal of an argument becomes IPython's one-line UsageError (and nothing was
    changed). A class rather than a generator-based context manager: ``%seed`` enters it on every call."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if isinstance(error, InvalidArgument):
            raise UsageError(str(error)) from None


usage = Usage()

HELP_WIDTH = 80


class HelpFormatter(MagicHelpFormatter):
    """``%seed?`` fits in 80 columns whatever the terminal's width was when the extension was imported."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog, **{**kwargs, "width": HELP_WIDTH})


def no_abbreviations(magic: Method) -> Method:
    """Options are spelled out: ``--deter`` is an unknown option, not ``--deterministic``, whose error names the option
    meant (see ``parse_line``): an abbreviation that worked only while no other option began the same way would stop
    working when one is added. (The help, ``%seed?``, is
    wrapped at 80 columns by ``@kwds(formatter_class=HelpFormatter)``, which ``@magic_arguments`` formats once.)"""
    parser: argparse.ArgumentParser = magic.parser  # type: ignore[attr-defined]  # set by @magic_arguments
    assert parser.formatter_class is HelpFormatter, "give the magic @kwds(formatter_class=HelpFormatter)"
    parser.allow_abbrev = False
    return magic


def parse_line(magic: Callable[..., Any], line: str) -> argparse.Namespace:
    """The magic's arguments, or a one-line UsageError; an option it does not have gets the nearest it has: ``%seed 0
    --deter`` is ``unrecognized arguments: --deter (did you mean --deterministic?)``. Every magic parses here."""
    try:
        return parse_argstring(magic, line)
    except UsageError as error:
        text = str(error)
        if not text.startswith(_UNRECOGNIZED):
            raise
        parser: argparse.ArgumentParser = magic.parser  # type: ignore[attr-defined]  # set by @magic_arguments
        known = [option for action in parser._actions for option in action.option_strings]
        near = {token: _nearest(token, known) for token in text[len(_UNRECOGNIZED) :].split() if token[:1] == "-"}
        found = [(token, options) for token, options in near.items() if options]
        if not found:
            raise
        if len(found) == 1:
            hint = f"did you mean {_either_of(found[0][1])}?"
        else:
            hint = "did you mean " + ", ".join(f"{_either_of(options)} for {token}" for token, options in found) + "?"
        raise UsageError(f"{text} ({hint})") from None


_UNRECOGNIZED = "unrecognized arguments: "


def _nearest(token: str, options: list[str]) -> list[str]:
    """The options ``token`` may have meant: those it begins (``--no``: ``--no-auto``, ``--no-reach``), else the one
    closest in spelling (``--atuo``: ``--auto``); none for a token like no option (``--foo``)."""
    token = token.partition("=")[0]
    if token.startswith("--"):
        options = [option for option in options if option.startswith("--")]
    begun = [option for option in options if option.startswith(token) and option != token]
    return begun or difflib.get_close_matches(token, options, n=1, cutoff=0.6)


def _either_of(options: list[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


@functools.lru_cache(maxsize=256)
def parse_remembered(magic: Callable[..., Any], line: str) -> argparse.Namespace:
    """``parse_line``, remembered: the same line always parses the same way, and a notebook repeats its lines."""
    return parse_line(magic, line)


def either(args: argparse.Namespace, on: str, off: str) -> bool | None:
    """True for ``--on``, False for ``--no-on``, None for neither."""
    if getattr(args, on) and getattr(args, off):
        raise UsageError(f"give --{on.replace('_', '-')} or --{off.replace('_', '-')}, not both")
    return True if getattr(args, on) else False if getattr(args, off) else None
