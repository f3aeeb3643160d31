"""Running a cell body as IPython runs a cell."""

from __future__ import annotations

import re

import pytest
from conftest import run_failing, run_ok
from IPython.core.error import UsageError

from seedmagic.cell import ends_with_semicolon


@pytest.mark.parametrize(
    ("code", "quiet"),
    [
        ("x", False),
        ("x;", True),
        ("x;  # comment", True),
        ("x;\n\n", True),
        ("a = 1; b = 2", False),
        ("s = 'a;'", False),
        ("f(x);\n# trailing comment\n", True),
        ("for i in y:\n    x;\n", True),
        ("(1,\n", False),
    ],
)
def test_ends_with_semicolon(code, quiet):
    assert ends_with_semicolon(code) is quiet


def test_body_without_expression_returns_nothing(ip):
    assert run_ok(ip, "%%seeded 0\nq = 4") is None
    assert ip.user_ns["q"] == 4


def test_body_of_only_a_comment_still_seeds(ip):
    import torch

    torch.manual_seed(4)
    expected = torch.rand(1)
    assert run_ok(ip, "%%seeded 4\n# nothing to run") is None
    assert torch.equal(torch.rand(1), expected)


def test_syntax_error_names_the_cell_line_and_changes_nothing(ip):
    import torch

    ip.user_ns.pop("x", None)
    state = torch.get_rng_state()
    error = run_failing(ip, "%%seeded 0\nx = 1\ny = (\n")
    assert isinstance(error, SyntaxError)
    assert error.lineno == 3
    assert "x" not in ip.user_ns
    assert torch.equal(torch.get_rng_state(), state)


def test_top_level_await_is_a_clear_usage_error(ip):
    error = run_failing(ip, "%%seeded 0\nimport asyncio\nawait asyncio.sleep(0)")
    assert isinstance(error, UsageError)
    assert "seedmagic.seeded" in str(error)


def test_traceback_names_the_cell_it_ran_in(ip, capsys):
    count = ip.execution_count
    run_failing(ip, "%%seeded 0\nx = 1\n1 / 0")
    text = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    assert f"Cell In[{count}], line 3" in text
    assert f"In[{count + 1}]" not in text


def test_definitions_and_closures_land_in_the_user_namespace(ip):
    run_ok(ip, "%%seeded 0\nk = 3\ndef f(v):\n    return v * k\nclass C:\n    z = [k for _ in range(2)]")
    assert run_ok(ip, "f(2), C.z") == (6, [3, 3])


def test_ast_transformers_apply(ip):
    import ast

    class Double(ast.NodeTransformer):
        def visit_Constant(self, node):
            if isinstance(node.value, int):
                return ast.copy_location(ast.Constant(node.value * 2), node)
            return node

    transformer = Double()
    ip.ast_transformers.append(transformer)
    try:
        assert run_ok(ip, "%%seeded 0\n21") == 42
    finally:
        ip.ast_transformers.remove(transformer)


@pytest.mark.parametrize("interactivity", ["last_expr", "all", "last_expr_or_assign", "none"])
def test_shows_what_a_plain_cell_shows_under_every_interactivity_setting(ip, interactivity, capsys):
    body = "a = 6\na * 2\nb = a * 3"
    previous = ip.ast_node_interactivity
    ip.ast_node_interactivity = interactivity
    try:
        run_ok(ip, body)
        plain = re.findall(r"Out\[\d+\]: (.*)", capsys.readouterr().out)
        run_ok(ip, "%%seeded 0\n" + body)
        seeded = re.findall(r"Out\[\d+\]: (.*)", capsys.readouterr().out)
    finally:
        ip.ast_node_interactivity = previous
    assert seeded == plain
    assert plain == {"all": ["12"], "last_expr_or_assign": ["18"]}.get(interactivity, [])
