"""Run a cell body the way IPython runs a cell, from inside a cell magic.

This follows IPython's ``%%time``: transform the body (so magics and ``!`` lines work), parse, apply the shell's AST
transformers, execute every statement but a trailing expression, then evaluate that expression and return its value,
which IPython then shows as ``Out[N]``. Exceptions propagate unchanged, so the cell fails as it would without the
magic. ``shell.run_cell`` is not used: it would fire the cell events a second time and swallow the exception.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from types import CodeType
from typing import Any

from IPython.core.error import UsageError


def ends_with_semicolon(code: str) -> bool:
    """Whether the last token of ``code`` is ``;``, which silences a cell's output."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    ignored = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.DEDENT)
    for token in reversed(tokens):
        if token.type not in ignored:
            return token.type == tokenize.OP and token.string == ";"
    return False


@dataclass(frozen=True)
class CompiledCell:
    """A cell body compiled as IPython compiles a cell: its statements, and its trailing expression if any."""

    shell: Any
    statements: tuple[CodeType, ...]
    last_expression: CodeType | None
    quiet: bool

    def run(self) -> Any:
        """Execute in the user namespace; return the trailing expression's value (None after ``;``)."""
        __tracebackhide__ = True
        value = self.evaluate()
        return None if self.quiet else value

    def evaluate(self) -> Any:
        """Execute in the user namespace; return the trailing expression's value, even after ``;``."""
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
            ";" in code and ends_with_semicolon(code),
        )
    except SyntaxError as error:
        if "await" in str(error.msg):
            raise UsageError(
                "%%seeded cannot run top-level await; in a plain cell, use `with seedmagic.seeded(N):` instead"
            ) from None
        raise error.with_traceback(None) from None
