"""seedmagic in real Jupyter kernels, driven through nbclient: what a notebook user sees.

Every test starts a fresh ``python3`` kernel (nothing imported yet), runs a few cells in it and reads the outputs and
the kernel's execute replies. Values drawn in the kernel are compared with what the libraries' own seeding calls give,
in the kernel itself and in this process.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import nbclient
import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

FRAMEWORKS = ("torch", "numpy", "tensorflow", "jax", "ipywidgets")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Ran:
    """One executed cell: its source, execution count, outputs and the kernel's execute reply."""

    source: str
    execution_count: int | None
    outputs: list[dict[str, Any]]
    reply: dict[str, Any] = field(default_factory=dict)

    def stream(self, name: str) -> str:
        return "".join(o["text"] for o in self.outputs if o["output_type"] == "stream" and o["name"] == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    @property
    def results(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["output_type"] == "execute_result"]

    @property
    def result(self) -> str:
        """The text/plain of the cell's one Out[N]."""
        assert len(self.results) == 1, f"expected one execute_result from {self.source!r}, got {self.outputs}"
        return self.results[0]["data"]["text/plain"]

    @property
    def value(self) -> Any:
        """The one JSON line the cell printed."""
        return json.loads(self.stdout)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o["output_type"] == "error"]


def raises(source: str) -> nbformat.NotebookNode:
    """A cell that is meant to fail: nbclient goes on past it (the ``raises-exception`` tag)."""
    return new_code_cell(source, metadata={"tags": ["raises-exception"]})


def run_kernel(*cells: str | nbformat.NotebookNode) -> list[Ran]:
    """Run the cells, in order, in a fresh python3 kernel. A cell not made with ``raises`` must not fail."""
    nb = new_notebook(cells=[new_code_cell(c) if isinstance(c, str) else c for c in cells])
    replies: dict[int, dict[str, Any]] = {}

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any]) -> None:
        replies[cell_index] = execute_reply["content"]

    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=120, record_timing=False, on_cell_executed=on_cell_executed
    )
    client.execute()
    return [
        Ran(cell.source, cell.execution_count, [dict(o) for o in cell.outputs], replies.get(index, {}))
        for index, cell in enumerate(nb.cells)
    ]


def torch_rand(seed: int, n: int) -> torch.Tensor:
    """``torch.manual_seed(seed); torch.rand(n)`` in this process, leaving its generator as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.rand(n)


def draws_after_seeding(seed: int) -> list[Any]:
    """What the kernel's draw cell gives right after ``random.seed``/``np.random.seed``/``torch.manual_seed``."""
    python = random.Random(seed)  # what random.seed(seed) gives the module's own generator
    numpy = np.random.RandomState(seed)  # what np.random.seed(seed) gives NumPy's legacy global generator
    return [[python.random() for _ in range(3)], numpy.rand(3).tolist(), torch_rand(seed, 3).tolist()]


def test_load_ext_and_seed_import_no_framework_and_a_later_import_is_seeded():
    ran = run_kernel(
        "import json, sys\n"
        f"FRAMEWORKS = {FRAMEWORKS!r}\n"
        "def loaded():\n"
        "    return sorted(m for m in FRAMEWORKS if m in sys.modules)\n"
        "before = loaded()\n"
        "print(json.dumps(before))",
        "%load_ext seedmagic",
        "print(json.dumps(sorted(set(loaded()) - set(before))))",
        "%seed 0",
        "%seed",
        "print(json.dumps(sorted(set(loaded()) - set(before))))",
        "import torch\na = torch.rand(2)\nprint(json.dumps(a.tolist()))",
        "torch.manual_seed(0)\ntorch.equal(a, torch.rand(2))",
    )
    before, load, after_load, seed, status, after_seed, draw, same = ran
    assert "torch" not in before.value, "the kernel imports torch by itself: the later-import check means nothing"
    assert load.outputs == []
    assert after_load.value == []
    assert seed.stdout.splitlines() == [seed.stdout.strip()]
    assert "seeded random with 0" in seed.stdout
    assert re.search(r"torch\b[^;]* seeded on import", seed.stdout), seed.stdout
    assert "session seed 0" in status.stdout
    assert after_seed.value == []
    assert draw.value == torch_rand(0, 2).tolist()
    assert same.result == "True"


