"""%seedpanel without a browser: the widget models of a real panel in a real InteractiveShell.

A plain InteractiveShell has no kernel, so ``%seedpanel`` prints the text table there; the widget panel is built
directly with ``SeedPanel(engine, shell)``, which refreshes after the shell's cells exactly as ``%seedpanel``'s does.
The browser test (test_panel_browser.py) shows the same panel in JupyterLab.
"""

from __future__ import annotations

import gc
import html
import os
import random
import re
import sys
import weakref

import numpy as np
import pytest
import torch
from conftest import FailingLibrary, run_failing, run_ok

from seedmagic import panel
from seedmagic.engine import ENGINE, Engine
from seedmagic.ranks import PerRank
from seedmagic.sources import NAMES, SOURCES
from seedmagic.status import SeedReport

CALLBACKS = "post_run_cell"


@pytest.fixture
def make_panel(ip):
    """Build panels on the shell (folded, as %seedpanel shows them, or unfolded); every one is closed afterwards."""

    def make(engine: Engine = ENGINE, expanded: bool = True) -> panel.SeedPanel:
        return panel.SeedPanel(engine, ip, expanded=expanded)

    yield make
    panel.close_all(ip)


def fingerprints(name: str) -> dict[str, str]:
    return ENGINE.status().library(name).streams


def row(p: panel.SeedPanel, name: str) -> str:
    """The HTML of the library's row in the panel, with the notes under it."""
    return _with_notes(p.libraries.value, f"<b>{name}</b>")


def flag_row(p: panel.SeedPanel, name: str) -> str:
    return _with_notes(p.flags.value, f">{name}<")


def _with_notes(table: str, marker: str) -> str:
    rows = table.split('<tr style="')
    start = next(i for i, r in enumerate(rows) if marker in r)
    end = start + 1
    while end < len(rows) and "colspan" in rows[end]:
        end += 1
    return "".join(rows[start:end])


