"""Whole notebooks: headless runners send each cell's id (nbval through seedmagic's pytest plugin, nbclient through
``send_cell_ids``), and ``seedmagic verify`` runs a notebook twice and says which cells do not reproduce.

Kernels are real ipykernels (the venv's ``python3``); notebooks are written here with nbformat, with cell ids."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import seedmagic
from seedmagic.notebook import report
from seedmagic.notebook.cell_ids import cell_id_sent, send_cell_ids
from seedmagic.notebook.outputs import clock_reading, first_difference, normalized
from seedmagic.notebook.verify import Schedule, schedule, setup_lines, usable_cores, verify
from seedmagic.records import THREAD_VARIABLES

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def notebook(*sources: str, ids: bool = True):
    cells = [new_markdown_cell(source[3:]) if source.startswith("md:") else new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    if not ids:
        nb.nbformat_minor = 4
        for cell in nb.cells:
            del cell["id"]
    return nb


def write(tmp_path: Path, name: str, nb) -> Path:
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def our_kernels(directory: Path) -> list[int]:
    """The ipykernel processes still running with ``directory`` as their working directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if b"ipykernel" in command and Path(cwd) == directory:
            found.append(int(entry.name))
    return found


def seedmagic_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "seedmagic", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


# -- cell ids --------------------------------------------------------------------------------------------------------


def test_cell_id_sent_sets_and_puts_back_the_session_metadata():
    from jupyter_client.session import Session

    session = Session()
    session.metadata["cellId"] = "outer"
    with cell_id_sent(session, "abc"):
        assert session.msg("execute_request", {})["metadata"]["cellId"] == "abc"
        with cell_id_sent(session, None):  # a cell without an id sends none
            assert "cellId" not in session.msg("execute_request", {})["metadata"]
    assert session.metadata["cellId"] == "outer"
    with cell_id_sent(session, "x"):
        pass
    session.metadata.pop("cellId")
    with cell_id_sent(session, "y"):
        pass
    assert "cellId" not in session.metadata


def draws_for(cell_id: str) -> list[float]:
    """What auto mode's seed for ``cell_id`` gives torch.rand(3), by torch's own calls."""
    torch.manual_seed(seedmagic.derive_seed(0, f"cell-id:{cell_id}"))
    return torch.rand(3).tolist()


def test_nbclient_with_send_cell_ids_gives_every_cell_its_id_seed(tmp_path):
    from nbclient import NotebookClient

    nb = notebook(
        "%load_ext seedmagic\n%seed 0 --auto -q",
        "import torch",
        "print(torch.rand(3).tolist())",
        "print(torch.rand(3).tolist())",  # the same source: a different cell, different numbers
        "ids = []\nget_ipython().events.register('pre_run_cell', lambda info: ids.append(info.cell_id))",
        "print(1)",
        "print(ids)",
    )
    client = send_cell_ids(NotebookClient(nb, kernel_name="python3", timeout=120))
    client.execute(env=ENV)
    printed = [cell.outputs[0]["text"] for cell in nb.cells if cell.outputs]
    for cell, text in zip(nb.cells[2:4], printed[:2], strict=True):
        assert json.loads(text) == pytest.approx(draws_for(cell.id), abs=0)
    assert printed[0] != printed[1]
    assert eval(printed[-1]) == [nb.cells[5].id, nb.cells[6].id]


