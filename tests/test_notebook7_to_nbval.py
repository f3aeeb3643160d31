"""A notebook run out of order in Notebook 7 with ``%seed 0 --auto`` passes nbval and ``seedmagic verify``.

Notebook 7 (the ``notebook`` package) is its own front end, one document per page, built from JupyterLab's
components: the promise test_lab_to_nbval.py checks in JupyterLab must hold there too. In headless Chromium against
Notebook 7 on loopback (see lab.py), the test opens a notebook written to the server's root beforehand (nbformat 4.5,
each cell with its id, no outputs) at ``notebooks/NAME``, runs its cells out of order with Notebook 7's own UI (click
a cell's prompt, Ctrl+Enter: the last cell first, NumPy's twice) and saves it with Ctrl+S. Notebook 7 keeps the
file's ids and sends each cell's id with its execute request, so auto mode seeded each cell with
``derive_seed(0, "cell-id:" + id)``: the test checks the stored outputs against the libraries' own calls with that
seed, and that two identical cells drew different numbers. Then, on the saved file, as in JupyterLab's test:

- ``pytest --nbval`` passes, every cell's outputs compared: seedmagic's pytest plugin sends each cell's id, as
  Notebook 7 did;
- the same run with the plugin disabled (``-p no:seedmagic``) fails on the random cells;
- ``seedmagic verify`` finds it reproducible, in its text report and in ``--json``.

Screenshots of the notebook after its run and after its save are left under tmp_path. It needs Chromium at
/usr/bin/chromium and Notebook 7 (``pip install 'notebook>=7'``), and is skipped without either.
"""

from __future__ import annotations

import pytest
from lab import cell_models, lab_in_chromium, needs_chromium, python_notebook, save_notebook, wait_for_kernel_idle
from test_lab_to_nbval import NAME, SOURCES, check_nbval_and_verify, check_saved, checked_ids, run_out_of_order


@pytest.mark.slow
def test_a_notebook_run_in_notebook7_passes_nbval_and_verify(tmp_path):
    needs_chromium()
    pytest.importorskip("notebook", minversion="7", reason="needs Notebook 7 (pip install 'notebook>=7')")
    nb = python_notebook(SOURCES)  # nbformat 4.5: each cell has an id, as Notebook 7 would have given it
    written_ids = [cell.id for cell in nb.cells]

    with lab_in_chromium(tmp_path, {NAME: nb}, app="notebook") as lab:
        page = lab.open(f"notebooks/{NAME}")
        # Notebook 7's own front end, not JupyterLab's, has the notebook open.
        assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
        assert page.evaluate("() => window.jupyterapp.version").startswith("7.")
        assert page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path") == NAME
        wait_for_kernel_idle(page)  # the kernel the notebook's metadata names, started as the page opened
        models = cell_models(page)
        assert checked_ids(models) == written_ids  # Notebook 7 keys its cells by the file's ids

        run_out_of_order(page)
        page.screenshot(path=str(tmp_path / "notebook7-run.png"), animations="disabled")

        assert save_notebook(page) == NAME
        page.screenshot(path=str(tmp_path / "notebook7-saved.png"), animations="disabled")
        assert cell_models(page) == models  # saving kept every cell and its id

    # The file as Notebook 7 wrote it: nbformat 4.5, the ids it was opened with, every cell's output.
    check_saved(lab.root / NAME, written_ids)
    check_nbval_and_verify(lab.root, lab.env)
