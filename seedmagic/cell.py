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
from typing import Any


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


def run_cell_body(shell: Any, body: str, magic_line: str) -> Any:
    """Execute ``body`` in the user namespace; return the value of its last expression (None after ``;``)."""
    __tracebackhide__ = True
    code = shell.transform_cell(body)
    # Cache the code under this cell's name, so that a traceback reads "Cell In[N], line L" and shows the line. The
    # first line stands for the magic line, so that L is the line number the user sees in the cell.
    filename = shell.compile.cache(f"{magic_line}\n{code}", shell.execution_count)
    tree = shell.transform_ast(shell.compile.ast_parse("\n" + code, filename=filename))
    statements = list(tree.body)
    last = statements.pop() if statements and isinstance(statements[-1], ast.Expr) else None
    namespace, local_namespace = shell.user_global_ns, shell.user_ns
    if statements:
        exec(shell.compile(ast.Module(statements, type_ignores=[]), filename, "exec"), namespace, local_namespace)
    if last is None:
        return None
    value = eval(shell.compile(ast.Expression(last.value), filename, "eval"), namespace, local_namespace)
    return None if ends_with_semicolon(code) else value
