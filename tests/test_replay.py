"""``seedmagic verify --against-saved``: a notebook run and saved with its record, then run again in a real kernel and
compared with what the file holds; each cell that differs named with what changed since it was saved.

Kernels are real ipykernels (the venv's ``python3``). The saved outputs that stand for another machine's are what the
libraries draw from another seed, not numbers pasted from a run."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from seedmagic.notebook import report
from seedmagic.notebook.causes import likely_causes
from seedmagic.notebook.cell_ids import send_cell_ids
from seedmagic.notebook.replay import against_saved, compare_saved, records_in
from seedmagic.records import MIME_TYPE, read

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
CELLS = (
    "%load_ext seedmagic\n%seed 0 --record",
    "import numpy as np\nimport torch",
    "print(torch.rand(3))",
    "print(np.random.rand(2))",
    "import random\nprint(random.random())",
)
TORCH_CELL, NUMPY_CELL = 2, 3


def run_and_save(nb, path: Path) -> Path:
    """Run ``nb`` top to bottom in a fresh kernel, sending each cell's id as JupyterLab does, and save it."""
    from nbclient import NotebookClient

    send_cell_ids(NotebookClient(nb, kernel_name="python3", timeout=120)).execute(env=ENV)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """The notebook, run and saved with ``%seed 0 --record``."""
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS], metadata={"kernelspec": KERNELSPEC})
    return run_and_save(nb, tmp_path_factory.mktemp("saved") / "saved.ipynb")


def edited(saved: Path, tmp_path: Path, edit) -> Path:
    nb = nbformat.read(saved, as_version=4)
    edit(nb)
    path = tmp_path / "edited.ipynb"
    nbformat.write(nb, path)
    return path


def the_record(nb) -> dict:
    ((index, record),) = records_in(nb)
    assert index == 0
    return record


def shown_elsewhere(nb, index: int, text: str) -> None:
    """Make cell ``index``'s saved output what another machine printed: ``text``."""
    (output,) = nb.cells[index].outputs
    output["text"] = text + "\n"


def other_torch_draws() -> str:
    torch.manual_seed(1)
    return str(torch.rand(3))


def other_numpy_draws() -> str:
    np.random.seed(1)
    return str(np.random.rand(2))


def test_the_saved_file_holds_the_final_record(saved):
    nb = nbformat.read(saved, as_version=4)
    record = read(the_record(nb))
    # torch and NumPy were imported after %seed --record: the record shown was updated, and the file has that.
    assert record["libraries"]["torch"]["version"] == torch.__version__
    assert record["libraries"]["numpy"]["version"] == np.__version__
    assert record["session"] == {**record["session"], "seed": 0, "mode": "manual"}


def test_the_notebook_replayed_unchanged_matches(saved):
    replay = against_saved(saved, timeout=120)
    assert replay.reproducible is True, report.text([replay])
    assert replay.notes == () and replay.record_changes == ()
    assert report.headline(replay).startswith(f"{saved}: matches its saved outputs (5 code cells;")


def another_torch(nb) -> str:
    the_record(nb)["libraries"]["torch"]["version"] = "2.5.1"
    return f"torch 2.5.1 then {torch.__version__}: torch does not promise the same random numbers across releases"


def another_gpu(nb) -> str:
    the_record(nb)["machine"]["gpus"] = [{"name": "NVIDIA A100-SXM4-40GB", "capability": "8.0"}]
    return "saved on an NVIDIA A100-SXM4-40GB (compute capability 8.0) with TF32 allowed, run on a CPU"


def other_flags(nb) -> str:
    the_record(nb)["flags"]["torch.use_deterministic_algorithms"] = True
    return "torch.use_deterministic_algorithms was True when saved, False now"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the run's record must show a CPU")