def text(fragment: str) -> str:
    """What the HTML shows, tags left out."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_a_row_for_every_library_with_its_version_state_and_fingerprints(make_panel):
    ENGINE.seed_all(3)
    p = make_panel()
    status = ENGINE.status()
    assert [lib.name for lib in status.libraries] == list(NAMES)
    for lib in status.libraries:
        r = row(p, lib.name)
        assert html.escape(lib.state) in r
        if lib.version:
            assert html.escape(lib.version) in r
        for stream, value in lib.streams.items():
            assert f">{html.escape(stream)}<" in r and f">{value}<" in r
        if lib.note and (lib.imported or lib.on_import):  # under the row, not in a column of its own
            assert html.escape(lib.note) in r and "colspan" in r
        elif lib.note:  # a library not imported: under the pointer, so that the panel stays short
            assert f'title="{html.escape(lib.note)}"' in r and "colspan" not in r
    assert "seeded with 3 (session)" in row(p, "torch")
    assert ">cpu<" in row(p, "torch") and "cuda:" not in row(p, "torch")  # CUDA is not started: no cuda stream
    assert "session seed <b>3</b>" in p.headline.value and "mode <b>manual</b>" in p.headline.value


def test_a_library_whose_state_cannot_be_read_shows_the_note_in_its_row(make_panel):
    engine = Engine([FailingLibrary(), *SOURCES[1:]])
    p = make_panel(engine)
    p.seed_field.value = "6"
    p.reseed_button.click()
    assert "random FAILED (RuntimeError: cannot seed)" in p.notice and "error-color" in p.message.value
    assert "state unreadable: RuntimeError: cannot read" in row(p, "random")
    assert "error-color" in row(p, "random")
    assert "seeded with 6 (session)" in row(p, "torch")  # the others are seeded
    engine.reset()


class UnboundLibrary(FailingLibrary):
    """A library whose readings cannot even be bound."""

    def readers(self):
        raise RuntimeError("cannot bind")


@pytest.mark.parametrize(("library", "error"), [(FailingLibrary, "cannot read"), (UnboundLibrary, "cannot bind")])
def test_a_library_whose_readings_fail_leaves_the_others_watched(ip, make_panel, library, error):
    engine = Engine([library(), *SOURCES[1:]])
    try:
        p = make_panel(engine, expanded=False)
        run_ok(ip, "import torch\nx = torch.rand(1)")
        assert p.drew == ("torch",) and p.watch is not None
        marks = engine.marks()
        assert marks.states["random"] == f"RuntimeError: {error}"  # its error is its mark
        assert marks.seeds == {"torch": torch.initial_seed()}
        assert marks.states["torch"] == p.watch.before.states["torch"]
        assert "drew from torch" in text(p.summary.value) and "could not refresh" not in p.error.value
    finally:
        panel.close_all(ip)
        engine.hook.uninstall()
        engine.reset()


# -- folded: one line -------------------------------------------------------------------------------------------------


def test_torch_reseeded_by_the_code_shows_so_in_its_row(ip, make_panel):
    ENGINE.seed_all(3)
    p = make_panel()
    run_ok(ip, "import torch\ntorch.manual_seed(11)")
    shown = text(row(p, "torch"))
    assert "RESEEDED by the code" in shown and "seeded with 3" not in shown
    assert "torch.initial_seed() is 11, not the 3 seedmagic gave it (session)" in shown
    assert ENGINE.status().library("torch").outside in shown
    # The folded line does not count it as seeded either, and says what the status says.
    summary = p.watch.summary()
    assert summary == ENGINE.status().summary(p.drew, p.changed)
    assert summary.seeded == summary.imported - 1
    assert f"{summary.imported - 1}/{summary.imported} seeded" in text(p.summary.value)
    run_ok(ip, "%seed 3 -q")
    assert "seeded with 3 (session)" in text(row(p, "torch")) and "RESEEDED" not in text(row(p, "torch"))


def test_the_panel_starts_folded_on_one_line_that_says_what_matters(ip, make_panel):
    run_ok(ip, "import random, numpy as np, torch\n%seed 5 -q")
    p = make_panel(expanded=False)
    assert not p.expanded and p.details.layout.display == "none"
    assert p.libraries.value == "" and p.flags.value == ""  # nothing of the details is read while folded
    not_deterministic = sum(flag.ok is False for flag in ENGINE.status().flags)
    line = text(p.summary.value)
    assert line.startswith("seedmagic")
    for part in ("seed 5", "mode manual", "last cell -", "3/3 seeded", f"{not_deterministic} flags NOT deterministic"):
        assert part in line, (part, line)
    assert "drew from" not in line  # no cell has run since the panel was shown

    run_ok(ip, "%%seeded 9\nx = torch.rand(1)")
    line = text(p.summary.value)
    assert "last cell 9" in line and "drew from torch" in line

    p.details_toggle.value = True  # unfolds: the details are read and drawn
    assert p.expanded and p.details.layout.display == ""
    assert p.details_toggle.icon == "chevron-down"
    assert "seeded with 9 (cell)" in row(p, "random") and "drew" in row(p, "torch")
    p.details_toggle.value = False
    assert p.details.layout.display == "none" and p.details_toggle.icon == "chevron-right"


def test_the_folded_line_is_the_status_summary(ip, make_panel):
    """The line is computed from cheap readings; it says what the full status says."""
    p = make_panel(expanded=False)
    for cell in (
        "import random, numpy as np, torch",
        "%seed 4 --only torch,numpy",
        "torch.manual_seed(1)",
        "%%seeded 8\nrandom.random()",
        "torch.backends.cudnn.benchmark = True",
        "%seed --deterministic",
        "%seed 2 --auto",
        "np.random.rand()",
        "%seed --no-deterministic",
    ):
        run_ok(ip, cell)
        summary = ENGINE.status().summary(p.drew, p.changed)
        assert p.watch.summary() == summary, cell
        assert text(p.summary.value) == "seedmagic\u2002" + " · ".join(summary.parts())
    torch.backends.cudnn.benchmark = False


# -- what the last cell drew from --------------------------------------------------------------------------------------


def test_a_seeded_cell_run_twice_is_highlighted_both_times_and_only_for_what_it_drew(ip, make_panel):
    run_ok(ip, "import random, numpy as np, torch")
    p = make_panel()
    for _ in range(2):
        got = run_ok(ip, "%%seeded 0\ntorch.rand(1)")
        torch.manual_seed(0)
        assert torch.equal(got, torch.rand(1))  # what torch's own seeding gives
        assert p.drew == ("torch",), "random and NumPy were seeded, not drawn from"
        assert "drew" in row(p, "torch") and "warn-color" in row(p, "torch")
        assert "drew" not in row(p, "random") and "drew" not in row(p, "numpy")
        assert "drew from torch" in text(p.summary.value)


@pytest.mark.parametrize(
    ("cell", "drew"),
    [
        ("x = np.random.rand(2)", ("numpy",)),
        ("x = random.random(), torch.rand(1)", ("random", "torch")),
        ("x = 1", ()),
        ("%seed 3", ()),  # seedmagic's own seeding is not a draw
        ("%seed 3\nx = np.random.rand()", ("numpy",)),
        ("%%seeded 1 --isolate\nx = random.random()", ("random",)),  # put back afterwards, but drawn from
        ("with seedmagic.isolated():\n    x = torch.rand(1)", ("torch",)),
        ("%%seeded 1 --only numpy\nx = np.random.rand(), random.random()", ("random", "numpy")),
        ("random.seed(3)", ("random",)),  # the user's own seeding moves the state: the cell changed it
    ],
)
def test_what_a_cell_drew_from(ip, make_panel, cell, drew):
    run_ok(ip, "import random, seedmagic, numpy as np, torch\n%seed 0 -q")
    p = make_panel()
    run_ok(ip, "x = random.random(), np.random.rand(), torch.rand(1)")  # the cell before drew from all
    run_ok(ip, cell)
    assert p.drew == drew
    highlighted = [name for name in ("random", "numpy", "torch") if "&#9679;&nbsp;drew" in row(p, name)]
    assert tuple(highlighted) == drew


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NumPy warns when the legacy state of another is asked for
def test_a_cell_drawing_from_numpy_on_another_bit_generator_is_highlighted(ip, make_panel):
    run_ok(ip, "import numpy as np\n%seed 0 -q")
    original = np.random.get_bit_generator()
    try:
        p = make_panel()
        run_ok(ip, "np.random.set_bit_generator(np.random.PCG64(1))")
        run_ok(ip, "x = np.random.rand(2)")
        assert p.drew == ("numpy",) and "&#9679;&nbsp;drew" in row(p, "numpy")
        assert "unreadable" not in row(p, "numpy") and p.error.value == ""
        run_ok(ip, "x = 1")
        assert p.drew == ()
    finally:
        np.random.set_bit_generator(original)


def test_auto_mode_cells_highlight_what_they_drew_and_not_the_reseeding(ip, make_panel):
    run_ok(ip, "import random, numpy as np, torch\n%seed 0 --auto -q")
    p = make_panel()
    for _ in range(3):
        run_ok(ip, "y = torch.rand(2)")
        assert p.drew == ("torch",)
    run_ok(ip, "z = 1")
    assert p.drew == ()


def test_a_library_imported_and_drawn_from_in_the_cell(fresh_python):
    drew = fresh_python(
        """
        shell.run_line_magic("load_ext", "seedmagic")
        from seedmagic import panel
        from seedmagic.engine import ENGINE
        p = panel.SeedPanel(ENGINE, shell)
        cell("%seed 0")  # seeded at import: the reading before a library's first draw
        cell("import numpy as np")
        first = p.drew
        cell("import torch\\nx = torch.rand(1)")
        second = p.drew
        cell("%seed 1\\nimport random")
        emit([first, second, p.drew])
        """
    )
    assert drew == [[], ["torch"], []]


def test_the_flags_a_cell_changed_are_highlighted(ip, make_panel):
    run_ok(ip, "import torch")
    p = make_panel()
    try:
        run_ok(ip, "torch.backends.cudnn.benchmark = True")
        assert p.changed == ("torch.backends.cudnn.benchmark",)
        assert "changed" in flag_row(p, "torch.backends.cudnn.benchmark")
        assert "NOT" in flag_row(p, "torch.backends.cudnn.benchmark")
        assert "changed torch.backends.cudnn.benchmark" in text(p.summary.value)
        run_ok(ip, "x = 1")
        assert p.changed == () and "changed" not in text(p.flags.value)
        run_ok(ip, "%seed --deterministic")  # what the cell did through seedmagic is what it did
        assert "torch.use_deterministic_algorithms" in p.changed and "torch.backends.cudnn.deterministic" in p.changed
        run_ok(ip, "%%seeded 0 --isolate\ntorch.use_deterministic_algorithms(False)")  # put back, but changed
        assert p.changed == ("torch.use_deterministic_algorithms",)
    finally:
        torch.backends.cudnn.benchmark = False


def test_a_control_keeps_the_last_cells_highlight_and_is_not_counted_for_the_next(ip, make_panel):
    run_ok(ip, "import torch\n%seed 3 -q")
    p = make_panel()
    run_ok(ip, "x = torch.rand(1)")
    p.seed_field.value = "4"
    p.reseed_button.click()  # reseeds every library: not what the last cell drew
    assert p.drew == ("torch",)
    assert all(f">{value}<" in row(p, "torch") for value in fingerprints("torch").values())
    run_ok(ip, "y = 1")
    assert p.drew == ()


def test_flags_after_seed_deterministic(ip, make_panel):
    p = make_panel()
    assert "NOT" in flag_row(p, "torch.use_deterministic_algorithms")
    assert p.deterministic_toggle.value is False
    run_ok(ip, "%seed --deterministic")
    assert "deterministic mode <b>on</b>" in p.headline.value
    assert p.deterministic_toggle.value is True
    for name in ("torch.use_deterministic_algorithms", "torch.backends.cudnn.deterministic"):
        assert "True" in text(flag_row(p, name)) and ">ok<" in flag_row(p, name)
    assert ">ok<" in flag_row(p, "torch.backends.cudnn.benchmark")
    assert ":4096:8" in flag_row(p, "CUBLAS_WORKSPACE_CONFIG")
    for flag in ENGINE.status().flags:  # every flag, with its verdict and its reason
        r = flag_row(p, flag.name)
        assert html.escape(flag.note) in r
        assert {True: ">ok<", False: ">NOT<", None: ">-<"}[flag.ok] in r
    names = [flag.name for flag in ENGINE.status().flags]
    assert "torch.backends.cuda.matmul.allow_tf32" in names and "torch.backends.cudnn.allow_tf32" in names
    assert "PYTHONHASHSEED" in names

    run_ok(ip, "%seed --deterministic --warn-only")
    assert "deterministic mode <b>on (warn only)</b>" in p.headline.value
    assert "True (warn_only)" in flag_row(p, "torch.use_deterministic_algorithms")


def test_a_cell_that_sets_cublas_workspace_config_changed_that_flag(ip, make_panel):
    """The variable's value gives its flag's verdict: setting, changing or deleting it changes the flag. Setting
    PYTHONHASHSEED changes none: the interpreter read it as it started."""
    run_ok(ip, "import torch")
    saved = {name: os.environ.get(name) for name in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED")}
    os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    p = make_panel(expanded=False)
    try:
        for cell in (
            "import os as _os\n_os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'",
            "_os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':16:8'",
            "del _os.environ['CUBLAS_WORKSPACE_CONFIG']",
        ):
            run_ok(ip, cell)
            assert p.changed == ("CUBLAS_WORKSPACE_CONFIG",), cell
            assert "changed CUBLAS_WORKSPACE_CONFIG" in text(p.summary.value)
        run_ok(ip, "_os.environ['PYTHONHASHSEED'] = '5'")
        assert p.changed == ()
        assert p.watch is not None and p.watch.summary() == ENGINE.status().summary(p.drew, p.changed)
    finally:
        ip.user_ns.pop("_os", None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_tf32_flags_follow_torch_and_start_no_gpu(make_panel):
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = True, False
        p = make_panel()
        assert ">True<" in flag_row(p, "torch.backends.cuda.matmul.allow_tf32")
        # No GPU has started in this process: TF32 is not in effect, so no verdict yet.
        assert ">-<" in flag_row(p, "torch.backends.cuda.matmul.allow_tf32")
        assert "between GPU generations" in flag_row(p, "torch.backends.cuda.matmul.allow_tf32")
        assert ">False<" in flag_row(p, "torch.backends.cudnn.allow_tf32")
        assert ">-<" in flag_row(p, "torch.backends.cudnn.allow_tf32")
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    assert not torch.cuda.is_initialized()


def test_tf32_flags_read_torchs_newer_precision_api_too(fresh_python):
    # torch >= 2.9 refuses the legacy allow_tf32 reads once fp32_precision set a different value.
    flags = fresh_python(
        """
        import torch
        from seedmagic.sources import Torch
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.cudnn.rnn.fp32_precision = "ieee"
        flags = {f.name: [str(f.value), f.ok, f.note] for f in Torch().shown_flags()}
        emit([flags, torch.cuda.is_initialized()])
        """
    )
    flags, cuda_started = flags
    assert flags["torch.backends.cuda.matmul.allow_tf32"][:2] == ["fp32_precision=tf32", None]
    assert flags["torch.backends.cudnn.allow_tf32"][:2] == ["conv=ieee, rnn=ieee", None]
    assert "between GPU generations" in flags["torch.backends.cuda.matmul.allow_tf32"][2]
    assert not cuda_started


def test_reseed_does_what_seed_n_does(make_panel):
    p = make_panel()
    p.seed_field.value = "7"
    p.reseed_button.click()
    assert ENGINE.seed == 7
    got = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(got, torch.rand(3))
    assert p.notice.startswith("seedmagic: seeded random, numpy, torch with 7")
    assert "session seed <b>7</b>" in p.headline.value  # the panel refreshed itself
    assert "seeded with 7 (session)" in row(p, "numpy")


def test_the_header_says_when_the_seed_was_derived_for_a_rank(make_panel):
    class RankEngine(Engine):
        def status(self):
            return super().status()._replace(seed=5, per_rank=PerRank(3, None))

    p = make_panel(RankEngine())
    assert "session seed <b>5</b> (derived from 3 for rank 0 (no parallel job found))" in p.headline.value


def test_reseed_reads_seeds_as_the_magic_does(make_panel):
    p = make_panel()
    for text, seed in [("0x10", 16), ("1_000", 1000), (" 42 ", 42)]:
        p.seed_field.value = text
        p.reseed_button.click()
        assert ENGINE.seed == seed


@pytest.mark.parametrize("text", ["abc", "-1", "4294967296", "1.5", "", "2+3"])
def test_an_invalid_seed_shows_the_magics_message_and_changes_nothing(ip, make_panel, text):
    ENGINE.seed_all(3)
    p = make_panel()
    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    p.seed_field.value = text
    p.reseed_button.click()
    notice, message = p.notice, p.message.value
    magic = str(run_failing(ip, f"%seed {text}")) if text else "seed must be an integer, got ''"
    assert notice == f"UsageError: {magic}"
    assert html.escape(notice) in message and "error-color" in message
    assert ENGINE.seed == 3
    assert random.getstate() == state[0]
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])


def test_random_seed_does_what_seed_random_does(make_panel):
    p = make_panel()
    p.random_button.click()
    seed = int(p.seed_field.value)  # the drawn seed is shown, so that a run can be repeated
    assert 0 <= seed < 2**32
    assert ENGINE.seed == seed
    assert p.notice.startswith(f"seedmagic: seeded random, numpy, torch with {seed}")
    got = torch.rand(2)
    torch.manual_seed(seed)
    assert torch.equal(got, torch.rand(2))
    p.random_button.click()
    assert ENGINE.seed == int(p.seed_field.value)


def test_the_deterministic_toggle_switches_and_restores(make_panel):
    p = make_panel()
    assert not torch.are_deterministic_algorithms_enabled()
    p.deterministic_toggle.value = True
    assert ENGINE.status().deterministic and torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic is True
    assert p.notice.startswith("seedmagic: deterministic mode on")
    assert p.deterministic_toggle.icon == "check"
    assert "deterministic mode <b>on</b>" in p.headline.value
    p.deterministic_toggle.value = False
    assert not ENGINE.status().deterministic and not torch.are_deterministic_algorithms_enabled()
    assert p.notice.startswith("seedmagic: deterministic mode off")


class AutoEngine(Engine):
    """An engine with auto mode that records its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bool] = []

    def set_auto(self, enabled: bool) -> SeedReport:
        self.calls.append(enabled)
        return super().set_auto(enabled)


