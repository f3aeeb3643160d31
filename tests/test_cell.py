"""Running a cell body as IPython runs a cell."""

from __future__ import annotations

import pytest
from conftest import run_failing, run_ok

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


def test_syntax_error_names_the_cell_line(ip):
    error = run_failing(ip, "%%seeded 0\nx = 1\ny = (\n")
    assert isinstance(error, SyntaxError)


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
