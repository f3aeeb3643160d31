"""Every command the README and the docs' pages show works, run as a new user runs it: from a clone, in the
environment that the README's set-up makes for it.

The commands are the lines of the ```sh blocks of the README and of docs/*.md, and the `$ ` lines of their other
code blocks (a transcript: the lines under one are its output); a command that two of them show runs once. Each runs
in bash, in one clone of this repository (its HEAD, with the working tree's files over it, as the next commit would
have them). `pip` commands install into an environment of one's own, a fresh venv; every other command runs in the
`.venv` that `make demo` makes, activated. The module runs `make demo` once first; pip takes what it can from its
cache.

A command passes when it exits with 0; one that prints a loopback URL (a server: `make demo`) when that URL answers,
and it is stopped then; a transcript's command when the first line it prints starts as the file's does (before any
" (", where the details begin). A command that cannot run in a test is named in the file that shows it by a comment,
<!-- not run by tests/test_readme_routes.py: `COMMAND`: REASON -->, and its test is skipped with that reason. The
Python examples of the pages run in tests/test_docs.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `make demo` installs an environment (about a minute and a half): the module starts first.
pytestmark = pytest.mark.slow
SHELL_BLOCKS = {"sh", "shell", "bash", "console"}
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!-- not run by tests/test_readme_routes\.py: `([^`]+)`: (.+?) -->")
LOOPBACK_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+/\S*")
SETUP = "make demo"
TIMEOUT = 600  # seconds for one command; the first `make demo` installs the demo environment within it


class Command(NamedTuple):
    line: str  # as the README writes it, its comment included
    text: str  # without its comment
    output: tuple[str, ...] | None  # a transcript's output


def readme_commands(readme: str) -> list[Command]:
    commands = []
    for language, body in FENCE.findall(readme):
        lines = body.splitlines()
        if language in SHELL_BLOCKS:
            for line in re.sub(r"\\\n", " ", body).splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    commands.append(Command(line, re.sub(r"\s+#.*$", "", line).strip(), None))
            continue
        for number, line in enumerate(lines):
            if line.startswith("$ "):
                after = lines[number + 1 :]
                end = next((i for i, other in enumerate(after) if other.startswith("$ ")), len(after))
                commands.append(Command(line[2:], line[2:].strip(), tuple(after[:end])))
    return commands


README = (ROOT / "README.md").read_text()
# The README and the docs' pages, each with the commands it shows.
SHOWN = {path: path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
# Each command once, in the order the files show them (a page repeats some of the README's).
COMMANDS: list[Command] = []
for _text in SHOWN.values():
    COMMANDS += [
        command
        for command in readme_commands(_text)
        if (command.text, command.output) not in {(shown.text, shown.output) for shown in COMMANDS}
    ]
NOT_RUN_REASONS = {command: reason for text in SHOWN.values() for command, reason in NOT_RUN.findall(text)}


def test_the_readme_shows_its_commands():
    assert SETUP in [command.text for command in COMMANDS]
    assert any(command.output for command in COMMANDS), "no transcript found"


def test_every_command_not_run_is_in_the_readme():
    for path, text in SHOWN.items():
        shown = {command.text for command in readme_commands(text)}
        named = {command for command, _ in NOT_RUN.findall(text)}
        assert not named - shown, f"a comment in {path.name} names a command it no longer shows: {named - shown}"


class Ran(NamedTuple):
    returncode: int | None  # None: stopped once it served
    stdout: str
    stderr: str
    served: str | None  # the loopback URL that answered


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def run(line: str, cwd: Path, env: dict[str, str]) -> Ran:
    """Run one command line in bash; stop it, and all it started, once a loopback URL it printed answers."""
    process = subprocess.Popen(
        ["bash", "-c", line],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=into.extend, args=(stream,), daemon=True)
        for stream, into in ((process.stdout, out), (process.stderr, err))
    ]
    for reader in readers:
        reader.start()
    served = None
    deadline = time.monotonic() + TIMEOUT
    try:
        while process.poll() is None and served is None:
            if time.monotonic() > deadline:
                pytest.fail(f"`{line}` still ran after {TIMEOUT} s:\n{''.join(out + err)[-3000:]}")
            urls = LOOPBACK_URL.findall("".join(out + err))
            if urls and answers(urls[0]):
                served = urls[0]
            else:
                time.sleep(0.5)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)
                break
        for reader in readers:
            reader.join(10)
    return Ran(None if served else process.returncode, "".join(out), "".join(err), served)


def user_env(venv: Path | None, home: Path) -> dict[str, str]:
    """This machine's environment as a new user's shell has it: without the venv that runs this test, with ``venv``
    activated, no Jupyter or IPython settings of the developer's, and no browser tab opened."""
    outer = str(Path(sys.prefix) / "bin")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and entry != outer]
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        path.insert(0, str(venv / "bin"))
    env["PATH"] = os.pathsep.join(path)
    env.pop("JUPYTER_PATH", None)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
        JUPYTER_DATA_DIR=str(home / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
        IPYTHONDIR=str(home / "ipython"),
        BROWSER="true",
        # pip compiles every module it installs (thousands, for torch and TensorFlow); Python compiles those a
        # route imports when it imports them. Nothing a route does depends on which.
        PIP_NO_COMPILE="1",
    )
    return env