def test_the_auto_toggle_calls_set_auto(make_panel):
    engine = AutoEngine()
    engine.seed_all(5)
    p = make_panel(engine)
    assert p.auto_toggle in p.controls.children and p.auto_toggle.value is False
    p.auto_toggle.value = True
    assert engine.calls == [True]
    assert "mode <b>auto</b>" in p.headline.value
    p.auto_toggle.value = False
    assert engine.calls == [True, False]
    assert "mode <b>manual</b>" in p.headline.value


def test_the_auto_toggle_does_what_seed_auto_does(ip, make_panel):
    p = make_panel()
    p.auto_toggle.value = True  # no session seed: the magic's message, and nothing changes
    assert p.notice == f"UsageError: {run_failing(ip, '%seed --auto')}"
    assert not ENGINE.auto and p.auto_toggle.value is False
    run_ok(ip, "%seed 5")
    p.auto_toggle.value = True
    assert ENGINE.auto and "mode <b>auto</b>" in p.headline.value
    assert p.notice.startswith("seedmagic: auto mode on")
    run_ok(ip, "import torch\nfirst = torch.rand(2)")
    assert ip.user_ns["first"] is not None and "last cell got" in p.headline.value
    p.auto_toggle.value = False
    assert not ENGINE.auto and "mode <b>manual</b>" in p.headline.value


