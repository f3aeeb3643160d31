"""A notebook written in JupyterLab with ``%seed 0 --auto`` and run out of order passes nbval and ``seedmagic verify``.

In headless Chromium against JupyterLab on loopback (see lab.py), the test starts a notebook from the launcher, types
its cells, runs them out of order (the last one first, one twice), and saves it with Ctrl+S. JupyterLab keys each
cell by the id it gave it and stores that id in the file, so auto mode seeded each cell with
``derive_seed(0, "cell-id:" + id)``: the test checks the stored outputs against the libraries' own calls with that
seed, and that two identical cells drew different numbers. Then, on the saved file:

- ``pytest --nbval`` passes, every cell's outputs compared: seedmagic's pytest plugin sends each cell's id, as
  JupyterLab did;
- the same run with the plugin disabled (``-p no:seedmagic``) fails on the random cells: without the ids auto mode
  keys cells by their source;
- ``seedmagic verify`` finds it reproducible, in its text report and in ``--json``.

Screenshots of the notebook after its run and after its save are left under tmp_path. It needs Chromium at
/usr/bin/chromium and is skipped without it. test_notebook7_to_nbval.py checks the same in Notebook 7 with the
helpers here: the run out of order, the checks of the saved file, and of nbval and verify on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
import torch
from lab import (
    cell_models,
    lab_in_chromium,
    needs_chromium,
    new_notebook_from_launcher,
    notebook_cells,
    run_cell,
    save_notebook,
    type_cells,
)

import seedmagic

SOURCES = [
    "%load_ext seedmagic",
    "%seed 0 --auto",
    "import random, numpy as np, torch",
    "torch.rand(3)",
    "print(np.random.rand(2))",
    "random.random()",
    "torch.rand(3)",  # the same source as cell 3: another id, so other numbers
]
FIRST_TORCH, NUMPY, RANDOM, SECOND_TORCH = 3, 4, 5, 6
RANDOM_CELLS = (FIRST_TORCH, NUMPY, RANDOM, SECOND_TORCH)
# Out of order: set-up first, then the last cell, NumPy's cell twice with another cell between.
RUN_ORDER = [0, 1, 2, SECOND_TORCH, NUMPY, FIRST_TORCH, NUMPY, RANDOM]
NAME = "draws.ipynb"


@contextlib.contextmanager
def global_generators_kept() -> Iterator[None]:
    """Draw from random's, NumPy's and torch's global generators inside, and find them as they were after."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def expected_output(index: int, cell_id: str) -> str:
    """What cell ``index`` shows when auto mode seeds it for its id: the libraries' own calls, seeded as auto mode
    seeds them (each library with the cell's seed, by its own seeding call)."""
    seed = seedmagic.derive_seed(0, f"cell-id:{cell_id}")
    with global_generators_kept():
        if index in (FIRST_TORCH, SECOND_TORCH):
            torch.manual_seed(seed)
            return repr(torch.rand(3))
        if index == NUMPY:
            np.random.seed(seed)
            return f"{np.random.rand(2)}\n"
        random.seed(seed)
        return repr(random.random())


def shown(cell: nbformat.NotebookNode) -> str:
    """A cell's one output as text: its result, or what it printed."""
    (output,) = cell.outputs
    return output["text"] if output["output_type"] == "stream" else output["data"]["text/plain"]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def junit_results(path: Path) -> dict[str, str]:
    """nbval's result per cell (``Cell 3``: passed, failure, error or skipped) from pytest's JUnit XML report."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        results[case.get("name")] = outcome
    return results


def checked_ids(models: list[dict[str, Any]]) -> list[str]:
    """The ids of a front end's cells (see ``cell_models``), once they are found to be SOURCES' code cells, each with
    its own id."""
    assert [(cell["cell_type"], cell["source"]) for cell in models] == [("code", source) for source in SOURCES]
    ids = [cell["id"] for cell in models]
    assert len(set(ids)) == len(ids) and all(ids), ids
    return ids


def run_out_of_order(page: Any) -> None:
    """Run the page's notebook of SOURCES in RUN_ORDER as a user does, each cell to its end, and find on the page
    that the NumPy cell drew the same numbers both times and that auto mode is on."""
    from playwright.sync_api import expect

    cells = notebook_cells(page)
    numpy_first = None
    for count, index in enumerate(RUN_ORDER, start=1):
        run_cell(page, index, count)
        if index == NUMPY and numpy_first is None:
            output = cells.nth(NUMPY).locator(".jp-OutputArea-output")
            # Two numbers printed, NumPy's way: it pads the shorter one, "[0.53791935 0.9734919 ]".
            expect(output).to_have_text(re.compile(r"^\[\s*\S+\s+\S+\s*\]\s*$"))
            numpy_first = output.inner_text()
    # Run again, the cell drew the same numbers: auto mode seeds it for its id, whatever ran before.
    expect(cells.nth(NUMPY).locator(".jp-OutputArea-output")).to_have_text(numpy_first)
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("auto mode on")


def check_saved(path: Path, ids: list[str]) -> None:
    """The notebook of SOURCES run in RUN_ORDER, as the front end saved it at ``path``: nbformat 4.5, the cells'
    ``ids``, every cell's output, the random ones those of the libraries' own calls seeded for each cell's id."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    assert [cell.id for cell in nb.cells] == ids
    assert [cell.source for cell in nb.cells] == SOURCES
    last_run = {index: count for count, index in enumerate(RUN_ORDER, start=1)}
    assert [cell.execution_count for cell in nb.cells] == [last_run[index] for index in range(len(SOURCES))]
    for index in RANDOM_CELLS:
        assert shown(nb.cells[index]) == expected_output(index, ids[index]), f"cell {index}"
    assert shown(nb.cells[FIRST_TORCH]) != shown(nb.cells[SECOND_TORCH])
    assert "NBVAL" not in path.read_text()