def test_seed_and_import_in_one_cell_and_seeded_cell_output():
    ran = run_kernel(
        "%load_ext seedmagic",
        "%seed 0\nimport torch\nx = torch.rand(1)",
        "import json\nprint(json.dumps(x.tolist()))\ntorch.manual_seed(0)\ntorch.equal(x, torch.rand(1))",
        "%%seeded 0\ntorch.rand(1)",
        "torch.rand(5);",
        "%%seeded 0\ntorch.rand(1)",
        "%%seeded 0\ntorch.rand(1);",
        "%%seeded 0\ny = torch.rand(1)\ny;  # silenced, with a comment after the ;",
        "print(json.dumps(y.tolist()))",
    )
    _, seed_import, same, first, _, second, silenced, silenced_comment, y = ran
    assert "seeded" in seed_import.stdout
    assert same.result == "True"
    assert same.value == torch_rand(0, 1).tolist()
    expected = repr(torch_rand(0, 1))
    assert first.result == expected
    assert second.result == expected
    assert first.results[0]["execution_count"] == first.execution_count
    assert second.results[0]["execution_count"] == second.execution_count
    assert second.execution_count == first.execution_count + 2
    assert silenced.outputs == []
    assert silenced_comment.outputs == []
    assert y.value == torch_rand(0, 1).tolist()


@pytest.fixture(scope="module")
def failing_seeded_cell() -> list[Ran]:
    return run_kernel(
        "%load_ext seedmagic",
        raises('%%seeded 0\nimport random\nbefore_raise = random.random()\nraise ValueError("boom")\nafter_raise = 1'),
        "import json\nprint(json.dumps([before_raise, 'after_raise' in globals()]))",
    )


def test_seeded_cell_that_raises_fails_like_a_cell_and_keeps_what_it_assigned(failing_seeded_cell):
    _, failed, later = failing_seeded_cell
    assert failed.reply["status"] == "error"
    assert (failed.reply["ename"], failed.reply["evalue"]) == ("ValueError", "boom")
    [error] = failed.errors
    assert (error["ename"], error["evalue"]) == ("ValueError", "boom")
    traceback = ANSI.sub("", "\n".join(error["traceback"]))
    assert re.search(r"-+> 4 raise ValueError\(\"boom\"\)", traceback), traceback
    assert later.value == [random.Random(0).random(), False]


def test_seeded_cell_traceback_names_the_cell_it_ran_in(failing_seeded_cell):
    _, failed, _ = failing_seeded_cell
    [error] = failed.errors
    frames = re.findall(r"Cell In\[(\d+)\], line (\d+)", ANSI.sub("", "\n".join(error["traceback"])))
    assert frames, error["traceback"]
    assert all(int(number) == failed.execution_count for number, _ in frames), frames


DRAWS = "[[random.random() for _ in range(3)], np.random.rand(3).tolist(), torch.rand(3).tolist()]"
STATES = "(random.getstate(), np.random.get_state(), torch.get_rng_state())"


def test_isolated_cell_leaves_every_generator_where_it_was_also_when_it_raises():
    ran = run_kernel(
        "%load_ext seedmagic\nimport json, random\nimport numpy as np\nimport torch",
        "random.seed(7); np.random.seed(7); torch.manual_seed(7);",
        f"%%seeded 0 --isolate\ninside = {DRAWS}",
        f"print(json.dumps({DRAWS}))",
        f"random.seed(11); np.random.seed(11); torch.manual_seed(11)\nbefore = {STATES}",
        raises(f"%%seeded 0 --isolate\n{DRAWS}\nraise RuntimeError('inside an isolated cell')"),
        f"after = {STATES}\n"
        "print(json.dumps([after[0] == before[0], all(np.array_equal(a, b) for a, b in zip(after[1], before[1])),"
        " torch.equal(after[2], before[2])]))",
        f"print(json.dumps({DRAWS}))",
        "print(json.dumps(inside))",
    )
    _, _, isolated, after, _, isolated_raising, same_states, after_raise, inside = ran
    assert isolated.outputs == []
    assert after.value == draws_after_seeding(7)
    assert isolated_raising.reply["ename"] == "RuntimeError"
    assert isolated_raising.reply["evalue"] == "inside an isolated cell"
    assert same_states.value == [True, True, True]
    assert after_raise.value == draws_after_seeding(11)
    assert inside.value == draws_after_seeding(0)