def test_the_controls_are_the_seed_the_buttons_and_both_toggles(make_panel):
    p = make_panel()
    assert p.controls.children == (
        p.seed_field,
        p.reseed_button,
        p.random_button,
        p.deterministic_toggle,
        p.auto_toggle,
    )


def test_panels_refresh_after_every_cell(ip, make_panel):
    p, q = make_panel(), make_panel()
    run_ok(ip, "%seed 11")
    assert "session seed <b>11</b>" in p.headline.value and "session seed <b>11</b>" in q.headline.value
    run_ok(ip, "import torch\ntorch.rand(1)")
    assert p.drew == q.drew == ("torch",)
    run_ok(ip, "%%seeded 12\nx = 1")
    assert "last cell got <b>12</b>" in p.headline.value and "last cell got <b>12</b>" in q.headline.value


def test_one_callback_per_shell_and_close_all_unregisters_it(ip, make_panel):
    before = len(ip.events.callbacks[CALLBACKS])
    pre = list(ip.events.callbacks["pre_run_cell"])
    p, q = make_panel(), make_panel()
    assert len(ip.events.callbacks[CALLBACKS]) == before + 1
    assert ip.events.callbacks["pre_run_cell"] == pre  # nothing runs before a cell
    assert panel.panels(ip) and set(panel.panels(ip)) == {p, q}
    p.reseed_button.click()  # a message shows: cleared before the next cell, by a callback closing also removes
    assert len(ip.events.callbacks["pre_run_cell"]) == len(pre) + 1
    panel.close_all(ip)
    assert len(ip.events.callbacks[CALLBACKS]) == before
    assert ip.events.callbacks["pre_run_cell"] == pre
    assert p.closed and q.closed and panel.panels(ip) == []
    assert p.widget.comm is None and p.reseed_button.comm is None  # every widget of the panel is closed