@pytest.mark.parametrize("edit", [another_torch, another_gpu, other_flags], ids=lambda edit: edit.__name__)
def test_a_record_from_another_machine_names_the_cause_of_the_cells_that_differ(saved, tmp_path, edit):
    told: list[str] = []

    def from_elsewhere(nb):
        told.append(edit(nb))
        shown_elsewhere(nb, TORCH_CELL, other_torch_draws())

    replay = against_saved(edited(saved, tmp_path, from_elsewhere), timeout=120)
    assert replay.reproducible is False
    (difference,) = replay.differences  # the torch cell; the NumPy and random cells match
    assert difference.index == TORCH_CELL
    assert [change.text for change in difference.changes] == told
    assert [change.text for change in replay.record_changes] == told
    text = report.text([replay])
    assert f"changed since saved: {told[0]}" in text
    assert "differs from its saved outputs (1 of 5 code cells differ" in text


def test_each_difference_is_named_for_the_cells_whose_libraries_it_concerns(saved, tmp_path):
    def from_elsewhere(nb):
        another_torch(nb)
        the_record(nb)["libraries"]["numpy"]["version"] = "1.26.4"
        shown_elsewhere(nb, TORCH_CELL, other_torch_draws())
        shown_elsewhere(nb, NUMPY_CELL, other_numpy_draws())

    replay = against_saved(edited(saved, tmp_path, from_elsewhere), timeout=120)
    torch_cell, numpy_cell = replay.differences
    assert [change.libraries for change in torch_cell.changes] == [("torch",)]
    assert [change.libraries for change in numpy_cell.changes] == [("numpy",)]
    assert numpy_cell.changes[0].text.startswith(f"numpy 1.26.4 then {np.__version__}: ")


def test_a_cell_changed_to_an_unseeded_generator_gets_verifys_cause(saved, tmp_path):
    source = "rng = np.random.default_rng()\nprint(rng.random(2))"

    def unseeded(nb):
        cell = new_code_cell(source, execution_count=6)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{np.random.default_rng(1).random(2)}\n")]
        nb.cells.append(cell)

    path = edited(saved, tmp_path, unseeded)
    replay = against_saved(path, timeout=120)
    (difference,) = replay.differences
    assert difference.index == 5 and difference.changes == ()  # the records are the same
    sources = [cell.source for cell in nbformat.read(path, as_version=4).cells]
    assert difference.causes == tuple(likely_causes(sources, 5))
    assert [cause.kind for cause in difference.causes] == ["local-generator"]
    assert "likely cause, cell 6 line 1: rng = np.random.default_rng()" in report.text([replay])


# -- what cannot be compared ------------------------------------------------------------------------------------------


def test_a_notebook_without_a_record_is_compared_on_its_outputs(saved, tmp_path):
    def without(nb):
        nb.cells[0].source = "%load_ext seedmagic\n%seed 0"
        nb.cells[0].outputs = nb.cells[0].outputs[:1]

    replay = against_saved(edited(saved, tmp_path, without), timeout=120)
    assert replay.reproducible is True, report.text([replay])
    assert replay.notes == ("no seedmagic record in the file (keep one with %seed --record): compared outputs only",)
    assert "  note: no seedmagic record in the file" in report.text([replay])


@pytest.mark.parametrize(
    ("edit", "note"),
    [
        (
            lambda record: record.update(version=2),
            "the record in cell 1 cannot be read (written by a newer seedmagic: record schema 2, this one reads 1): "
            "compared outputs only",
        ),
        (
            lambda record: record.pop("libraries"),
            "the record in cell 1 cannot be read ('libraries' is missing, not an object): compared outputs only",
        ),
    ],
    ids=["future version", "corrupt"],
)
def test_a_record_that_cannot_be_read_is_a_note_and_the_outputs_are_compared(saved, edit, note):
    nb = nbformat.read(saved, as_version=4)
    ran = copy.deepcopy(nb)
    edit(the_record(nb))
    shown_elsewhere(nb, TORCH_CELL, other_torch_draws())
    replay = compare_saved(nb, ran, path="nb.ipynb")
    assert replay.notes == (note,)
    (difference,) = replay.differences
    assert difference.index == TORCH_CELL and difference.changes == ()


