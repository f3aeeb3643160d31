"""The record's text form: the few short lines a notebook shows of it, beside the record in its output's bundle."""

from __future__ import annotations

from typing import Any

from .schema import MIME_TYPE, GpuRecord, Record


def summary(record: Record) -> str:
    """The record in a few short lines: what a notebook shows of it."""
    session = record["session"]
    if session["seed"] is None:
        head = "no session seed"
    else:
        head = f"seed {session['seed']}, {session['mode']} mode"
        if session["mode"] == "auto":
            head += f" ({plural(len(record['cells']), 'cell')} seeded)"
    libraries = record["libraries"]
    shown = []
    for name, library in libraries.items():
        if name == "random":
            continue
        details = [str(value) for key, value in library["build"].items() if key in ("blas", "blas_kernel") and value]
        if name == "torch":
            cuda = library["build"].get("cuda")
            details.insert(0, f"CUDA {cuda}" if cuda else "CPU build")
        if library["threads"] is not None:
            details.append(plural(library["threads"], "thread"))
        shown.append(f"{name} {library['version']}" + (f" ({', '.join(details)})" if details else ""))
    shown.append(f"Python {record['python']}")
    flags = record["flags"]
    deterministic = "on" if session["deterministic"] else "off"
    variables = [f"{name} {flags[name]}" for name in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED") if name in flags]
    machine = record["machine"]
    gpus = machine["gpus"]
    gpu = "CUDA not started" if gpus is None else "no GPU" if not gpus else described_gpus(gpus)
    cpu = ", ".join(str(part) for part in (machine["arch"], machine["cpu"]) if part)
    return "\n".join(
        [
            f"seedmagic record (schema {record['version']}): {head}",
            "  " + ", ".join(shown),
            "  " + "; ".join([f"deterministic mode {deterministic}", *variables]),
            f"  {cpu}, {plural(machine['cores'] or 0, 'core')}; {gpu}",
        ]
    )


def plural(count: int, word: str) -> str:
    """``1 core``, ``8 cores``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def described_gpus(gpus: list[GpuRecord]) -> str:
    """The record's GPUs in a few words: the first one's name and compute capability, and how many there are."""
    first = gpus[0]
    many = f"{len(gpus)} x " if len(gpus) > 1 else ""
    return f"{many}{first['name']} (compute capability {first['capability']})"


def bundle(record: Record) -> dict[str, Any]:
    """The output's mime bundle: the record beside its text form."""
    return {"text/plain": summary(record), MIME_TYPE: record}
