"""Running a cell body as IPython runs a cell."""

from __future__ import annotations

import re

import pytest
from conftest import run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.engine import ENGINE


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("x", True),
        ("x;", False),
        ("x;  # comment", False),
        ("x;\n\n", False),
        ("a = 1; b = 2", False),
        ("s = 'a;'\ns", True),
        ("f(x);\n# trailing comment\n", False),
        ("for i in [1]:\n    x;\nx", True),
    ],
)
@pytest.mark.parametrize("check", ["", " --check"])
def test_a_trailing_semicolon_silences_a_seeded_cell_as_it_does_a_plain_cell(ip, code, shown, check):
    ip.user_ns.update(x=3, f=lambda value: value)
    try:
        plain = ip.run_cell(code, store_history=True)  # as a notebook runs it: IPython reads `;` from the history
        seeded = ip.run_cell(f"%%seeded 0{check}\n{code}", store_history=True)
        direct = ip.run_cell_magic("seeded", f"0{check}", code)  # run_cell_magic, as a front end may call it
    finally:
        for name in ("x", "f", "a", "b", "s", "i"):
            ip.user_ns.pop(name, None)
    plain.raise_error()
    seeded.raise_error()
    assert (plain.result is not None) is shown
    assert (seeded.result is not None) is shown
    assert (direct is not None) is shown


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


def test_top_level_await_runs_as_in_a_plain_cell(ip):
    import torch

    torch.manual_seed(0)
    expected = torch.rand(2)
    cell = "%%seeded 0\nimport asyncio, torch\nawait asyncio.sleep(0)\nx = torch.rand(2)\nawait asyncio.sleep(0)\nx"
    value = run_ok(ip, cell)
    assert torch.equal(value, expected)


def test_check_cannot_await_and_says_what_to_do_instead(ip):
    error = run_failing(ip, "%%seeded 0 --check\nimport asyncio\nawait asyncio.sleep(0)")
    assert isinstance(error, UsageError)
    assert "seedmagic.seeded" in str(error)


def _context(text: str) -> dict[int, str]:
    """The numbered source lines a traceback shows for the cell (``      3 x = 1`` and ``----> 4 1 / 0``)."""
    found = re.findall(r"^(?:---->|\s+)\s*(\d+) (.*)$", text, flags=re.MULTILINE)
    return {int(number): line for number, line in found}


@pytest.mark.parametrize(
    "body",
    [
        "x = 1\n!echo hi\n%time y = 2\n1 / 0",
        "def f():\n    raise KeyError('k')\nz = 3\nf()",
        "import torch\n%env SEEDMAGIC_TEST_VARIABLE=1\ntorch.zeros(2) @ torch.zeros(3)",
    ],
)
def test_an_exception_shows_the_cells_lines_as_written_with_no_seedmagic_frames(ip, capfd, body):
    ip.colors = "nocolor"
    plain_error = run_failing(ip, body)
    plain = capfd.readouterr()
    count = ip.execution_count
    cell = "%%seeded 0\n" + body
    seeded_error = run_failing(ip, cell)
    seeded = capfd.readouterr()
    text = seeded.out + seeded.err
    assert type(seeded_error) is type(plain_error) and str(seeded_error) == str(plain_error)
    assert "seedmagic" not in text
    assert f"Cell In[{count}], line {len(cell.splitlines())}" in text
    written = dict(enumerate(cell.splitlines(), start=1))
    shown = _context(text)
    assert shown and all(written[number] == line for number, line in shown.items()), shown
    # The same frames and the same error lines as the plain cell, one line further down.
    assert text.splitlines()[-1] == (plain.out + plain.err).splitlines()[-1]
    assert text.count("Cell In[") == (plain.out + plain.err).count("Cell In[")