def test_the_last_panel_to_close_unregisters_the_callback(ip, make_panel):
    before = len(ip.events.callbacks[CALLBACKS])
    p, q = make_panel(), make_panel()
    p.close()
    assert len(ip.events.callbacks[CALLBACKS]) == before + 1
    q.close()
    assert len(ip.events.callbacks[CALLBACKS]) == before
    r = make_panel()  # a new panel registers it again
    assert len(ip.events.callbacks[CALLBACKS]) == before + 1
    r.close()


def hub_callbacks(ip) -> list:
    return [c for c in ip.events.callbacks[CALLBACKS] if isinstance(getattr(c, "__self__", None), panel._Hub)]


def test_unload_ext_closes_the_panels(ip, make_panel):
    p = make_panel()
    assert len(hub_callbacks(ip)) == 1
    ip.run_line_magic("unload_ext", "seedmagic")
    try:
        assert p.closed and hub_callbacks(ip) == []
    finally:
        ip.run_line_magic("load_ext", "seedmagic")


@pytest.mark.parametrize("how", ["panel.close()", "widget.close()", "comm_close from the front end"])
def test_a_closed_panel_stops_refreshing_and_is_released(ip, make_panel, how):
    p, q = make_panel(), make_panel()
    if how == "panel.close()":
        p.close()
    elif how == "widget.close()":
        p.widget.close()
    else:
        p.widget.comm.handle_close({"content": {"comm_id": p.widget.model_id, "data": {}}})
    assert p.closed
    headline = p.headline.value
    run_ok(ip, "%seed 13")
    assert p.headline.value == headline and "13" not in headline
    assert "session seed <b>13</b>" in q.headline.value
    assert panel.panels(ip) == [q]
    released = weakref.ref(p)
    widget = weakref.ref(p.widget)
    del p
    gc.collect()
    assert released() is None and widget() is None


