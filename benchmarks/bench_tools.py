"""Benchmarks of the tools: `seedmagic verify` against a plain nbclient run, and `%%seeds` sweeps against the cells
run by hand.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hotspots import cell_hotspots
from IPython.core.interactiveshell import InteractiveShell
from ratios import Timings, compare, flush_history
from report import Figures, Row, Table, compared_row, signed, us, verdict

pytestmark = pytest.mark.benchmark(group="tools")

# Targets.
VERIFY_RATIO = 1.3  # seedmagic verify (two runs at once) against one plain nbclient run of the same notebook
VERIFY_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "00-quickstart.ipynb"
SWEEP_RATIO = 1.05  # a %%seeds sweep of n seeds against the cell run n times by hand (%%seeded k --isolate)

# -- seedmagic verify --------------------------------------------------------------------------------------------------

# A notebook that trains a small torch model on made-up data (about ten seconds on two cores): seeded, so it reproduces.
TRAINING_CELLS = (
    "%load_ext seedmagic\n%seed 0",
    "import torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset",
    "X = torch.randn(8192, 64)\ny = torch.sin(X[:, :8].sum(1, keepdim=True)) + 0.1 * torch.randn(8192, 1)\n"
    "loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)",
    "model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))\n"
    "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
    "for epoch in range(8):\n    total = 0.0\n    for xb, yb in loader:\n        optimizer.zero_grad()\n"
    "        loss = nn.functional.mse_loss(model(xb), yb)\n        loss.backward()\n        optimizer.step()\n"
    '        total += loss.item() * len(xb)\n    print(f"epoch {epoch}: loss {total / len(X):.6f}")',
)


def verify_row(notebook: Path, about: str, *, rounds: int, benchmark: Any) -> Row:
    """``seedmagic verify`` on ``notebook`` against one plain nbclient run of it, each from a fresh kernel, one of
    each per round (the kernels are other processes: stubbing torch's stack formatting here changes nothing in
    them)."""
    import nbformat
    from nbclient import NotebookClient

    from seedmagic.notebook.verify import schedule, verify

    def plain() -> None:
        nb = nbformat.read(notebook, as_version=4)
        NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(notebook.parent)}}).execute()

    def verified() -> None:
        assert verify(notebook).reproducible, "the notebook does not reproduce"

    timings = compare(
        {"verify": verified, "plain": plain},
        rounds=rounds,
        batch=1,
        warmup=0,
        shipped=False,
        probes=False,
        benchmark=benchmark,
    ).stubbed
    ratio = timings.ratio("verify", "plain")
    seconds = {name: timings[name] / 1e6 for name in ("verify", "plain")}
    shared = schedule()
    how = shared.note or "ran both at once, each kernel with the threads its environment gives"
    figures = Figures(
        f"{seconds['verify']:.2f} s",
        f"{seconds['plain']:.2f} s",
        f"{ratio:.2f}x one plain run (two runs, each in a fresh kernel; {how}; {shared.cores} usable of "
        f"{os.cpu_count()} CPU cores; median of {len(timings.samples['plain'])} rounds)",
    )
    return Row(
        f"`seedmagic verify {notebook.name}` ({about}; two runs and the comparison) vs one plain nbclient run of "
        "the same notebook in a fresh kernel",
        figures,
        Figures("same", "same", "the same run: torch's stack formatting is the kernels' own"),
        f"≤ {VERIFY_RATIO:.1f}x",
        verdict(ratio <= VERIFY_RATIO),
    )


def test_verify(benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """``seedmagic verify`` on a teaching notebook against one plain nbclient run of it."""
    table.add(
        benchmark, verify_row(VERIFY_NOTEBOOK, "a teaching notebook", rounds=max(rounds(6), 2), benchmark=benchmark)
    )


def test_verify_training(benchmark: Any, rounds: Callable[[int], int], table: Table, tmp_path: Path) -> None:
    """``seedmagic verify`` on a notebook that trains a small torch model against one plain nbclient run of it."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(cells=[new_code_cell(source) for source in TRAINING_CELLS], metadata={"kernelspec": kernelspec})
    path = tmp_path / "train-torch.ipynb"
    nbformat.write(nb, path)
    row = verify_row(path, "trains a small torch model, 8 epochs", rounds=max(rounds(6), 2), benchmark=benchmark)
    table.add(benchmark, row)


# -- sweeps ------------------------------------------------------------------------------------------------------------

SWEEP_SEEDS = 10
SWEEP_BODY = "x = torch.rand(1000)\nfloat(x.mean())"


def test_sweep(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """One `%%seeds 0-9` cell (its table shown as a terminal shows it) against ten `%%seeded k --isolate` cells."""
    sweep_cell = f"%%seeds 0-{SWEEP_SEEDS - 1}\n{SWEEP_BODY}"
    hand_cells = [f"%%seeded {seed} --isolate\n{SWEEP_BODY}" for seed in range(SWEEP_SEEDS)]

    formatter = shell.display_formatter

    def quietly(call: Callable[[], object]) -> None:
        # Shown as a terminal shows it (text only: the HTML form and its plot are a notebook's, timed apart), and
        # written for the user, not to the bench's output: the table, the Out values, the progress line.
        active, formatter.active_types = formatter.active_types, ["text/plain"]
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                call()
        finally:
            formatter.active_types = active

    def swept() -> None:
        quietly(lambda: shell.run_cell(sweep_cell, store_history=True))

    def by_hand() -> None:
        quietly(lambda: [shell.run_cell(cell, store_history=True) for cell in hand_cells])

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sweep = shell.run_cell(sweep_cell, store_history=True).result
        hand = [shell.run_cell(cell, store_history=True).result for cell in hand_cells]
    assert sweep.values == hand, "the sweep does not give what the cells by hand give"
    drawn = []
    for _ in range(5):
        started = time.perf_counter()
        sweep._repr_html_()
        drawn.append(time.perf_counter() - started)
    html_ms = statistics.median(drawn) * 1000
    timings = compare(
        {"sweep": swept, "by hand": by_hand},
        rounds=rounds(60),
        batch=2,
        warmup=3,
        between=flush_history(shell),
        benchmark=benchmark,
    )

    def result(times: Timings) -> str:
        return (
            f"{times.ratio('sweep', 'by hand'):.2f}x the {SWEEP_SEEDS} cells by hand "
            f"({signed(times.diff('sweep', 'by hand'))} per sweep, {us(times['by hand'] / SWEEP_SEEDS)} per cell by "
            f"hand); in a notebook the sweep's HTML form with its plot (matplotlib) adds {html_ms:.1f} ms once per "
            "sweep, not per seed (median of 5)"
        )

    table.add(
        benchmark,
        compared_row(
            f"a `%%seeds 0-{SWEEP_SEEDS - 1}` cell (`{SWEEP_BODY!r}`, its table shown as a terminal shows it) vs the "
            "same body as "
            f"{SWEEP_SEEDS} `%%seeded k --isolate` cells (all `shell.run_cell`; same values, checked)",
            timings,
            "sweep",
            "by hand",
            result=result,
            target=f"≤ {SWEEP_RATIO:.2f}x",
            ok=lambda times: times.ratio("sweep", "by hand") <= SWEEP_RATIO,
            profile=lambda: cell_hotspots(shell, sweep_cell, repeat=50),
        ),
    )