def test_magics_and_shell_lines_inside_a_seeded_cell():
    ran = run_kernel(
        "%load_ext seedmagic",
        "%%seeded 0\n%time y = 1\n!echo hi\nlines = !echo captured\nimport random\n(y, lines[0], random.random())",
    )
    _, cell = ran
    assert cell.reply["status"] == "ok"
    assert "Wall time" in cell.stdout
    assert "hi" in cell.stdout.split()
    assert cell.result == repr((1, "captured", random.Random(0).random()))


BAD_SEED_LINES = {
    "%seed abc": "'abc'",
    "%seed -1": "-1",
    "%seed 4294967296": "4294967296",
    "%seed 1.5": "'1.5'",
    "%seed 0 --only foo": "'foo'",
    "%seed 0 --bogus": "--bogus",
}


def test_bad_seed_arguments_are_one_line_usage_errors_and_change_nothing():
    ran = run_kernel(
        "%load_ext seedmagic\nimport numpy",
        "%seed",
        *(raises(line) for line in BAD_SEED_LINES),
        "%seed",
    )
    _, status_before, *bad, status_after = ran
    for cell, problem in zip(bad, BAD_SEED_LINES.values(), strict=True):
        # IPython reports a UsageError in the execute reply and on stderr, without a traceback (no error output).
        assert cell.reply["status"] == "error", cell.source
        assert cell.reply["ename"] == "UsageError", (cell.source, cell.reply)
        evalue = cell.reply["evalue"]
        assert "\n" not in evalue.strip() and problem in evalue, (cell.source, evalue)
        assert cell.stderr.strip() == f"UsageError: {evalue}", (cell.source, cell.stderr)
        assert cell.stdout == "", (cell.source, cell.stdout)
    assert "session seed none" in status_after.stdout
    assert status_after.stdout == status_before.stdout  # same fingerprints: no generator was touched


def test_deterministic_switch_reaches_a_later_torch_import_and_is_undone():
    ran = run_kernel(
        "import json, os, sys\nos.environ.pop('CUBLAS_WORKSPACE_CONFIG', None)\n%load_ext seedmagic",
        "%seed 0 --deterministic",
        "print(json.dumps('torch' in sys.modules))",
        "import torch\n"
        "print(json.dumps([torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,"
        " torch.backends.cudnn.benchmark, os.environ.get('CUBLAS_WORKSPACE_CONFIG')]))",
        "%seed --no-deterministic",
        "print(json.dumps([torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,"
        " torch.backends.cudnn.benchmark, 'CUBLAS_WORKSPACE_CONFIG' in os.environ]))",
    )
    _, on, torch_imported, after_import, off, after_off = ran
    assert "deterministic mode on" in on.stdout
    assert torch_imported.value is False
    assert after_import.value == [True, True, False, ":4096:8"]
    assert "deterministic mode off" in off.stdout
    assert after_off.value == [False, False, False, False]


def test_unload_removes_the_magics_and_reload_brings_them_back_once():
    ran = run_kernel(
        "%load_ext seedmagic",
        "%unload_ext seedmagic",
        raises("%seed 1"),
        raises("%%seeded 1\n1"),
        "%reload_ext seedmagic",
        "%seed 3",
        "%%seeded 3\nimport random\nrandom.random()",
    )
    _, unload, line_magic, cell_magic, reload, seed, seeded = ran
    assert unload.outputs == []
    for cell in (line_magic, cell_magic):
        assert cell.reply["status"] == "error"
        assert cell.reply["ename"] == "UsageError"
        assert "not found" in cell.reply["evalue"], cell.reply["evalue"]
    assert reload.outputs == []
    assert len(seed.stdout.splitlines()) == 1, seed.stdout
    assert seed.stdout.startswith("seedmagic: seeded random") and "with 3" in seed.stdout
    assert seed.stderr == ""
    assert seeded.result == repr(random.Random(3).random())


# -- order-independent notebooks -----------------------------------------------------------------------------------