def run_out_of_order(nb, order: list[int]) -> None:
    """Run ``nb``'s cells in ``order`` in one kernel, sending each cell's id as JupyterLab does, and store the
    outputs and execution counts as a front end saves them."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=ENV)
    try:
        for count, index in enumerate(order, 1):
            cell = nb.cells[index]
            with cell_id_sent(kc.session, cell.id):
                msg_id = kc.execute(cell.source)
            outputs = []
            while True:
                msg = kc.get_iopub_msg(timeout=120)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
                if msg["msg_type"] in ("stream", "execute_result", "display_data", "error"):
                    outputs.append(nbformat.v4.output_from_msg(msg))
            cell.outputs, cell.execution_count = outputs, count
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


AUTO_NOTEBOOK = (
    "%load_ext seedmagic\n%seed 0 --auto -q",
    "import random\nimport numpy as np\nimport torch",
    "torch.rand(3)",
    "print(np.random.rand(2))",
    "random.random()",
    "torch.rand(3)",
)


NBVAL = (sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider")


def nbval(path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*NBVAL, *options, "-q", path.name],
        cwd=path.parent,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_nbval_reproduces_an_auto_notebook_run_out_of_order(tmp_path):
    nb = notebook(*AUTO_NOTEBOOK)
    run_out_of_order(nb, [0, 1, 5, 4, 3, 2, 3])
    path = write(tmp_path, "auto.ipynb", nb)
    first, last = nb.cells[2].outputs[0]["data"]["text/plain"], nb.cells[5].outputs[0]["data"]["text/plain"]
    assert first != last, "two cells with the same source share their numbers"
    assert first == repr(torch.tensor(draws_for(nb.cells[2].id)))

    result = nbval(path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "6 passed" in result.stdout
    # Without the plugin, nbval sends no cell id: auto mode keys the cells by their source, and they fail.
    without = nbval(path, "-p", "no:seedmagic")
    assert without.returncode == 1, without.stdout[-3000:]
    assert our_kernels(tmp_path) == []


# -- outputs as compared -----------------------------------------------------------------------------------------------


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(data: dict) -> dict:
    return {"output_type": "execute_result", "execution_count": 3, "data": data, "metadata": {}}


def test_outputs_leave_out_what_differs_between_any_two_runs():
    timeit = "1.23 μs ± 45.6 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)\n"
    other = "987 ns ± 1.2 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)\n"
    assert normalized([stream(timeit)]) == normalized([stream(other)])
    # %timeit notes a slow run in some runs only: a run with the note is the same as one without.
    note = "The slowest run took 4.01 times longer than the fastest. This could mean that an intermediate result is "
    note += "being cached.\n"
    assert normalized([stream("a\n" + note + timeit)]) == normalized([stream("a\n" + other)])
    assert normalized([stream("a\n" + note)]) == normalized([stream("a\n")])
    assert normalized([stream(f"took {note}")]) != normalized([stream("took ")])  # a line of its own only
    assert normalized([stream("CPU times: user 3 ms, sys: 1 ms, total: 4 ms\nWall time: 5.2 ms\n")]) == normalized(
        [stream("CPU times: user 9 ms, sys: 0 ns, total: 9 ms\nWall time: 11 ms\n")]
    )
    assert normalized([result({"text/plain": "<object object at 0x7f3a2b1c9d80>"})]) == normalized(
        [{**result({"text/plain": "<object object at 0x7f00aa11bb22>"}), "execution_count": 9}]
    )
    # A warning names the cell's file, which names the kernel's process.
    warning = "/tmp/ipykernel_{}/3593848235.py:1: UserWarning: careful\n"
    assert normalized([stream(warning.format(101), "stderr")]) == normalized([stream(warning.format(202), "stderr")])
    # A stream cut into messages differently is the same stream; a different stream is not.
    assert normalized([stream("ab"), stream("c\n")]) == normalized([stream("abc\n")])
    assert normalized([stream("abc\n")]) != normalized([stream("abc\n", "stderr")])
    widget = "application/vnd.jupyter.widget-view+json"
    assert normalized([result({widget: {"model_id": "aa", "version_major": 2}})]) == normalized(
        [result({widget: {"model_id": "bb", "version_major": 2}})]
    )
    svg = '<svg><dc:date>{}</dc:date><clipPath id="p{}"/><use clip-path="url(#p{})"/></svg>'
    assert normalized([result({"image/svg+xml": svg.format("2026-01-01", "a1", "a1")})]) == normalized(
        [result({"image/svg+xml": svg.format("2026-02-02", "b2", "b2")})]
    )
    assert normalized([result({"image/svg+xml": svg.format("d", "a1", "a1")})]) != normalized(
        [result({"image/svg+xml": svg.format("d", "a1", "zz")})]
    )
    # Colours in a traceback are not part of the error.
    error = {
        "output_type": "error",
        "ename": "ValueError",
        "evalue": "x",
        "traceback": ["\x1b[31mValueError\x1b[0m: x"],
    }
    assert normalized([error]) == normalized([{**error, "traceback": ["ValueError: x"]}])


def test_images_are_compared_by_their_data():
    def png(values) -> dict:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=(1, 1))
        plt.plot(values)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        encoded = base64.b64encode(buffer.getvalue()).decode()
        return {"output_type": "display_data", "data": {"image/png": encoded[:60] + "\n" + encoded[60:]}}

    same = normalized([png([1, 2, 3])])
    assert same == normalized([png([1, 2, 3])])
    assert first_difference(same, normalized([png([1, 3, 2])])).startswith("output 1 (display): image/png data differs")


def test_first_difference_says_where_the_runs_part():
    a = normalized([stream("loss 0.5\nacc 0.9\n")])
    b = normalized([stream("loss 0.5\nacc 0.8\n")])
    assert first_difference(a, a) is None
    assert first_difference(a, b) == "output 1 (stdout): 'acc 0.9' vs 'acc 0.8'"
    assert first_difference(a, a + a).startswith("one run has 1 more output(s)")


# -- seedmagic verify --------------------------------------------------------------------------------------------------

REPRODUCIBLE = (
    "md:# a notebook that seeds",
    "%load_ext seedmagic\n%seed 0",
    "import numpy as np\nimport torch",
    "print(np.random.rand(3))\ntorch.rand(2)",
    "%timeit sum(range(100))",
    "object()",
    "1 / 0",  # an error is an output like any other: the same in both runs
)

UNSEEDED = (
    "import numpy as np",
    "print('no randomness here')",
    "x = np.random.rand(3)\nprint(x)",
    "print(x.sum())",  # differs because the cell above does
    "print(sorted({'b', 'a'}))",
)


def test_verify_finds_a_seeded_notebook_reproducible(tmp_path):
    path = write(tmp_path, "seeded.ipynb", notebook(*REPRODUCIBLE))
    verdict = verify(path, timeout=120)
    assert verdict.reproducible is True, report.text([verdict])
    assert verdict.code_cells == 6
    assert our_kernels(tmp_path) == []


def test_verify_names_the_first_cell_that_differs_and_those_that_follow(tmp_path):
    nb = notebook(*UNSEEDED)
    path = write(tmp_path, "unseeded.ipynb", nb)
    verdict = verify(path, timeout=120)
    assert verdict.reproducible is False
    first, then = verdict.differences
    assert (first.index, first.cell_id, first.number, first.after) == (2, nb.cells[2].id, 3, ())
    assert [(cause.kind, cause.cell, cause.line) for cause in first.causes] == [("global-generator", 2, 1)]
    assert (then.index, then.after, then.causes) == (3, (2,), ())  # its cause is the first cell's: told once
    text = report.text([verdict])
    assert f"cell 3 (id {nb.cells[2].id}): the first cell to differ" in text
    assert f"cell 4 (id {nb.cells[3].id}): differs, as it uses cell 3 (id {nb.cells[2].id})" in text
    assert "NOT reproducible (2 of 5 code cells differ" in text
    # With seedmagic injected, the same notebook reproduces: seedmagic alone is what it needs.
    seeded = verify(path, seed=0, timeout=120)
    assert seeded.reproducible is True, report.text([seeded])
    assert seeded.setup == setup_lines(0, False)
    auto = verify(path, auto=True, timeout=120)
    assert auto.reproducible is True and "--auto" in auto.setup[-1]
    assert our_kernels(tmp_path) == []


def test_verify_leaves_out_cells_marked_for_nbval(tmp_path):
    path = write(tmp_path, "marked.ipynb", notebook("import random", "# NBVAL_IGNORE_OUTPUT\nrandom.random()", "1"))
    verdict = verify(path, timeout=120)
    assert verdict.reproducible is True and verdict.ignored == (1,)
    assert "1 left out" in report.headline(verdict)


def test_verify_without_cell_ids_keys_cells_by_source(tmp_path):
    path = write(tmp_path, "old.ipynb", notebook("%load_ext seedmagic\n%seed 0 --auto -q", "import random", ids=False))
    verdict = verify(path, timeout=120)
    assert verdict.reproducible is True and verdict.missing_ids == 2


def test_the_command_line(tmp_path):
    good = write(tmp_path, "good.ipynb", notebook("print(1)"))
    bad = write(tmp_path, "bad.ipynb", notebook(*UNSEEDED))
    ran = seedmagic_cli("verify", good.name, cwd=tmp_path)
    assert (ran.returncode, ran.stdout.splitlines()[0].split(" (")[0]) == (0, "good.ipynb: reproducible")
    ran = seedmagic_cli("verify", good.name, "--json", bad.name, cwd=tmp_path)
    assert ran.returncode == 1
    verdicts = json.loads(ran.stdout)
    assert [v["reproducible"] for v in verdicts] == [True, False]
    assert verdicts[1]["differences"][0]["number"] == 3
    # `seedmagic` itself is installed as a command.
    installed = subprocess.run(
        [str(Path(sys.executable).with_name("seedmagic")), "verify", "--help"], capture_output=True, text=True
    )
    assert installed.returncode == 0 and "--seed N" in installed.stdout


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.ipynb", "missing.ipynb: could not verify: no such file"),
        (lambda d: d, "could not verify: a directory, not a notebook"),
        (
            lambda d: (d / "x.ipynb").write_text("not json") and d / "x.ipynb",
            "x.ipynb: could not verify: not a notebook",
        ),
    ],
    ids=["missing", "directory", "not-json"],
)
def test_verify_refuses_what_is_not_a_notebook(tmp_path, make, expected):
    path = make(tmp_path)
    ran = seedmagic_cli("verify", str(path), cwd=tmp_path)
    assert ran.returncode == 2
    assert expected in ran.stderr and len(ran.stderr.strip().splitlines()) == 1, ran.stderr


def verify_with_kernel(tmp_path: Path, name: str, argv: list[str], path: Path) -> subprocess.CompletedProcess:
    """``seedmagic verify PATH --kernel NAME``, NAME a kernelspec of its own in ``tmp_path`` that runs ``argv``."""
    spec = tmp_path / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))
    return subprocess.run(
        [sys.executable, "-m", "seedmagic", "verify", path.name, "--kernel", name],
        cwd=tmp_path,
        env={**ENV, "JUPYTER_PATH": str(tmp_path / "jupyter")},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_kernel_that_cannot_start_is_one_line(tmp_path):
    argv = [sys.executable, "-c", "import sys; print('no such thing', file=sys.stderr); sys.exit(3)"]
    ran = verify_with_kernel(tmp_path, "broken", argv, write(tmp_path, "a.ipynb", notebook("print(1)")))
    assert ran.returncode == 2, ran.stderr
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("a.ipynb: could not verify: the kernel did not start: "), line
    assert "Traceback" not in ran.stderr


PORT_TAKEN_KERNEL = """
import pathlib, runpy, sys
starts, taken = pathlib.Path(sys.argv[1]), int(sys.argv[2])
starts.mkdir(exist_ok=True)
number = 0
while True:  # this start's number, counted without a race between the two runs' kernels
    try:
        (starts / str(number)).touch(exist_ok=False)
        break
    except FileExistsError:
        number += 1
