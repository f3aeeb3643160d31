"""How a ``%%seeded`` cell runs.

A ``%%seeded ARGS`` cell is run by IPython itself, as a plain cell: ``seeded_cells``, an input transformer, turns its
first line into the line magic ``%seeded ARGS``, which seeds and puts the rest of the cell under the seed until the
cell ends (the engine's cell scope; ``--isolate`` restores at the cell's end). IPython then compiles and runs the
body once, as any cell: ``Out[N]``, ``ast_node_interactivity``, top-level ``await``, tracebacks with the lines as
written, and the history are IPython's own.

``%%seeded --check`` (and a direct ``run_cell_magic("seeded", ...)``) still run the body from inside the cell magic:
``compile_cell`` follows IPython's ``%%time``: transform the body (so magics and ``!`` lines work), parse, apply the
shell's AST transformers, execute every statement but a trailing expression, then evaluate that expression and
return its value, which IPython then shows as ``Out[N]``. Exceptions propagate unchanged. ``shell.run_cell`` is not
used: it would fire the cell events a second time and swallow the exception. For ``--check``, ``check_cell`` runs
the compiled body twice.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import re
import sys
import tokenize
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

from IPython.core.error import UsageError
from IPython.core.inputtransformer2 import cell_magic, leading_empty_lines

if TYPE_CHECKING:
    from .engine import Engine

_SEEDED = re.compile(r"%%seeded(?=\s|$)")


def seeded_cells(lines: list[str]) -> list[str]:
    """IPython's input transformer for ``%%seeded`` cells: the first line becomes ``%seeded ARGS`` (as Python, on
    the same line, so line numbers stay as written). A cell with ``--check`` stays a cell magic: it runs twice."""
    if not lines or not lines[0].startswith("%%seeded") or not _SEEDED.match(lines[0]):  # every cell comes here
        return lines
    arguments = lines[0][len("%%seeded") :].strip()
    if "--check" in arguments.split():
        return lines
    first = f"get_ipython().run_line_magic('seeded', {arguments!r})\n"
    # A cell magic under it (%%seeded 0, then %%time) is still one: IPython only looks for it on the first line.
    if len(lines) > 1 and lines[1].startswith("%%"):
        return [first, *cell_magic(lines[1:])]  # type: ignore[no-untyped-call]  # IPython leaves it unannotated
    return [first, *lines[1:]]


# IPython's check whether a cell is complete (the terminal's Enter) must still see a cell magic, which a blank line
# ends: transformers with side effects are left out of that check.
seeded_cells.has_side_effects = True  # type: ignore[attr-defined]

_FIRST_LINE = "get_ipython().run_line_magic('seeded', "


def show_as_written(raw_cell: str) -> None:
    """Make tracebacks show the running ``%%seeded`` cell as the user wrote it.

    IPython keeps the source of a cell for tracebacks in ``linecache``, as transformed (``!cmd`` as
    ``get_ipython().system(...)``, the first line as ``seeded_cells`` made it). Called from that first line, this
    puts the written lines there: all of them where the transformation kept them one for one, else the first."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        entry = linecache.cache.get(frame.f_code.co_filename)
        # A lazily loaded entry (a 1-tuple) is never a cell's.
        if (
            frame.f_lineno == 1
            and entry is not None
            and len(entry) == 4
            and entry[2]
            and entry[2][0].startswith(_FIRST_LINE)
        ):
            break
        frame = frame.f_back
    else:
        return
    size, mtime, lines, name = entry
    written = [line + "\n" for line in leading_empty_lines(raw_cell.splitlines())]  # type: ignore[no-untyped-call]
    if not written or not _SEEDED.match(written[0]):
        return
    shown = written if len(written) == len(lines) else [written[0], *lines[1:]]
    linecache.cache[frame.f_code.co_filename] = (size, mtime, shown, name)


class CompiledCell(NamedTuple):
    """A cell body compiled as IPython compiles a cell: its statements, and its trailing expression if any."""

    shell: Any
    statements: tuple[CodeType, ...]
    last_expression: CodeType | None

    def evaluate(self) -> Any:
        """Execute in the user namespace; return the trailing expression's value (IPython does not show it after a
        trailing ``;``: the magic is ``output_can_be_silenced``)."""
        __tracebackhide__ = True
        for code in self.statements:
            exec(code, self.shell.user_global_ns, self.shell.user_ns)
        if self.last_expression is None:
            return None
        return eval(self.last_expression, self.shell.user_global_ns, self.shell.user_ns)