def test_an_open_panel_lives_without_a_reference_of_the_users(ip, make_panel):
    make_panel()  # as %seedpanel leaves it: displayed, not assigned
    gc.collect()
    assert len(panel.panels(ip)) == 1
    run_ok(ip, "%seed 14")
    assert "session seed <b>14</b>" in panel.panels(ip)[0].headline.value


def test_a_refresh_imports_nothing_and_updates_only_what_changed(ip, make_panel):
    run_ok(ip, "import torch\n%seed 3 -q")
    p = make_panel()
    tree = (p.widget, *p.widget.children, *p.top.children, *p.details.children, *p.controls.children)
    changes = []
    for w in tree:
        if hasattr(w, "value"):
            w.observe(changes.append, "value")
    run_ok(ip, "x = 1")  # the first cell watched: "drew from nothing" appears
    changes.clear()
    modules = set(sys.modules)
    run_ok(ip, "x = 1")
    assert set(sys.modules) == modules
    assert changes == []  # nothing changed, nothing was sent
    run_ok(ip, "x = torch.rand(1)")
    assert {c["owner"] for c in changes} == {p.summary, p.libraries}  # drew from torch; its fingerprint moved
    changes.clear()
    run_ok(ip, "x = torch.rand(1)")
    assert [c["owner"] for c in changes] == [p.libraries]  # the same line: only the fingerprint is sent
    assert (p.widget, *p.widget.children, *p.top.children, *p.details.children, *p.controls.children) == tree


def test_a_folded_panel_reads_marks_not_the_status(ip):
    engine = CountingEngine()
    try:
        p = panel.SeedPanel(engine, ip)
        CountingEngine.reads = 0
        run_ok(ip, "import torch\nx = torch.rand(1)")
        run_ok(ip, "y = 1")
        assert CountingEngine.reads == 0 and p.drew == ()
        p.details_toggle.value = True
        run_ok(ip, "y = 2")
        assert CountingEngine.reads == 2  # unfolding, and the cell after
    finally:
        panel.close_all(ip)
        engine.hook.uninstall()


def test_a_folded_refresh_reads_each_library_once_and_does_little_else(ip, make_panel):
    """The panel's work per cell, its one callback, counted rather than timed (`make bench` times it): one reading of
    each library's state and of torch's flags, and a few dozen calls besides. A refresh that does more than it
    should (reads a state twice, builds the status, redraws an unchanged line) shows here on any machine."""
    run_ok(ip, "import random, numpy as np, torch\n%seed 3 -q")
    make_panel(expanded=False)
    hub = panel._HUBS[ip]
    for _ in range(3):  # what is read once per session is read
        hub.post_run_cell(None)
    calls: list[str] = []

    def count(frame, event, arg):
        if event in ("call", "c_call"):
            calls.append(getattr(arg, "__qualname__", "") if event == "c_call" else frame.f_code.co_qualname)

    sys.setprofile(count)
    try:
        hub.post_run_cell(None)
    finally:
        sys.setprofile(None)
    assert calls.count("Random.getstate") == 2  # the Python method and the C call under it
    assert calls.count("Generator.get_state") == 1  # torch's
    assert calls.count("Engine.marks") == 1 and "Engine.status" not in calls
    assert len(calls) < 100, calls


def test_a_refresh_in_a_fresh_interpreter_imports_no_framework(fresh_python):
    imported = fresh_python(
        """
        shell.run_line_magic("load_ext", "seedmagic")
        cell("%seed 3")
        from seedmagic import panel
        from seedmagic.engine import ENGINE
        p = panel.SeedPanel(ENGINE, shell)
        before = set(sys.modules)
        p.refresh()
        cell("x = 1")
        p.reseed_button.click()
        emit(sorted(set(sys.modules) - before) + [m for m in ("numpy", "torch", "tensorflow") if m in sys.modules])
        """
    )
    assert imported == []


class BrokenEngine(Engine):
    """An engine whose status cannot be read once ``broken`` is set."""

    broken = False

    def status(self):
        if self.broken:
            raise RuntimeError("status exploded")
        return super().status()