if number < taken:  # as a kernel whose port another process took between its choice and the kernel's start
    print("zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:1')", file=sys.stderr)
    sys.exit(1)
sys.argv = ["ipykernel_launcher", *sys.argv[3:]]
runpy.run_module("ipykernel_launcher", run_name="__main__")
"""


@pytest.mark.parametrize("taken", [1, 2, 9], ids=["once", "twice", "always"])
def test_a_kernel_whose_port_was_taken_is_started_again_twice_at_most(tmp_path, taken):
    """jupyter_client picks free ports and the kernel binds them later: another program's kernel may take one in
    between. Such a start is tried again, on new ports, twice at most; then it is the one line of a kernel that did
    not start."""
    (tmp_path / "kernel.py").write_text(PORT_TAKEN_KERNEL)
    starts = tmp_path / "starts"
    argv = [sys.executable, str(tmp_path / "kernel.py"), str(starts), str(taken), "-f", "{connection_file}"]
    path = write(tmp_path, "a.ipynb", notebook("%load_ext seedmagic\n%seed 0", "import random\nrandom.random()"))
    ran = verify_with_kernel(tmp_path, "taken", argv, path)
    if taken <= 2:
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.startswith("a.ipynb: reproducible"), ran.stdout
        assert len(list(starts.iterdir())) == taken + 2  # the failed starts, then both runs' kernels
    else:
        assert ran.returncode == 2, ran.stderr
        [line] = ran.stderr.strip().splitlines()
        assert line.startswith("a.ipynb: could not verify: the kernel did not start: "), line
        assert "Address already in use" in line
        assert len(list(starts.iterdir())) >= 3  # a run's kernel started three times (the other run is then stopped)
    assert our_kernels(tmp_path) == []


def test_a_kernel_that_dies_or_a_cell_that_hangs_is_one_line_and_no_kernel_stays(tmp_path):
    dies = write(tmp_path, "dies.ipynb", notebook("print(1)", "import os\nos._exit(3)"))
    hangs = write(tmp_path, "hangs.ipynb", notebook("import time\ntime.sleep(600)"))
    ran = seedmagic_cli("verify", dies.name, hangs.name, "--timeout", "20", cwd=tmp_path)
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    nb = nbformat.read(dies, as_version=4)
    assert lines[0] == f"dies.ipynb: could not verify: the kernel died in cell 2 (id {nb.cells[1].id})"
    assert lines[1].startswith("hangs.ipynb: could not verify: cell 1 (id ") and lines[1].endswith("--timeout 20 s")
    assert our_kernels(tmp_path) == []


@pytest.mark.parametrize(
    "args", [["verify"], ["verify", "a.ipynb", "--seed", "-1"], ["verify", "a.ipynb", "--timeout", "0"], ["frob"]]
)
def test_bad_arguments_are_one_usage_line(tmp_path, args):
    ran = seedmagic_cli(*args, cwd=tmp_path)
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines()[-1].startswith("seedmagic")


def test_pytest_option_verifies_notebooks(tmp_path):
    write(tmp_path, "good.ipynb", notebook("print(1)"))
    write(tmp_path, "bad.ipynb", notebook(*UNSEEDED))
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--seedmagic-verify",
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
    assert "bad.ipynb: NOT reproducible" in ran.stdout and "the first cell to differ" in ran.stdout
    from seedmagic.notebook.verify import schedule

    note = schedule(environ=ENV).note
    if note is not None:  # what the passing test covers (one core, or fewer threads): in pytest's warnings summary
        assert f"SeedmagicWarning: good.ipynb: {note}" in ran.stdout, ran.stdout[-2000:]
        assert f"note: {note}" in ran.stdout  # and in the failing one's report


@pytest.mark.slow
def test_the_project_notebooks_reproduce():
    """What `make test` verifies: every teaching notebook, as its readers run it."""
    root = Path(__file__).resolve().parent.parent
    paths = sorted(str(path) for path in (root / "notebooks").glob("*.ipynb"))
    ran = seedmagic_cli("verify", *paths, cwd=root)
    assert ran.returncode == 0, ran.stdout + ran.stderr


# -- the notebooks made for it: one per cause, and controls --------------------------------------------------------

CAUSE_NOTEBOOKS = sorted((Path(__file__).resolve().parent / "notebooks" / "verify").glob("*.ipynb"))
REPEATS = 5


def has_cuda() -> bool:
    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def verdicts_of_cause_notebooks():
    """Each notebook verified REPEATS times (two verifications at a time), as users run it: no PYTHONHASHSEED.

    A notebook's verdicts are made when its first test asks for them, so that xdist's workers can share the
    notebooks out (conftest.py keeps one notebook's repeats in one worker)."""
    from concurrent.futures import ThreadPoolExecutor

    made: dict[Path, list] = {}

    def verdicts(path: Path) -> list:
        if path not in made:
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update({key: value for key, value in ENV.items() if key != "PYTHONHASHSEED"})
            try:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    made[path] = list(pool.map(lambda _: verify(path, timeout=120), range(REPEATS)))
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return made[path]

    return verdicts


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, marks=[pytest.mark.cuda] if path.stem == "gpu_kernel" else [], id=path.stem)
        for path in CAUSE_NOTEBOOKS
    ],
)
def test_verify_finds_every_cause_and_no_control_differs(path, repeat, verdicts_of_cause_notebooks):
    if path.stem == "gpu_kernel" and not has_cuda():
        pytest.skip("needs a CUDA GPU: on a CPU this notebook repeats")
    expected = nbformat.read(path, as_version=4).metadata["seedmagic_test"]
    verdict = verdicts_of_cause_notebooks(path)[repeat]
    text = report.text([verdict])
    assert verdict.error is None, text
    assert [difference.index for difference in verdict.differences] == expected["differs"], text
    if expected["cause"] is None:
        assert verdict.reproducible is True
        return
    first = verdict.differences[0]
    assert expected["cause"] in [cause.kind for cause in first.causes], text
    assert report.WHAT[expected["cause"]] in text  # named in the report, with its fix


