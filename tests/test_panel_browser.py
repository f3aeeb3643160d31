"""%seedpanel in a real browser: JupyterLab on loopback, driven by headless Chromium through Playwright.

The test starts its own JupyterLab server (fresh config, data and runtime directories under tmp_path), opens a
notebook that loads seedmagic, seeds with 3, shows the panel and runs a ``%%seeded 0`` cell that draws from torch.
At 1400 px and again at 800 px wide it checks the folded line, unfolds the panel (torch highlighted, random and
NumPy not), checks that nothing overflows and that every control has a tooltip; it reseeds with Enter in the seed
field, checks that the message goes when the next cell runs, opens the panel beside the notebook with JupyterLab's
"Create New View for Cell Output" (its tab docked to the right of the notebook, as a drag does) and checks that the
view follows the next cell; then it switches to the dark theme. Screenshots go under tmp_path, and, with
SEEDMAGIC_UPDATE_SCREENSHOT=1 set, to docs/ (the pictures in the README), so that a test run leaves the working tree
as it was.

It needs Chromium at /usr/bin/chromium (Debian's ``chromium`` package; CI installs it) and is skipped without it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from lab import (
    KERNEL_IDLE,
    TIMEOUT_MS,
    lab_in_chromium,
    needs_chromium,
    python_notebook,
    run_cells,
    wait_for_kernel_idle,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"

CELLS = [
    "%load_ext seedmagic",
    "%seed 3",
    "import random, sys\nimport numpy as np\nimport torch\nprint(sys.executable)",
    "%seedpanel",
    "%%seeded 0\nx = torch.rand(3)",
    "%seed",
    "y = np.random.rand(2)",
]
PANEL_CELL, SEEDED_CELL, SEED_CELL, NUMPY_CELL = 3, 4, 5, 6

IN_README = ("panel-folded.png", "panel-expanded.png", "panel-side.png")


def save(shot: bytes, tmp_path: Path, name: str) -> None:
    assert shot.startswith(b"\x89PNG") and len(shot) > 5_000
    (tmp_path / name).write_bytes(shot)
    if os.environ.get("SEEDMAGIC_UPDATE_SCREENSHOT") and name in IN_README:
        (DOCS / name).write_bytes(shot)


OVERFLOW = """(node) => {
    const inner = [...node.querySelectorAll("*")].filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
        && getComputedStyle(e).overflowX !== "visible");
    const box = node.getBoundingClientRect(), parent = node.parentElement.getBoundingClientRect();
    return {inner: inner.map(e => e.className), right: box.right - parent.right, width: box.width};
}"""


def check_folded(panel, expect, what: str) -> None:
    """One line that says the seed, the mode, the last cell's seed, what is seeded and not deterministic, and what
    the last cell drew from."""
    summary = panel.locator(".seedmagic-summary")
    for part in what.split(" | "):
        expect(summary).to_contain_text(part)
    expect(panel.locator(".seedmagic-details")).to_be_hidden()


def check_fits(panel, width: int) -> None:
    fit = panel.evaluate(OVERFLOW)
    assert fit["inner"] == [] and fit["right"] <= 1, (width, fit)


def test_the_panel_in_jupyterlab(tmp_path):
    needs_chromium()
    from playwright.sync_api import expect

    with lab_in_chromium(tmp_path, {"panel.ipynb": python_notebook(CELLS)}) as lab:
        page = lab.open("lab/tree/panel.ipynb", height=1000)
        wait_for_kernel_idle(page)
        run_cells(page, "notebook:run-all-above", SEED_CELL)

        cells = page.locator(".jp-Notebook .jp-Cell")
        # The kernel runs this venv's Python: jupyter_client puts the server's interpreter for `python`.
        expect(cells.nth(2).locator(".jp-OutputArea-output")).to_have_text(sys.executable)
        panel = cells.nth(PANEL_CELL).locator(".seedmagic-panel")
        folded = "seed 3 | mode manual | last cell 0 | 3/3 seeded | flags NOT deterministic | drew from torch"
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)

        for width in (1400, 800):
            page.set_viewport_size({"width": width, "height": 1000})
            check_folded(panel, expect, folded)
            box = panel.bounding_box()
            assert box is not None and box["height"] < (60 if width == 1400 else 90), (width, box)
            check_fits(panel, width)
            if width == 1400:
                save(panel.screenshot(animations="disabled"), tmp_path, "panel-folded.png")

            toggle = panel.locator("button[title^='Show or hide']")
            toggle.click()
            details = panel.locator(".seedmagic-details")
            expect(details).to_be_visible()
            expect(details.locator("tr", has=page.locator("b", has_text="torch"))).to_contain_text("drew")
            for name in ("random", "numpy"):
                row = details.locator("tr", has=page.locator("b", has_text=re.compile(f"^{name}$")))
                expect(row).not_to_contain_text("drew")
            for text in ("seeded with 0 (cell)", "torch.use_deterministic_algorithms", "PYTHONHASHSEED"):
                expect(details).to_contain_text(text)
            check_fits(panel, width)
            # Unfolded, it fits in a laptop's window (about 600 px of 900), its controls near the top; beside a
            # narrow notebook (800 px, the file browser open) it may grow, the controls staying on top.
            box = panel.bounding_box()
            assert box is not None and box["height"] <= (600 if width == 1400 else 1000), (width, box)
            reseed = panel.locator("button[title^='Seed every library']").bounding_box()
            assert reseed is not None and reseed["y"] + reseed["height"] - box["y"] < (150 if width == 1400 else 250), (
                width,
                reseed,
            )
            # Every control says what it does.
            controls = panel.locator("button, input")
            assert controls.count() >= 6
            for index in range(controls.count()):
                assert controls.nth(index).get_attribute("title"), controls.nth(index).inner_html()
            if width == 1400:
                save(panel.screenshot(animations="disabled"), tmp_path, "panel-expanded.png")
            else:
                save(panel.screenshot(animations="disabled"), tmp_path, "panel-expanded-800.png")
            toggle.click()
            expect(details).to_be_hidden()

        # Enter in the seed field reseeds; the message goes when the next cell runs.
        toggle.click()
        field = panel.get_by_placeholder("seed, e.g. 7")
        field.fill("7")
        field.press("Enter")
        expect(panel).to_contain_text("seedmagic: seeded random, numpy, torch with 7")
        expect(panel.locator(".seedmagic-summary")).to_contain_text("seed 7")
        run_cells(page, "notebook:run-cell", SEED_CELL)
        output = cells.nth(SEED_CELL).locator(".jp-OutputArea-output")
        expect(output).to_contain_text("seedmagic: session seed 7; mode manual")
        expect(panel).not_to_contain_text("seedmagic: seeded random")
        assert max(map(len, output.inner_text().splitlines())) <= 80
        toggle.click()

        # Beside the notebook: JupyterLab's own view of the cell's output, its tab docked to the right.
        page.set_viewport_size({"width": 1400, "height": 1000})
        cells.nth(PANEL_CELL).locator(".jp-InputArea").click(button="right")
        page.locator(".lm-Menu-itemLabel", has_text="Create New View for Cell Output").click()
        view = page.locator(".jp-LinkedOutputView")
        expect(view.locator(".seedmagic-panel")).to_be_visible()
        page.evaluate(
            """() => {
                const shell = window.jupyterapp.shell;
                const notebook = [...shell.widgets("main")].find(w => w.content && w.content.activeCell);
                const view = [...shell.widgets("main")].find(w => w.node.querySelector(".jp-LinkedOutputView"));
                shell.add(view, "main", {ref: notebook.id, mode: "split-right"});
                shell.activateById(notebook.id);
            }"""
        )
        side = view.locator(".seedmagic-panel")
        run_cells(page, "notebook:run-cell", NUMPY_CELL)
        expect(side.locator(".seedmagic-summary")).to_contain_text("drew from numpy")
        page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)
        notebook_box, view_box = page.locator(".jp-NotebookPanel").bounding_box(), view.bounding_box()
        assert view_box["x"] >= notebook_box["x"] + notebook_box["width"] - 1  # beside, not below
        save(page.screenshot(animations="disabled"), tmp_path, "panel-side.png")
        for width in (1400, 800):
            page.set_viewport_size({"width": width, "height": 1000})
            check_fits(side, width)
            expect(side.locator(".seedmagic-summary")).to_contain_text("drew from numpy")
        save(page.screenshot(animations="disabled"), tmp_path, "panel-side-800.png")

        # The dark theme: the panel uses JupyterLab's theme variables only.
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
        side.locator("button[title^='Show or hide']").click()
        expect(side.locator(".seedmagic-details")).to_be_visible()
        page.wait_for_timeout(500)
        save(side.screenshot(animations="disabled"), tmp_path, "panel-dark.png")
