"""The teaching notebooks: every one is run and compared by nbval in `make test`, and none hides its outputs."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(path: pathlib.Path) -> list:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_every_notebook_is_collected_by_the_default_nbval_run():
    assert "--nbval-lax" not in (ROOT / "pyproject.toml").read_text()
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}::Cell 0" in collected, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_saved_executed_with_clean_metadata(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.kernelspec.name == "python3"
    cells = code_cells(path)
    assert cells
    for cell in cells:
        assert cell.execution_count is not None, cell.source
        assert "execution" not in cell.metadata, "timing metadata varies from run to run"
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), "run top to bottom in a fresh kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_compares_most_of_its_outputs(path):
    cells = code_cells(path)
    sources = [cell.source for cell in cells]
    ignored = [source for source in sources if "NBVAL_IGNORE_OUTPUT" in source]
    assert not any("NBVAL_SKIP" in source or "NBVAL_CHECK_OUTPUT" in source for source in sources)
    assert len(ignored) * 2 < len(cells), f"{len(ignored)} of {len(cells)} cells ignore their output"
    with_output = [cell for cell in cells if cell.outputs and "NBVAL_IGNORE_OUTPUT" not in cell.source]
    assert with_output, "nbval would compare nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_make_demo_installs_what_the_notebook_imports(path):
    """`make demo` installs the `demo` extra: every notebook runs top to bottom there."""
    import re

    import tomllib

    demo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["demo"]
    installed = {re.split(r"[<>=;\[ ]", requirement)[0].removesuffix("-cpu") for requirement in demo}
    installed |= {"seedmagic", "ipywidgets", "IPython"}  # seedmagic and what it depends on
    imported = {
        name
        for cell in code_cells(path)
        for name in re.findall(r"^\s*(?:import|from) ([A-Za-z_]+)", cell.source, re.MULTILINE)
    }
    missing = {name for name in imported if name not in sys.stdlib_module_names and name not in installed}
    assert not missing, f"imported, but not in the demo extra: {sorted(missing)}"


# Makes TensorFlow, Keras and CuPy look uninstalled to the kernel: importlib.util.find_spec, which seedmagic asks
# (and torch, about the same libraries), finds no module for them.
HIDE_OPTIONAL = """
import importlib.util

_find_spec = importlib.util.find_spec


def find_spec(name, package=None):
    if name.split(".")[0] in ("tensorflow", "keras", "cupy"):
        return None
    return _find_spec(name, package)


importlib.util.find_spec = find_spec
"""
# The notebooks that do not import an optional library themselves, among the fastest.
WITHOUT_OPTIONAL = ["00-quickstart.ipynb", "01-torch-rand-and-the-seed.ipynb"]


@pytest.mark.parametrize("sanitized", [True, False], ids=["sanitized", "raw"])
def test_stored_outputs_do_not_depend_on_the_optional_libraries_installed(tmp_path, sanitized):
    """The stored outputs were made where TensorFlow and Keras are installed (`%seed` then says they "are seeded on
    import"); they still pass nbval where those are not, through notebooks/nbval-sanitize.cfg, which the project's
    nbval run uses. Without it, they fail: the check is not empty."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_OPTIONAL)
    notebooks = [str(ROOT / "notebooks" / name) for name in WITHOUT_OPTIONAL]
    sanitize = ["--nbval-sanitize-with", str(ROOT / "notebooks" / "nbval-sanitize.cfg")] if sanitized else []
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider", "-q"]
    run = subprocess.run(
        [*command, "-c", os.devnull, "--rootdir", str(tmp_path), *sanitize, *notebooks],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if sanitized:
        assert run.returncode == 0, run.stdout[-3000:]
    else:
        assert run.returncode == 1, run.stdout[-3000:]
        assert "are seeded on import" in run.stdout