AUTO_SETUP = "%load_ext seedmagic\n%seed 0 --auto -q\nimport json\nimport torch"
CELL_A = "print(json.dumps(torch.rand(2).tolist()))  # cell A"
CELL_B = "print(json.dumps(torch.rand(2).tolist()))  # cell B"


def test_auto_gives_each_cell_its_numbers_whatever_the_order_in_two_fresh_kernels():
    from seedmagic import derive_seed

    _, a1, b1, a2 = run_kernel(AUTO_SETUP, CELL_A, CELL_B, CELL_A)
    _, b2, a3 = run_kernel(AUTO_SETUP, CELL_B, CELL_A)
    assert a1.value == a2.value == a3.value
    assert b1.value == b2.value
    assert a1.value != b1.value
    # nbclient sends no cell id: the cell's source identifies it
    assert a1.value == torch_rand(derive_seed(0, "source:" + CELL_A), 2).tolist()


def test_check_in_a_kernel_passes_a_seeded_cell_and_names_an_unseeded_generator():
    _, good, bad = run_kernel(
        "%load_ext seedmagic\nimport numpy as np\nimport torch",
        "%%seeded 0 --check\nw = torch.rand(3)\nz = np.random.rand(2)",
        "%%seeded 0 --check\nnoise = np.random.default_rng().random(3)\nw = torch.rand(3)",
    )
    assert good.stdout.startswith("seedmagic: reproducible: two runs from seed 0 gave the same w, z")
    assert "NOT reproducible" in bad.stderr
    assert "noise: values differ" in bad.stderr
    assert "w:" not in bad.stderr


def test_profile_options_seed_every_session_from_its_first_cell(tmp_path, monkeypatch):
    from seedmagic import derive_seed

    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["seedmagic"]\nc.SeedMagics.seed = 0\nc.SeedMagics.auto = True\n'
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("SEEDMAGIC_SEED", raising=False)
    first = "import json, torch\nprint(json.dumps(torch.rand(2).tolist()))"
    drawn, mode = run_kernel(first, "import seedmagic\nprint(seedmagic.status().mode, seedmagic.status().seed)")
    assert drawn.value == torch_rand(derive_seed(0, "source:" + first), 2).tolist()
    assert mode.stdout.split() == ["auto", "0"]


def test_environment_seed_seeds_the_session_at_load(monkeypatch):
    monkeypatch.setenv("SEEDMAGIC_SEED", "7")
    _, drawn = run_kernel("%load_ext seedmagic", "import json, torch\nprint(json.dumps(torch.rand(2).tolist()))")
    assert drawn.value == torch_rand(7, 2).tolist()


def test_unload_removes_the_cell_hooks_in_a_kernel():
    _, _, first, second, hooks = run_kernel(
        AUTO_SETUP,
        "%unload_ext seedmagic",
        CELL_A,
        CELL_A,
        "callbacks = get_ipython().events.callbacks\n"
        "print(json.dumps([type(getattr(f, '__self__', None)).__name__ for e in callbacks for f in callbacks[e]]))",
    )
    assert first.value != second.value
    assert "SeedMagics" not in hooks.value


def test_a_seeded_cell_with_top_level_await_is_seeded_and_isolated_in_a_kernel():
    ran = run_kernel(
        "%load_ext seedmagic",
        "import asyncio, torch",
        "%seed 5 -q",
        "%%seeded 9 --isolate\nawait asyncio.sleep(0)\nx = torch.rand(2)\nawait asyncio.sleep(0)\nx.tolist()",
        "torch.rand(2).tolist()",
        raises("%%seeded 9 --isolate\nawait asyncio.sleep(0)\ny = torch.rand(9)\nraise KeyError('after await')"),
        "torch.rand(2).tolist()",
    )
    assert ran[3].result == repr(torch_rand(9, 2).tolist())
    after = torch_rand(5, 4).tolist()
    assert ran[4].result == repr(after[:2])  # the isolated cell left the session's stream where it was
    assert ran[5].errors[0]["ename"] == "KeyError"
    assert "seedmagic" not in ANSI.sub("", "".join(ran[5].errors[0]["traceback"]))
    assert ran[6].result == repr(after[2:])