def _with_assigned_name(statements: list[ast.stmt]) -> list[ast.stmt]:
    """For ``ast_node_interactivity = "last_expr_or_assign"``: show the value a trailing ``x = ...`` assigned."""
    last = statements[-1] if statements else None
    if isinstance(last, ast.Assign) and len(last.targets) == 1:
        target = last.targets[0]
    elif isinstance(last, (ast.AugAssign, ast.AnnAssign)):
        target = last.target
    else:
        return statements
    if not isinstance(target, ast.Name):
        return statements
    shown = ast.Expr(ast.Name(target.id, ast.Load()))
    return [*statements, ast.fix_missing_locations(ast.copy_location(shown, last))]


def ends_in_semicolon(code: str) -> bool:
    """Whether the last token of ``code`` is ``;``, as IPython's display hook tells a silenced cell."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skipped = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    for token in reversed(tokens):
        if token.type not in skipped:
            return token.type == tokenize.OP and token.string == ";"
    return False


def compile_cell(shell: Any, body: str, magic_line: str) -> CompiledCell:
    """Compile ``body``; a syntax error is raised here, before anything (a seed included) has changed."""
    __tracebackhide__ = True
    code = shell.transform_cell(body)
    # Cache the code under this cell's number (the one its Out[N] gets), so that a traceback reads "Cell In[N], line
    # L" and shows the line. The first line stands for the magic line: L is the line number the user sees.
    number = getattr(shell.displayhook, "prompt_count", shell.execution_count)
    filename = shell.compile.cache(f"{magic_line}\n{code}", number)
    interactivity = shell.ast_node_interactivity
    try:
        statements = list(shell.transform_ast(shell.compile.ast_parse("\n" + code, filename=filename)).body)
        if interactivity == "last_expr_or_assign":
            statements = _with_assigned_name(statements)
        last = statements.pop() if statements and isinstance(statements[-1], ast.Expr) else None
        if interactivity == "all":
            # Every statement runs as at the prompt, so that each expression's value is shown, as in a plain cell.
            compiled = tuple(shell.compile(ast.Interactive([node]), filename, "single") for node in statements)
        else:
            compiled = (shell.compile(ast.Module(statements, type_ignores=[]), filename, "exec"),)
        return CompiledCell(
            shell,
            compiled,
            None if last is None else shell.compile(ast.Expression(last.value), filename, "eval"),
        )
    except SyntaxError as error:
        if "await" in str(error.msg):
            raise UsageError(
                "%%seeded cannot run top-level await; in a plain cell, use `with seedmagic.seeded(N):` instead"
            ) from None
        raise error.with_traceback(None) from None


def isolate_held_generators(engine: Engine, user_ns: dict[str, Any], isolate: bool) -> None:
    """With ``--isolate``, the generators the notebook holds (its own ``random.Random``, NumPy and torch
    generators, wherever its names reach them) are put back too when the cell ends."""
    if isolate:
        from .namespace import Start

        engine.at_isolated_cell_end(Start.generators(user_ns).put_back)


def show_from_the_body(shell: Any, error: BaseException, codes: list[CodeType]) -> None:
    """Make IPython show an error raised by a cell body that a cell magic ran (``%%seeded --check``) as a plain cell
    shows it: from the body's first frame, without the magic's call. IPython renders an exception through its
    ``_render_traceback_`` where it has one."""
    files = {code.co_filename for code in codes}
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_frame.f_code.co_filename not in files:
        traceback = traceback.tb_next
    if traceback is None:
        return
    body = traceback

    def render() -> list[str]:
        lines: list[str] = shell.InteractiveTB.structured_traceback(type(error), error, body, tb_offset=0)
        return lines

    # An exception that takes no attributes keeps IPython's own rendering, as before.
    with contextlib.suppress(AttributeError, TypeError):
        error._render_traceback_ = render  # type: ignore[attr-defined]