def test_the_readme_shows_what_verify_says():
    """The README's two reports on docs/verify-example.ipynb are real: the same lines come out now, all but where
    the two runs' random numbers part and the time taken."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "docs" / "verify.md").read_text()

    def comparable(text: str) -> list[str]:
        # Where the runs part, and how they shared this machine's cores, are not the README's.
        lines = [line for line in text.strip().splitlines() if not line.lstrip().startswith(("output ", "note: ran "))]
        return [re.sub(r"; [0-9.]+ s\)$", ")", line) for line in lines]

    for extra in ((), ("--seed", "0")):
        command = " ".join(("$ seedmagic verify docs/verify-example.ipynb", *extra))
        shown = readme.split(command + "\n", 1)[1].split("```", 1)[0]
        ran = seedmagic_cli("verify", "docs/verify-example.ipynb", *extra, cwd=root)
        assert ran.returncode == 1, ran.stderr
        assert comparable(ran.stdout) == comparable(shown)


def test_ctrl_c_stops_verify_and_shuts_its_kernels_down(tmp_path):
    import signal

    hangs = write(tmp_path, "hangs.ipynb", notebook("import time\ntime.sleep(600)"))
    later = write(tmp_path, "later.ipynb", notebook("print(1)"))
    process = subprocess.Popen(
        [sys.executable, "-m", "seedmagic", "verify", hangs.name, later.name],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(our_kernels(tmp_path)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(our_kernels(tmp_path)) == 2, "the kernels did not start"
        time.sleep(2)  # both are running the cell
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "seedmagic verify: interrupted (its kernels are shut down)", err
    assert "later.ipynb" not in out  # it stops: the next notebook is not run
    assert our_kernels(tmp_path) == []


# -- how the two runs share the cores ----------------------------------------------------------------------------------


def test_schedule_gives_each_run_half_the_cores_or_runs_them_one_after_the_other():
    assert schedule(1, {}) == Schedule(1, at_once=False, usual=1)
    assert schedule(2, {}) == Schedule(2, at_once=True, usual=2, threads=1)
    assert schedule(3, {}) == Schedule(3, at_once=True, usual=3, threads=1)
    assert schedule(16, {}).threads == 8
    # The user's OMP_NUM_THREADS is what their kernel would start with: no fewer given, nothing set.
    assert schedule(16, {"OMP_NUM_THREADS": "4"}) == Schedule(16, at_once=True, usual=4)
    assert schedule(16, {"OMP_NUM_THREADS": "12,2"}) == Schedule(16, at_once=True, usual=12, threads=8)
    assert schedule(2, {"OMP_NUM_THREADS": "lots"}).usual == 2
    assert schedule(16, {"OMP_NUM_THREADS": "4"}).environment == {}
    assert schedule(2, {}).environment == dict.fromkeys(THREAD_VARIABLES, "1")
    assert usable_cores() == len(os.sched_getaffinity(0))


# Each run writes what its kernel was given: torch's thread count, the thread variables, when its cells ran.
THREADS = (
    "import json, os, time\nimport torch\nstarted = time.time()",
    "x = torch.randn(256, 256)\nfor _ in range(20):\n    x = torch.tanh(x @ x.T / 256)\nprint(float(x.sum()))",
    "record = {'threads': torch.get_num_threads(), 'started': started, 'ended': time.time()}\n"
    f"record['variables'] = {{name: os.environ.get(name) for name in {THREAD_VARIABLES!r}}}\n"
    "with open(f'run-{os.getpid()}.json', 'w') as file:\n    json.dump(record, file)",
)


def runs_recorded(directory: Path) -> list[dict]:
    records = [json.loads(path.read_text()) for path in sorted(directory.glob("run-*.json"))]
    assert len(records) == 2, records
    return sorted(records, key=lambda record: record["started"])


def note_of(stdout: str) -> str | None:
    notes = [line.strip() for line in stdout.splitlines() if line.strip().startswith("note: ran ")]
    return notes[0] if notes else None


def without_thread_variables() -> dict[str, str]:
    return {name: value for name, value in ENV.items() if name not in THREAD_VARIABLES}


def test_verify_gives_both_kernels_the_same_threads_and_says_so(tmp_path):
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("needs two cores: on one, the runs are one after the other (tested below)")
    path = write(tmp_path, "threads.ipynb", notebook(*THREADS))
    ran = subprocess.run(
        [sys.executable, "-m", "seedmagic", "verify", path.name],
        cwd=tmp_path,
        env=without_thread_variables(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    share = cores // 2
    first, second = runs_recorded(tmp_path)
    # torch in each kernel starts with the threads given, as the variables set them.
    assert first["threads"] == second["threads"] == share
    assert first["variables"] == second["variables"] == dict.fromkeys(THREAD_VARIABLES, str(share))
    threads = f"{share} thread{'' if share == 1 else 's'}"
    assert note_of(ran.stdout) == f"note: ran both at once, {threads} each: runs with {cores} may still differ"
    # In JSON, the same decision.
    ran = subprocess.run(
        [sys.executable, "-m", "seedmagic", "verify", path.name, "--json"],
        cwd=tmp_path,
        env=without_thread_variables(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert json.loads(ran.stdout)[0]["schedule"] == {"cores": cores, "at_once": True, "usual": cores, "threads": share}


def test_verify_leaves_a_thread_count_the_user_set_alone(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    path = write(tmp_path, "threads.ipynb", notebook(*THREADS))
    ran = seedmagic_cli_with({**without_thread_variables(), "OMP_NUM_THREADS": "1"}, "verify", path.name, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for record in runs_recorded(tmp_path):
        assert record["threads"] == 1
        assert record["variables"] == {name: "1" if name == "OMP_NUM_THREADS" else None for name in THREAD_VARIABLES}
    assert note_of(ran.stdout) is None  # both at once, each as the user's kernel: nothing to say


def seedmagic_cli_with(env: dict[str, str], *args: str, cwd: Path, cpus: set[int] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "seedmagic", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
    )


def test_on_one_core_verify_runs_one_after_the_other_and_says_so(tmp_path):
    path = write(tmp_path, "threads.ipynb", notebook(*THREADS))
    one = {min(os.sched_getaffinity(0))}
    ran = seedmagic_cli_with(without_thread_variables(), "verify", path.name, cwd=tmp_path, cpus=one)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    first, second = runs_recorded(tmp_path)
    assert first["ended"] <= second["started"]  # the second kernel ran its cells after the first's last
    # Nothing added: torch takes the one core it may use, as in the user's kernel.
    assert first["threads"] == second["threads"] == 1
    assert first["variables"] == second["variables"] == dict.fromkeys(THREAD_VARIABLES)
    assert note_of(ran.stdout) == "note: ran one after the other (1 core): about twice one run's time"
    assert our_kernels(tmp_path) == []


# -- output that shows the clock ---------------------------------------------------------------------------------------


def test_a_clock_reading_is_found_in_what_libraries_print(tmp_path):
    import email.utils
    from datetime import date, datetime, timezone

    began = time.time()
    (tmp_path / "made.txt").touch()
    printed = {
        "datetime.now()": str(datetime.now()),
        "to the minute": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "UTC": datetime.now(timezone.utc).isoformat(),
        "repr": repr(datetime.now()),
        "date.today()": str(date.today()),
        "time.ctime()": time.ctime(),
        "time.localtime()": repr(time.localtime()),
        "time.time()": repr(time.time()),
        "time.time_ns()": str(time.time_ns()),
        "strftime": time.strftime("%H:%M:%S"),
        "formatdate": email.utils.formatdate(),
        "ls -l": subprocess.run(["ls", "-l", "made.txt"], cwd=tmp_path, capture_output=True, text=True).stdout,
        "date": subprocess.run(["date"], capture_output=True, text=True).stdout,
    }
    ended = time.time()
    later = 2 * 86_400.0 + 3_600.0  # two days and an hour: another date, another time of day
    for what, text in printed.items():
        outputs = normalized([stream(text)])
        found = clock_reading(outputs, began, ended)
        assert found is not None and found[1].text in text, what
        # Later, the same text is no reading of the clock then.
        assert clock_reading(outputs, began + later, ended + later) is None, what
    for text in ("2020-01-02 03:04:05", "datetime.date(2020, 1, 2)", "100%|##| 10/10 [00:01<00:00, 9.5it/s]"):
        assert clock_reading(normalized([stream(text)]), began, ended) is None, text


CLOCK = (
    "import datetime, time",
    "print('fixed:', datetime.date(2020, 1, 2), datetime.datetime(2020, 1, 2, 3, 4, 5))",
    "print(datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))",
    "open('made.txt', 'w').close()\n!ls -l made.txt",
    "print(datetime.date.today())",
    "print('the same every run')",
)


def test_a_progress_bar_is_not_a_difference_however_its_timing_redrew_it(tmp_path):
    """tqdm redraws its bar as time passes: how often, its rate and its times differ in every run. What it shows
    last, its counts and its postfix, is compared; a postfix that differs still differs."""
    nb = notebook(
        "import time\nfrom tqdm import tqdm",
        "for i in tqdm(range(40), mininterval=0):\n    time.sleep(0.002)",
        "for i in tqdm(range(5), file=__import__('sys').stdout, mininterval=0):\n    time.sleep(0.01)",
        "import random\nbar = tqdm(range(3))\nfor i in bar:\n    bar.set_postfix(loss=random.random())",
    )
    path = write(tmp_path, "bars.ipynb", nb)
    verdict = verify(path, timeout=120)
    text = report.text([verdict])
    assert [difference.index for difference in verdict.differences] == [3], text
    assert "loss=" in verdict.differences[0].difference, text


def test_verify_finds_output_that_shows_the_clock_also_where_both_runs_show_the_same(tmp_path):
    """Two runs at once print the same minute, file time and date: each still differs from a run made later."""
    nb = notebook(*CLOCK)
    path = write(tmp_path, "clock.ipynb", nb)
    verdict = verify(path, timeout=120)
    text = report.text([verdict])
    assert [difference.index for difference in verdict.differences] == [2, 3, 4], text
    for difference in verdict.differences:  # the !ls -l cell too: its output shows the time, whoever printed it
        assert "clock" in [cause.kind for cause in difference.causes], text
    assert "its output shows the time it ran" in str(verdict.differences[1].causes[0]), text
    for difference in verdict.differences:
        # the same in both runs unless a minute (or the day) turned between them
        assert "shows the time it ran" in difference.difference or " vs " in difference.difference, text
    assert f"cell 4 (id {nb.cells[3].id})" in text
    assert our_kernels(tmp_path) == []
