"""%seedpanel in a real browser: JupyterLab on loopback, driven by headless Chromium through Playwright.

The test starts its own JupyterLab server (fresh config, data and runtime directories under tmp_path), opens a
notebook that loads seedmagic, seeds with 3 and shows the panel, checks what the panel shows, types 7 into its seed
field and presses Reseed, switches deterministic mode on with its toggle, then checks with ``%seed`` in the kernel
that the session seed is 7 and deterministic mode is on. It saves a screenshot of the panel under tmp_path, and,
with SEEDMAGIC_UPDATE_SCREENSHOT=1 set, to docs/panel.png (the picture in the README), so that a test run leaves the
working tree as it was.

It needs Chromium at /usr/bin/chromium (Debian's ``chromium`` package; CI installs it) and is skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "panel.png"
TIMEOUT_MS = 45_000

CELLS = [
    "%load_ext seedmagic",
    "%seed 3",
    "import random, sys\nimport numpy as np\nimport torch\nprint(sys.executable)",
    "%seedpanel",
    "x = torch.rand(3)\ny = np.random.rand(2)",
    "%seed",
]
PANEL_CELL, SEED_CELL = 3, 5

# JupyterLab user settings: render every cell (no windowing), and no news or update notifications.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_server(url: str, token: str, server: subprocess.Popen, log: Path, timeout: float = 40) -> None:
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


def start_lab(tmp_path: Path) -> tuple[subprocess.Popen, str, str, Path]:
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    for name, value in SETTINGS.items():
        path = home / "config" / "lab" / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    nb = new_notebook(
        cells=[new_code_cell(source) for source in CELLS],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
    )
    nbformat.write(nb, root / "panel.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(home / "ipython"),  # no profile of the user's (startup files, extensions) in the kernel
    }
    env.pop("JUPYTER_PATH", None)
    log = tmp_path / "lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",  # `jupyter lab` in this very interpreter (`-m jupyter lab` would run the jupyter-lab script)
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
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


KERNEL_IDLE = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""


def run_cells(page, command: str, active: int) -> None:
    """Make cell ``active`` the active cell and run a notebook command on it, as its menu item does."""
    page.evaluate(
        """([command, active]) => {
            window.jupyterapp.shell.currentWidget.content.activeCellIndex = active;
            window.jupyterapp.commands.execute(command);
        }""",
        [command, active],
    )


def test_the_panel_in_jupyterlab(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    server, url, token, log = start_lab(tmp_path)
    console: list[str] = []
    try:
        wait_for_server(url, token, server, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100}, device_scale_factor=2)
                page.set_default_timeout(TIMEOUT_MS)
                page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
                page.goto(f"{url}/lab/tree/panel.ipynb?token={token}")
                page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)
                # Every cell but the last: the panel highlights what moved in the last cell run.
                run_cells(page, "notebook:run-all-above", SEED_CELL)

                cells = page.locator(".jp-Notebook .jp-Cell")
                # The kernel runs this venv's Python: jupyter_client puts the server's interpreter for `python`.
                expect(cells.nth(2).locator(".jp-OutputArea-output")).to_have_text(sys.executable)
                panel = cells.nth(PANEL_CELL).locator(".widget-vbox").first
                # Refreshed after `x = torch.rand(3); y = np.random.rand(2)`: torch's and NumPy's streams moved.
                expect(panel.locator("tr", has_text="moved")).to_have_count(2)
                expect(panel.locator("tr", has_text="torch 2")).to_contain_text("moved")
                expect(panel.locator("tr", has_text="numpy 2")).to_contain_text("moved")
                for text in (
                    "session seed 3",
                    "mode manual",
                    "seeded with 3 (session)",  # random
                    "seeded with 3 (import)",  # torch and numpy, imported after %seed 3
                    "torch.use_deterministic_algorithms",
                    "torch.backends.cudnn.deterministic",
                    "torch.backends.cuda.matmul.allow_tf32",
                    "PYTHONHASHSEED",
                ):
                    expect(panel).to_contain_text(text)
                page.wait_for_function(KERNEL_IDLE, timeout=TIMEOUT_MS)
                shot = panel.screenshot(path=str(tmp_path / "panel.png"), animations="disabled")
                assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
                if os.environ.get("SEEDMAGIC_UPDATE_SCREENSHOT"):
                    SCREENSHOT.write_bytes(shot)

                panel.get_by_placeholder("seed, e.g. 7").fill("7")
                panel.get_by_role("button", name="Reseed").click()
                expect(panel).to_contain_text("session seed 7")
                expect(panel).to_contain_text("seedmagic: seeded random, numpy, torch with 7")
                panel.get_by_role("button", name="deterministic").click()
                expect(panel).to_contain_text("deterministic mode on")
                row = panel.locator("tr", has_text="torch.use_deterministic_algorithms")
                expect(row.locator("td")).to_have_text(
                    ["torch.use_deterministic_algorithms", "True", "ok", re.compile(".")]
                )

                run_cells(page, "notebook:run-cell", SEED_CELL)
                output = cells.nth(SEED_CELL).locator(".jp-OutputArea-output")
                expect(output).to_contain_text("seedmagic: session seed 7; mode manual; deterministic mode on")
                expect(output).to_contain_text("seeded with 7 (session)")
            finally:
                browser.close()
    except BaseException:
        print("browser console:", *console[-40:], sep="\n")
        print("JupyterLab log:", log.read_text()[-6000:], sep="\n")
        raise
    finally:
        stop_lab(server, url, token)