def test_a_failing_refresh_never_fails_the_cell_and_shows_the_error(ip, make_panel):
    engine = BrokenEngine()  # unfolded: its status is read after every cell
    p = make_panel(engine)
    assert p.error.value == ""
    engine.broken = True
    run_ok(ip, "y = 2")  # the refresh after this cell fails: the cell does not
    assert ip.user_ns["y"] == 2
    assert "RuntimeError: status exploded" in p.error.value and "error-color" in p.error.value
    p.seed_field.value = "5"
    p.reseed_button.click()  # the control still acts; only the refresh fails
    assert engine.seed == 5
    assert p.widget._repr_mimebundle_()["text/plain"] == "seedmagic panel: RuntimeError: status exploded"
    engine.broken = False
    run_ok(ip, "y = 3")
    assert p.error.value == "" and "session seed <b>5</b>" in p.headline.value


def test_broken_from_the_start(ip, make_panel):
    engine = BrokenEngine()
    engine.broken = True
    p = make_panel(engine)
    assert "status exploded" in p.error.value
    run_ok(ip, "z = 1")


def test_the_widgets_text_is_the_seed_table(make_panel):
    ENGINE.seed_all(3)
    p = make_panel()
    bundle = p.widget._repr_mimebundle_()
    assert bundle["text/plain"] == str(ENGINE.status())
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id
    assert p._repr_mimebundle_() == bundle


def test_seedpanel_without_a_kernel_prints_the_table(ip, capsys):
    ENGINE.seed_all(3)
    before = len(ip.events.callbacks[CALLBACKS])
    run_ok(ip, "%seedpanel")
    assert capsys.readouterr().out == str(ENGINE.status()) + "\n"
    assert panel.panels(ip) == [] and len(ip.events.callbacks[CALLBACKS]) == before


def test_seedpanel_with_a_kernel_displays_the_widget(ip, capsys, monkeypatch):
    ENGINE.seed_all(3)
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    shown = []
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, **kwargs: shown.append(data))
    try:
        run_ok(ip, "%seedpanel")
        assert capsys.readouterr().out == ""  # nothing printed besides the panel
        [p] = panel.panels(ip)
        [data] = shown
        assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == p.widget.model_id
        assert data["text/plain"] == str(ENGINE.status())
    finally:
        panel.close_all(ip)


def test_seedpanel_takes_no_arguments(ip):
    error = run_failing(ip, "%seedpanel now")
    assert "takes no arguments" in str(error)


def test_a_terminal_shell_gets_the_text_table():
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    terminal = TerminalInteractiveShell.__new__(TerminalInteractiveShell)
    assert not panel._has_widget_front_end(terminal)


@pytest.mark.cuda
def test_tf32_gets_a_verdict_once_the_gpu_has_started():
    from seedmagic.sources import Torch

    torch.zeros(1, device="cuda")
    matmul = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        flag = next(f for f in Torch().shown_flags() if f.name == "torch.backends.cuda.matmul.allow_tf32")
        assert flag.ok is False
        torch.backends.cuda.matmul.allow_tf32 = False
        flag = next(f for f in Torch().shown_flags() if f.name == "torch.backends.cuda.matmul.allow_tf32")
        assert flag.ok is True
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


class CountingEngine(Engine):
    """Counts how often the status is read."""

    reads = 0

    def status(self):
        CountingEngine.reads += 1
        return super().status()


def test_several_panels_read_the_status_once_per_cell(ip):
    engine = CountingEngine()
    try:
        panels = [panel.SeedPanel(engine, ip, expanded=True) for _ in range(3)]
        CountingEngine.reads = 0
        run_ok(ip, "x = 1")
        assert CountingEngine.reads == 1
        assert all(not p.closed for p in panels)
    finally:
        panel.close_all(ip)
        engine.hook.uninstall()


# -- controls ----------------------------------------------------------------------------------------------------------


def submit(field) -> None:
    """Enter in the field: the message the front end sends."""
    field._handle_custom_msg({"event": "submit"}, [])


def test_enter_in_the_seed_field_reseeds(ip, make_panel):
    run_ok(ip, "import torch")
    p = make_panel()
    p.seed_field.value = "21"
    assert ENGINE.seed is None  # typing alone (or leaving the field) does nothing
    submit(p.seed_field)
    assert ENGINE.seed == 21 and p.notice.startswith("seedmagic: seeded")
    got = torch.rand(2)
    torch.manual_seed(21)
    assert torch.equal(got, torch.rand(2))
    p.seed_field.value = "nope"
    submit(p.seed_field)
    assert p.notice.startswith("UsageError: seed must be an integer") and ENGINE.seed == 21


def test_a_controls_message_clears_when_the_next_cell_runs(ip, make_panel):
    p = make_panel()
    before = list(ip.events.callbacks["pre_run_cell"])
    p.seed_field.value = "5"
    p.reseed_button.click()
    assert p.notice and "seeded" in p.message.value
    # Cleared as the cell starts, by a callback that is there only while a message shows.
    ip.user_ns["_panel"] = p
    try:
        run_ok(ip, "_seen = _panel.message.value")
        assert ip.user_ns.pop("_seen") == ""
    finally:
        ip.user_ns.pop("_panel", None)
    assert p.notice == "" and p.message.value == ""
    assert ip.events.callbacks["pre_run_cell"] == before
    p.seed_field.value = "x"
    p.reseed_button.click()
    assert "UsageError" in p.message.value
    run_ok(ip, "x = 2")
    assert p.message.value == ""


