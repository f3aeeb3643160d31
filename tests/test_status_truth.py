"""What the status says is what Python and the libraries do: the PYTHONHASHSEED verdict, fingerprints that are the
same for the same state everywhere, and libraries installed while the kernel runs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from seedmagic.sources import NumPy, PythonRandom, Source, Torch

ROOT = str(Path(__file__).resolve().parent.parent)


def start(code: str, *, options: tuple[str, ...] = (), hash_seed: str | None = None) -> subprocess.Popen:
    """A new interpreter started with ``options`` and PYTHONHASHSEED (None: unset) running ``code``, which prints
    one JSON value. -E and -I drop PYTHONPATH and the working directory from sys.path: seedmagic is put back."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = hash_seed
    program = f"import json, sys; sys.path.insert(0, {ROOT!r})\n{code}"
    return subprocess.Popen(
        [sys.executable, *options, "-c", program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def results(*processes: subprocess.Popen) -> list:
    values = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        values.append(json.loads(out.splitlines()[-1]))
    return values


# -- PYTHONHASHSEED: the verdict is what the interpreter does ---------------------------------------------------------

HASH_AND_VERDICT = """
from seedmagic.determinism import hash_seed_flag
flag = hash_seed_flag()
print(json.dumps([hash("abc"), flag.ok, flag.value, flag.note]))
"""


@pytest.mark.parametrize(
    "hash_seed",
    [None, "", "0", "1", "123", "4294967295", "random"],
    ids=lambda seed: "PYTHONHASHSEED unset" if seed is None else f"PYTHONHASHSEED={seed!r}",
)
@pytest.mark.parametrize(
    "options",
    [(), ("-E",), ("-I",), ("-R",), ("-E", "-R"), ("-BR",), ("-W", "ignore", "-R"), ("-XR=1",)],
    ids=lambda options: " ".join(("python", *options)),
)
def test_the_hash_seed_verdict_says_fixed_exactly_when_two_interpreters_hash_alike(options, hash_seed):
    (hash_1, ok, value, note), (hash_2, _, _, _) = results(
        start(HASH_AND_VERDICT, options=options, hash_seed=hash_seed),
        start(HASH_AND_VERDICT, options=options, hash_seed=hash_seed),
    )
    assert ok is (hash_1 == hash_2), (value, note)
    if hash_seed not in (None, "", "random") and hash_1 != hash_2:
        assert "ignored" in value  # a seed the interpreter did not take says so, and why
        assert hash_seed in value


# -- fingerprints: one state, one fingerprint, in every process and on every platform ---------------------------------

# The promise is about these stored values: the fingerprints of random.seed(0), np.random.seed(0) and
# torch.manual_seed(0) are the same on every platform and Python version, today and in later releases.
RANDOM_SEED_0 = "6d0f93df"
NUMPY_SEED_0 = "a5e04a5d"
TORCH_SEED_0 = "6d2b5ed2"


def test_the_fingerprints_of_seed_0_are_the_stored_values():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    assert PythonRandom().shown_streams() == {"random": RANDOM_SEED_0}
    assert NumPy().shown_streams() == {"numpy.random": NUMPY_SEED_0}
    assert Torch().shown_streams() == {"cpu": TORCH_SEED_0}


def test_the_random_fingerprint_is_the_same_in_every_process():
    code = """
import random
from seedmagic.sources import PythonRandom
random.seed(0)
print(json.dumps(PythonRandom().shown_streams()))
"""
    fingerprints = results(*(start(code, hash_seed=seed) for seed in ("1", "2", "random")))
    assert fingerprints == [{"random": RANDOM_SEED_0}] * 3


def test_a_cached_gauss_is_part_of_the_random_fingerprint():
    random.seed(0)
    seeded = PythonRandom().shown_streams()
    random.gauss(0, 1)
    words = random.getstate()[1]
    with_cached_gauss = PythonRandom().shown_streams()
    random.gauss(0, 1)  # returns the value the first call cached: no words drawn, the cache emptied
    assert random.getstate()[1] == words
    assert with_cached_gauss != seeded
    assert PythonRandom().shown_streams() not in (with_cached_gauss, seeded)
    random.seed(0)
    assert PythonRandom().shown_streams() == seeded


# -- libraries installed, upgraded or removed while the kernel runs ---------------------------------------------------


class Probe(Source):
    """A library installed by the test: a Source like the units for numpy or torch."""

    name = "probe"
    module = "seedmagic_probe"
    distributions = ("seedmagic-probe",)


def build_wheel(directory: Path, version: str) -> Path:
    """A wheel of the package ``seedmagic-probe`` at ``version``, written by hand (no build backend, no network)."""
    info = f"seedmagic_probe-{version}.dist-info"
    files = {
        "seedmagic_probe/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: seedmagic-probe\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: seedmagic-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = directory / f"seedmagic_probe-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


def environment(directory: Path) -> tuple[Path, Path]:
    """A new virtual environment: its interpreter, for pip to install into, and its site-packages directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120)
    python = directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return python, Path(purelib.stdout.strip())


def pip(*arguments: str, python: Path) -> None:
    """``%pip`` as a notebook runs it: pip in a subprocess of the kernel, changing the environment of ``python``."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--isolated", "--python", str(python), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_library_installed_upgraded_or_removed_while_the_kernel_runs_is_shown_as_it_is_now(tmp_path, monkeypatch):
    python, site = environment(tmp_path / "env")
    monkeypatch.syspath_prepend(str(site))  # the kernel's environment: what pip changes is on sys.path

    def install(version: str) -> None:
        pip("install", "--no-index", "--no-deps", "--upgrade", str(build_wheel(tmp_path, version)), python=python)

    probe = Probe()
    assert not probe.installed()
    assert probe.version() is None

    install("1.0")
    assert probe.installed()
    assert probe.version() == metadata.version("seedmagic-probe") == "1.0"

    install("2.0")
    assert probe.version() == metadata.version("seedmagic-probe") == "2.0"

    try:
        import seedmagic_probe

        install("3.0")
        # The module imported is the one running: its own __version__ is the truth, not the metadata on disk.
        assert metadata.version("seedmagic-probe") == "3.0"
        assert probe.version() == seedmagic_probe.__version__ == "2.0"
    finally:
        sys.modules.pop("seedmagic_probe", None)

    pip("uninstall", "--yes", "seedmagic-probe", python=python)
    assert not probe.installed()
    assert probe.version() is None