def output_tail(ran: Ran) -> str:
    return (ran.stdout + ran.stderr)[-3000:]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clone of this repository as its next commit would have it (removed afterwards: its venvs take GBs)."""
    base = tmp_path_factory.mktemp("readme-routes")
    path = base / "seedmagic"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True, timeout=120)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, path / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            target.unlink(missing_ok=True)
    yield path
    # Its venvs hold GBs: removed by a process of its own, which the next test does not wait for.
    gone = base.with_name(base.name + "-removed")
    base.rename(gone)
    subprocess.Popen(["rm", "-rf", str(gone)], start_new_session=True)


@pytest.fixture(scope="module")
def demo(clone):
    """`make demo`'s environment, made by `make demo` in the clone (stopped once JupyterLab answers)."""
    ran = run(SETUP, clone, user_env(None, clone.parent))
    if not ran.served:
        pytest.fail(f"`{SETUP}` exited with {ran.returncode} before JupyterLab answered:\n{output_tail(ran)}")
    return clone / ".venv"


def installs(command: Command) -> bool:
    return re.match(r"(pip3?|python3? -m pip) ", command.text) is not None


@pytest.fixture(scope="module")
def own(clone):
    """An environment of one's own, a fresh venv outside the clone, and what each of the README's pip commands did
    there, run in the README's order."""
    venv = clone.parent / "own"
    subprocess.run(["bash", "-c", f"python3 -m venv {venv}"], env=user_env(None, clone.parent), check=True, timeout=120)
    env = user_env(venv, clone.parent)
    ran = {
        command.text: run(command.line, clone, env)
        for command in COMMANDS
        if installs(command) and command.text not in NOT_RUN_REASONS
    }
    return venv, ran


@pytest.mark.parametrize("command", COMMANDS, ids=[command.text for command in COMMANDS])
def test_readme_command(command, clone, request):
    if command.text in NOT_RUN_REASONS:
        pytest.skip(f"README: {NOT_RUN_REASONS[command.text]}")
    if installs(command):
        ran = request.getfixturevalue("own")[1][command.text]
    else:
        ran = run(command.line, clone, user_env(request.getfixturevalue("demo"), clone.parent))
    if command.output is not None:
        shown = next((line for line in command.output if line.strip()), "")
        printed = next((line for line in ran.stdout.splitlines() if line.strip()), "")
        if not printed.startswith(shown.split(" (")[0]):
            pytest.fail(f"`{command.text}` printed {printed!r}; the README shows {shown!r}\n{output_tail(ran)}")
    elif not ran.served and ran.returncode != 0:
        pytest.fail(f"`{command.text}` exited with {ran.returncode}:\n{output_tail(ran)}")


def test_an_environment_of_ones_own_tests_notebooks(own, tmp_path):
    """The README's commands that test a notebook run where its pip commands installed seedmagic, outside the clone,
    on a notebook of one's own that needs no framework."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    lines = [
        re.sub(r"\S+\.ipynb", "plain.ipynb", command.line)
        for command in COMMANDS
        if ".ipynb" in command.text and command.output is None and not installs(command)
    ]
    assert lines
    sources = ["%load_ext seedmagic", "%seed 0 --auto -q\nimport random\nx = random.random()"]
    cells = [new_code_cell(source) for source in sources]
    kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), tmp_path / "plain.ipynb")
    for line in lines:
        ran = run(line, tmp_path, user_env(own[0], tmp_path))
        if ran.returncode != 0:
            pytest.fail(f"`{line}` exited with {ran.returncode}:\n{output_tail(ran)}")