def test_two_different_records_in_one_notebook_are_a_note(saved):
    nb = nbformat.read(saved, as_version=4)
    ran = copy.deepcopy(nb)
    second = copy.deepcopy(nb.cells[0].outputs[1])
    second["data"][MIME_TYPE]["libraries"]["torch"]["version"] = "2.5.1"
    nb.cells[4].outputs.append(second)
    ran.cells[4].outputs.append(copy.deepcopy(ran.cells[0].outputs[1]))
    shown_elsewhere(nb, TORCH_CELL, other_torch_draws())
    replay = compare_saved(nb, ran, path="nb.ipynb")
    assert replay.notes == ("2 different records in the file (cells 1, 5): compared with the last, cell 5",)
    (difference,) = replay.differences
    assert [change.libraries for change in difference.changes] == [("torch",)]
    # The record outputs themselves are not compared as outputs: cell 5's match.
    assert all(d.index != 4 for d in replay.differences)


def test_a_record_on_a_cell_the_runner_skips_is_a_note(saved, tmp_path):
    def skipped(nb):
        nb.cells[0].metadata["tags"] = ["skip-execution"]

    replay = against_saved(edited(saved, tmp_path, skipped), timeout=120)
    assert replay.notes == (
        "the run made no seedmagic record in cell 1, where the file has one (the cell is tagged skip-execution: the "
        "run skips it): compared outputs only",
    )
    # Unseeded now, the torch, NumPy and random cells differ from the seeded ones saved.
    assert [d.index for d in replay.differences] == [2, 3, 4]
    assert replay.error is None


def test_a_file_saved_without_outputs_says_so(tmp_path):
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS], metadata={"kernelspec": KERNELSPEC})
    replay = compare_saved(nb, copy.deepcopy(nb), path="nb.ipynb")
    assert replay.unrun == (0, 1, 2, 3, 4) and replay.differences == ()
    assert replay.notes[-1] == "the file holds no outputs to compare with: run it and save it first"
    assert "5 not run when saved" in report.headline(replay)


# -- the command line, pytest and nbval -------------------------------------------------------------------------------


def seedmagic_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seedmagic", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


def test_the_command_line(saved, tmp_path):
    bad = edited(saved, tmp_path, lambda nb: (another_torch(nb), shown_elsewhere(nb, TORCH_CELL, other_torch_draws())))
    ran = seedmagic_cli("verify", "--against-saved", "--json", str(saved), bad.name, cwd=tmp_path)
    assert ran.returncode == 1, ran.stderr[-2000:]
    good, differs = json.loads(ran.stdout)
    assert good["reproducible"] is True and good["against_saved"] is True
    assert differs["reproducible"] is False
    (cell,) = differs["differences"]
    assert cell["number"] == 3 and cell["changes"][0]["kind"] == "version"
    assert cell["changes"][0]["text"].startswith("torch 2.5.1 then ")
    refused = seedmagic_cli("verify", "--against-saved", "--seed", "0", str(saved), cwd=tmp_path)
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .endswith("--against-saved runs the notebook as it was saved: give no --seed or --auto")
    )


def test_pytest_option_compares_notebooks_with_their_saved_outputs(saved, tmp_path):
    (tmp_path / "good.ipynb").write_text(saved.read_text())
    edited(saved, tmp_path, lambda nb: shown_elsewhere(nb, TORCH_CELL, other_torch_draws())).rename(
        tmp_path / "bad.ipynb"
    )
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--seedmagic-verify-saved",
            "-p",
            "no:cacheprovider",
            "-q",
            "good.ipynb",
            "bad.ipynb",
        ],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 1, ran.stdout[-2000:]
    assert "1 failed, 1 passed" in ran.stdout
    assert "bad.ipynb: differs from its saved outputs" in ran.stdout


def test_nbval_leaves_out_a_record_made_on_another_machine(saved, tmp_path):
    def elsewhere(nb):
        another_gpu(nb)
        nb.cells[0].outputs[1]["data"]["text/plain"] = "seedmagic record (schema 1): another machine's text"

    path = edited(saved, tmp_path, elsewhere)
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q"]
    ran = subprocess.run([*command, path.name], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:]
    assert "5 passed" in ran.stdout
    # nbval alone compares it, and fails on it: the plugin is what leaves it out.
    alone = subprocess.run(
        [*command, "-p", "no:seedmagic", path.name], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600
    )
    assert alone.returncode == 1 and "Cell 0" in alone.stdout