@pytest.mark.parametrize("body", ["x = 1\ny = (\n", "x = 1\n  y = 2\n", "x = 1\n!echo hi\nfor\n"])
def test_a_syntax_error_reads_as_in_a_plain_cell_one_line_down(ip, capfd, body):
    ip.colors = "nocolor"
    plain_error = run_failing(ip, body)
    plain = capfd.readouterr()
    count = ip.execution_count
    seeded_error = run_failing(ip, "%%seeded 0\n" + body)
    seeded = capfd.readouterr()
    assert type(seeded_error) is type(plain_error)
    assert seeded_error.lineno == plain_error.lineno + 1
    text = seeded.out + seeded.err
    assert "seedmagic" not in text
    assert f"Cell In[{count}], line {plain_error.lineno + 1}" in text
    assert text.splitlines()[1:] == (plain.out + plain.err).splitlines()[1:]


def test_out_and_the_history_are_a_plain_cells(ip):
    count = ip.execution_count
    value = run_ok(ip, "%%seeded 3\nimport random\nrandom.random()")
    random_state = __import__("random")
    random_state.seed(3)
    assert value == random_state.random()
    assert ip.user_ns["Out"][count] == value
    assert ip.user_ns[f"_{count}"] == value
    assert ip.user_ns["_"] == value
    assert ip.history_manager.input_hist_raw[count] == "%%seeded 3\nimport random\nrandom.random()"
    assert ip.user_ns["_ih"][count].splitlines()[1:] == ["import random", "random.random()"]


def test_a_cell_magic_under_seeded_still_runs_as_a_cell_magic(ip, capsys):
    import torch

    torch.manual_seed(2)
    expected = torch.rand(1)
    run_ok(ip, "%%seeded 2\n%%capture captured\nimport torch\nt = torch.rand(1)\nprint('hidden')")
    assert torch.equal(ip.user_ns["t"], expected)
    assert "hidden" in ip.user_ns["captured"].stdout
    assert "hidden" not in capsys.readouterr().out


def test_an_isolated_silent_cell_puts_everything_back_when_it_ends(ip):
    import torch

    run_ok(ip, "import torch")
    seedmagic.seed_all(4)
    torch.rand(3)
    before = (torch.get_rng_state(), str(seedmagic.status()))
    result = ip.run_cell("%%seeded 9 --isolate\ntorch.rand(5)", silent=True)
    result.raise_error()
    assert torch.equal(torch.get_rng_state(), before[0])
    assert str(seedmagic.status()) == before[1]
    assert not ENGINE.in_cell()
    magics = ip.magics_manager.registry["SeedMagics"]
    assert magics.post_execute not in ip.events.callbacks["post_execute"]  # listened to only while needed


def test_a_seeded_cell_in_the_terminal_still_waits_for_its_body(ip):
    # The terminal runs a cell magic when a blank line ends it: %%seeded must not look complete after one line.
    assert ip.input_transformer_manager.check_complete("%%seeded 0\n")[0] == "incomplete"
    assert ip.input_transformer_manager.check_complete("%%seeded 0\nx = 1\n\n")[0] == "complete"


def test_the_line_form_seeds_the_rest_of_its_cell_and_no_more(ip):
    import torch

    run_ok(ip, "import torch")
    torch.manual_seed(6)
    expected = torch.rand(2)
    value = run_ok(ip, "a = torch.rand(1)\n%seeded 6\ntorch.rand(2)")
    assert torch.equal(value, expected)
    assert seedmagic.current_seed() is None


def test_the_line_form_outside_a_cell_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="no cell is running"):
        ip.run_line_magic("seeded", "0")
    with pytest.raises(UsageError, match="--check"):
        ip.run_cell_magic("seeded", "0", "x = 1") or ip.run_line_magic("seeded", "0 --check")


def test_run_cell_magic_called_directly_still_runs_the_body(ip):
    import torch

    torch.manual_seed(1)
    expected = torch.rand(1)
    run_ok(ip, "import torch")
    assert torch.equal(ip.run_cell_magic("seeded", "1", "torch.rand(1)"), expected)


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
