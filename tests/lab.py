"""What a test in a real browser needs: JupyterLab on loopback, driven by headless Chromium through Playwright.

A server started here runs this very interpreter's JupyterLab with fresh config, data and runtime directories under
the test's tmp_path (no settings, kernels or IPython profile of the user's), a random token, no news and no update
checks, and ``window.jupyterapp`` exposed so that a test can run JupyterLab's own commands. Its notebooks are served
from ``tmp_path / "root"``. With ``app="notebook"`` it runs Notebook 7 (the ``notebook`` package, built from
JupyterLab's components) instead, set up the same way: the helpers below work in both, on the page's current
notebook (Notebook 7 shows one document per page, at ``notebooks/NAME.ipynb``).

Chromium is Debian's, at /usr/bin/chromium (the ``chromium`` package; CI installs it): a test calls
``needs_chromium()`` first, which skips it where Chromium is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # containers often have a small /dev/shm
]
TIMEOUT_MS = 45_000
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# JupyterLab user settings: render every cell (no windowing), and no news or update notifications.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


def needs_chromium() -> None:
    """Skip the calling test where Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")


def python_notebook(sources: list[str]) -> nbformat.NotebookNode:
    """A notebook of code cells with these sources, for the python3 kernel."""
    return new_notebook(cells=[new_code_cell(source) for source in sources], metadata={"kernelspec": KERNELSPEC})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(url: str, token: str, server: subprocess.Popen, log: Path, timeout: float = 40) -> None:
    """Return once the server answers /api/status; fail the test with its log if it exits or does not answer."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()}")


def lab_env(tmp_path: Path) -> dict[str, str]:
    """The environment a server started by ``start_lab(tmp_path)`` runs in, and with it its kernels: fresh Jupyter
    config, data and runtime directories and IPython directory under ``tmp_path / "jupyter"``. A command run in it
    finds what the server's kernels find (the python3 kernel of this interpreter, no profile of the user's)."""
    home = tmp_path / "jupyter"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(home / "ipython"),  # no profile of the user's (startup files, extensions) in the kernel
    }
    env.pop("JUPYTER_PATH", None)
    return env


# What starts each front end in this very interpreter, with window.jupyterapp exposed: `jupyter lab` (`-m jupyter lab`
# would run the jupyter-lab script, maybe another interpreter's) without news or update checks, or Notebook 7, whose
# JupyterNotebookApp has neither (its front end's notifications are off in SETTINGS).
APPS = {
    "lab": [
        "jupyterlab",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
    ],
    "notebook": ["notebook", "--JupyterNotebookApp.expose_app_in_browser=True"],
}


def start_lab(
    tmp_path: Path,
    notebooks: Mapping[str, nbformat.NotebookNode] | None = None,
    settings: Mapping[str, Any] = SETTINGS,
    app: str = "lab",
) -> tuple[subprocess.Popen, str, str, Path]:
    """Start JupyterLab (or with ``app="notebook"`` Notebook 7) on a free loopback port, serving ``tmp_path / "root"``
    with ``notebooks`` (name: notebook) written there. Returns the server process, its URL, its token and its log
    file; see ``wait_for_server``."""
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    for name, value in settings.items():
        path = home / "config" / "lab" / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for name, nb in (notebooks or {}).items():
        nbformat.write(nb, root / name)
    port, token = free_port(), secrets.token_hex(16)
    env = lab_env(tmp_path)
    log = tmp_path / "lab.log"
    module, *options = APPS[app]
    command = [
        sys.executable,
        "-m",
        module,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *options,
    ]
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return server, f"http://127.0.0.1:{port}", token, log


def stop_lab(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut the server down with its kernels; kill what is left of its process group."""
    if server.poll() is None:
        request = urllib.request.Request(
            f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)  # the kernel, if the server left it behind


@dataclasses.dataclass
class Lab:
    """A running JupyterLab server and a headless Chromium to look at it with."""

    url: str
    token: str
    root: Path  # where the server's notebooks are
    env: dict[str, str]  # the server's environment: its Jupyter and IPython directories
    browser: Any
    console: list[str]  # what the pages logged

    def open(self, path: str = "lab", width: int = 1400, height: int = 1100) -> Any:
        """A new page at ``path`` (``lab``, ``lab/tree/NAME.ipynb``; in Notebook 7 ``notebooks/NAME.ipynb``), by
        default large enough to show a notebook, with the default timeout raised; returns once the front end has
        restored its layout."""
        page = self.browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=2)
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.goto(f"{self.url}/{path}?token={self.token}")
        page.wait_for_function("() => !!window.jupyterapp")
        page.evaluate("() => window.jupyterapp.restored.then(() => null)")
        return page