def check_nbval_and_verify(root: Path, env: dict[str, str]) -> None:
    """On the saved NAME in ``root``, in the server's environment ``env``: ``pytest --nbval`` passes, fails on the
    random cells with seedmagic's plugin disabled, and ``seedmagic verify`` finds it reproducible."""
    # The checks run at once: each starts its own kernels.
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    nbval = ["python", "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", NAME]
    runs = {
        "nbval": run([*nbval, "--junitxml=nbval.xml"], root, env),
        "nbval without seedmagic": run([*nbval, "-p", "no:seedmagic", "--junitxml=bare.xml"], root, env),
        "verify": run(["python", "-m", "seedmagic", "verify", NAME], root, env),
        "verify --json": run(["python", "-m", "seedmagic", "verify", "--json", NAME], root, env),
    }
    try:
        finished = {name: process.communicate(timeout=300) for name, process in runs.items()}
    finally:
        for process in runs.values():
            if process.poll() is None:  # stopped as Ctrl+C stops it: it shuts its kernels down
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    outputs = {name: stdout for name, (stdout, _) in finished.items()}
    codes = {name: process.returncode for name, process in runs.items()}
    for name, (stdout, stderr) in finished.items():
        print(f"--- {name}: exit {codes[name]}\n{stdout}\n--- its stderr:\n{stderr}")

    # nbval compares every cell's outputs, the random ones too, and finds them all as stored.
    assert codes["nbval"] == 0
    assert junit_results(root / "nbval.xml") == {f"Cell {i}": "passed" for i in range(len(SOURCES))}
    # Without the plugin no id is sent: auto mode keys cells by their source, and each random cell differs.
    assert codes["nbval without seedmagic"] == 1
    bare = junit_results(root / "bare.xml")
    assert {name for name, outcome in bare.items() if outcome != "passed"} == {f"Cell {i}" for i in RANDOM_CELLS}
    assert all(bare[f"Cell {i}"] == "failure" for i in RANDOM_CELLS)

    assert codes["verify"] == 0
    assert f"{NAME}: reproducible ({len(SOURCES)} code cells" in outputs["verify"]
    assert codes["verify --json"] == 0
    (report,) = json.loads(outputs["verify --json"])
    assert report["reproducible"] is True and report["differences"] == [] and report["error"] is None


@pytest.mark.slow
def test_a_notebook_written_in_jupyterlab_passes_nbval_and_verify(tmp_path):
    needs_chromium()
    from playwright.sync_api import expect

    with lab_in_chromium(tmp_path) as lab:
        page = lab.open("lab")
        new_notebook_from_launcher(page)
        type_cells(page, SOURCES)
        models = cell_models(page)
        ids = checked_ids(models)

        run_out_of_order(page)
        page.screenshot(path=str(tmp_path / "notebook-run.png"), animations="disabled")

        assert save_notebook(page, NAME) == NAME
        expect(page.locator(".jp-mod-dirty")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "notebook-saved.png"), animations="disabled")
        assert cell_models(page) == models  # saving kept every cell and its id

    # The file as JupyterLab wrote it: nbformat 4.5, the ids JupyterLab gave its cells, every cell's output.
    check_saved(lab.root / NAME, ids)
    check_nbval_and_verify(lab.root, lab.env)