def test_check_in_a_kernel_sees_callbacks_and_hooks_and_keeps_the_optimizer_on_the_model():
    ran = run_kernel(
        "%load_ext seedmagic",
        "import json, numpy as np, torch\n"
        "scores = []\ncallbacks = [lambda: scores.append(np.random.default_rng().random())]\n"
        "def train():\n    for callback in callbacks:\n        callback()",
        "%%seeded 0 --check\ntrain()",
        "torch.manual_seed(3)\nmodel = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "acts = []\nhandle = model.register_forward_hook(lambda m, a, out: acts.append(out.detach()))",
        raises(
            "%%seeded 0 --check\nloss = model(torch.randn(4, 2)).pow(2).sum()\nopt.zero_grad()\nloss.backward()\n"
            "opt.step()\nraise KeyboardInterrupt"
        ),
        "shared = opt.param_groups[0]['params'][0] is model.weight\nopt.step()\n"
        "print(json.dumps([len(scores), len(acts), shared, model.weight.tolist()]))",
    )
    _, _, checked, _, interrupted, after = ran
    assert "NOT reproducible" in checked.stderr and "scores: [0] values differ" in checked.stderr
    assert interrupted.errors and interrupted.errors[0]["ename"] == "KeyboardInterrupt"
    # What one plain run of each cell leaves, from torch's own calls here: one score, one activation, one step of
    # training from the interrupted cell, and a second step by the last cell's opt.step() on the same gradient.
    torch.manual_seed(3)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        loss = model(torch.randn(4, 2)).pow(2).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    opt.step()
    assert after.value == [1, 1, True, model.weight.tolist()]


def test_the_folded_panel_in_a_kernel_says_what_a_first_cell_drew_with_and_without_a_seed():
    shown = "import html, re\nprint(html.unescape(re.sub('<[^>]+>', '', p.summary.value)))"
    ran = run_kernel(
        "%load_ext seedmagic\nfrom seedmagic import panel\nfrom seedmagic.engine import ENGINE\n"
        "p = panel.SeedPanel(ENGINE, get_ipython(), expanded=False)",
        "import torch; x = torch.rand(1)",
        shown,
        "%seed 0 -q",
        "y = torch.rand(1)",
        shown,
    )
    without, with_seed = ran[2].stdout.strip(), ran[5].stdout.strip()
    head = "seedmagic\u2002"  # the name, then an en space (&ensp;)
    assert without.startswith(f"{head}seed none · mode none · last cell - · 0/3 seeded · "), without
    assert without.endswith(" · drew from torch (no seed set)"), without
    assert with_seed.startswith(f"{head}seed 0 · mode manual · last cell - · 3/3 seeded · "), with_seed
    assert with_seed.endswith(" · drew from torch"), with_seed


def test_check_in_a_kernel_names_the_clock_skips_progress_bars_and_notes_set_order():
    """What real notebooks print and keep: a timestamp, a tqdm bar (on stderr, redrawn as time passes), a dict built
    from a set of strings. The kernel starts without PYTHONHASHSEED, as Jupyter's do."""
    ran = run_kernel(
        "%load_ext seedmagic\nimport time\nfrom tqdm.auto import tqdm\nwords = {'alpha', 'beta', 'gamma'}",
        "%%seeded 0 --check\nstarted = time.time()",
        "%%seeded 0 --check\nprint('run at', time.time())",
        "%%seeded 0 --check\ntotal = 0\nfor i in tqdm(range(40), mininterval=0):\n    time.sleep(0.001)\n"
        "    total += i",
        "%%seeded 0 --check\ncounts = {word: len(word) for word in words}",
    )
    _, kept, printed, bar, built = ran
    assert kept.stderr.startswith("seedmagic: NOT reproducible: two runs from seed 0 differ in 1 of 1:\n  started:")
    assert "  cause: started is a reading of the clock (time.time()), another in each run" in kept.stderr
    assert "  cause: what it printed shows a reading of the clock (time.time() or the date)" in printed.stderr
    assert bar.stdout == "seedmagic: reproducible: two runs from seed 0 gave the same total, i\n"
    assert built.stdout.startswith("seedmagic: reproducible: two runs from seed 0 gave the same counts\n")
    assert "  note: the cell goes through words, a set of strings, in its order: that order differs" in built.stdout