@contextlib.contextmanager
def lab_in_chromium(
    tmp_path: Path, notebooks: Mapping[str, nbformat.NotebookNode] | None = None, app: str = "lab"
) -> Iterator[Lab]:
    """JupyterLab (or ``app="notebook"``: Notebook 7) started (see ``start_lab``) and headless Chromium launched. On
    the way out both are closed; if the block failed, the end of the pages' console and of the server's log are
    printed first."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    server, url, token, log = start_lab(tmp_path, notebooks, app=app)
    console: list[str] = []
    try:
        with sync_playwright() as playwright:
            # Chromium starts while the server does.
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
            try:
                wait_for_server(url, token, server, log, timeout=90)  # a busy machine is slow
                yield Lab(url, token, tmp_path / "root", lab_env(tmp_path), browser, console)
            finally:
                browser.close()
    except BaseException:
        print("browser console:", *console[-40:], sep="\n")
        print(f"{APPS[app][0]} log:", log.read_text()[-6000:], sep="\n")
        raise
    finally:
        stop_lab(server, url, token)


def wait_for_kernel_idle(page: Any) -> None:
    """Wait until the current notebook's kernel is connected and idle."""
    page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)


def run_cells(page: Any, command: str, active: int) -> None:
    """Make cell ``active`` the active cell and run a notebook command on it, as its menu item does."""
    page.evaluate(
        """([command, active]) => {
            window.jupyterapp.shell.currentWidget.content.activeCellIndex = active;
            window.jupyterapp.commands.execute(command);
        }""",
        [command, active],
    )


def notebook_cells(page: Any) -> Any:
    """The current notebook's cells (a Playwright locator)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def new_notebook_from_launcher(page: Any, kernel: str = KERNELSPEC["display_name"]) -> None:
    """Click the launcher's card for ``kernel``, as a user starts a notebook, and wait for its kernel to be idle."""
    page.locator(f".jp-LauncherCard[data-category='Notebook'][title='{kernel}']").click()
    wait_for_kernel_idle(page)


def type_cells(page: Any, sources: list[str]) -> None:
    """Type ``sources`` into a new notebook, as a user does: the first into its (empty) first cell, each next one
    into a cell added below with ``B``. Leaves the notebook in command mode."""
    cells = notebook_cells(page)
    for index, source in enumerate(sources):
        if index:
            page.keyboard.press("b")
        cells.nth(index).locator(".cm-content").click()
        page.keyboard.type(source)
        page.keyboard.press("Escape")


def cell_models(page: Any) -> list[dict[str, Any]]:
    """The current notebook's cells as JupyterLab holds them: each one's id, type and source."""
    return page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(
            cell => ({id: cell.id, cell_type: cell.cell_type, source: cell.source}))"""
    )


def run_cell(page: Any, index: int, execution_count: int) -> None:
    """Run cell ``index`` as a user does (click its prompt, press Ctrl+Enter) and wait until it shows
    ``[execution_count]:`` and the kernel is idle again."""
    from playwright.sync_api import expect

    cell = notebook_cells(page).nth(index)
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(f"[{execution_count}]:")
    wait_for_kernel_idle(page)


SAVED = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    return !!panel && !!panel.context && !panel.context.model.dirty;
}"""


def save_notebook(page: Any, name: str | None = None) -> str:
    """Save the current notebook as a user does (Ctrl+S) and wait until JupyterLab has written it. A notebook still
    called Untitled is named ``name`` in the "Rename file" dialog its first save opens. Returns its path under the
    server's root."""
    page.keyboard.press("Control+S")
    if name is not None:
        dialog = page.locator(".jp-Dialog")
        dialog.locator("input[type='text']").fill(name)
        dialog.get_by_role("button", name="Rename and Save").click()
        page.wait_for_function(
            "name => window.jupyterapp.shell.currentWidget.context.path === name", arg=name, timeout=TIMEOUT_MS
        )
    page.wait_for_function(SAVED, timeout=TIMEOUT_MS)
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