def test_every_control_has_a_tooltip(make_panel):
    p = make_panel()
    controls = [p.details_toggle, *p.controls.children]
    assert p.auto_toggle in controls and p.seed_field in controls
    for control in controls:
        assert control.tooltip, control
    assert "Enter" in p.seed_field.tooltip and "%seed N" in p.reseed_button.tooltip


@pytest.mark.cuda
def test_a_cell_that_draws_on_the_gpu_is_highlighted(ip, make_panel):
    run_ok(ip, "import torch\n%seed 0 -q\nx = torch.zeros(1, device='cuda')")
    p = make_panel()
    run_ok(ip, "%%seeded 1\ny = torch.rand(2, device='cuda')")
    assert p.drew == ("torch",)
    assert ">cuda:0<" in row(p, "torch") and "drew" in row(p, "torch")
    run_ok(ip, "%%seeded 1\nz = 1")
    assert p.drew == ()


# -- the census --------------------------------------------------------------------------------------------------------


def test_the_panel_lists_the_generators_made_without_a_seed_and_what_reach_seeded(ip, make_panel):
    run_ok(ip, "import random, numpy as np, torch\n%seed 5 -q")
    folded, unfolded = make_panel(expanded=False), make_panel()
    assert unfolded.unseeded.value == "" and "made without a seed" not in text(folded.summary.value)
    ENGINE.census.set_enabled(True)
    try:
        ENGINE.census.clear()
        run_ok(ip, "r = np.random.default_rng()\nfor _ in range(2):\n    q = random.Random()")
        number = ip.execution_count - 1
        assert "3 made without a seed" in text(folded.summary.value)
        table = text(unfolded.unseeded.value)
        assert "%seed N --reach seeds them" in table
        assert f"numpyIn [{number}], line 11-" in table and f"randomIn [{number}], line 32-" in table

        run_ok(ip, "%seed 5 --reach -q")
        run_ok(ip, "s = np.random.default_rng()")
        assert "reach on" in text(folded.summary.value) and "3 made without a seed" in text(folded.summary.value)
        seed = ENGINE.census.unseeded()[-1].last_seed
        assert ip.user_ns["s"].random() == np.random.default_rng(seed).random()
        assert f"1 seeded, last with {seed}" in text(unfolded.unseeded.value)
        assert "reach on" in text(unfolded.headline.value)
    finally:
        run_ok(ip, "%seed --no-reach -q")
        ENGINE.census.set_enabled(False)
        ENGINE.census.clear()
        for name in ("r", "q", "s", "_"):
            ip.user_ns.pop(name, None)


def test_a_first_cell_that_imports_and_draws_with_no_seed_is_seen_and_said_unseeded(fresh_python):
    """A newcomer's first cells: ``%seedpanel``, then ``import torch; torch.rand(1)`` with no seed set."""
    lines = fresh_python(
        """
        import html, re
        cell("%load_ext seedmagic")
        from seedmagic import panel
        from seedmagic.engine import ENGINE
        p = panel.SeedPanel(ENGINE, shell, expanded=False)
        shown = lambda: html.unescape(re.sub(r"<[^>]+>", "", p.summary.value))
        cell("import torch; x = torch.rand(1)")
        first = shown()
        cell("%seed 0")
        cell("y = torch.rand(1)")
        emit([first, shown()])
        """
    )
    assert lines[0].endswith(" · drew from torch (no seed set)")
    assert lines[1].endswith(" · drew from torch")


def test_the_folded_line_tells_the_last_cell_and_never_contradicts_itself(make_panel, ip):
    """The "last cell" is the cell that ran last, "-" where it got no seed; with no session seed, what is seeded says
    who seeded it."""
    p = make_panel(expanded=False)
    shown = lambda: text(p.summary.value)  # noqa: E731
    run_ok(ip, "%%seeded 4\nx = torch.rand(1)")
    assert "seed none · mode none · last cell 4 · 3/3 seeded by a cell · " in shown()
    run_ok(ip, "y = 1")
    assert "last cell - · 3/3 seeded by a cell" in shown()
    run_ok(ip, "%seed 5 --auto -q")
    run_ok(ip, "z = torch.rand(1)")
    seed = ENGINE.status().last_cell_seed
    assert seed is not None and f"seed 5 · mode auto · last cell {seed} · 3/3 seeded · " in shown()
    run_ok(ip, "%seed --no-auto -q")
    run_ok(ip, "w = 1")
    assert "seed 5 · mode manual · last cell - · " in shown() and ENGINE.status().last_cell_seed is None
    run_ok(ip, "%%seeded 6 --isolate\nv = 1")  # an isolated cell leaves the status as it was
    assert "last cell - · " in shown()
