"""Benchmarks at deep-learning scale: `%%seeded --check` on a 400 MB tensor and array, a small training loop and a
training step of a 100 MB model, and `--check --trace` on that step, in time and in peak memory.
"""

from __future__ import annotations

import contextlib
import gc
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from baselines import run
from hotspots import cell_hotspots
from IPython.core.interactiveshell import InteractiveShell
from ratios import Timings, compare, flush_history
from report import Table, compared_row, reference_row, signed

pytestmark = pytest.mark.benchmark(group="scale")

# -- %%seeded --check at deep-learning scale ---------------------------------------------------------------------------

CHECK_SLACK_MS = 20.0  # a check of a cell that only reads: at most twice the plain cell's time, and this much more
CHECK_MEMORY = 0.05  # and extra peak memory under this fraction of what the cell reads
BIG = 100_000_000  # float32: 400 MB
TRAINING_SETUP = """
torch.manual_seed(0)
model = torch.nn.Sequential(*[torch.nn.Linear(2500, 2500) for _ in range(4)])  # 25M parameters: 100 MB
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
data = torch.utils.data.TensorDataset(torch.randn(256, 2500), torch.randn(256, 2500))
loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
xb, yb = next(iter(loader))
loss = torch.nn.functional.mse_loss(model(xb), yb)
loss.backward()
opt.step()
"""
TRAINING_STEP = (
    "xb, yb = next(iter(loader))\nloss = torch.nn.functional.mse_loss(model(xb), yb)\nopt.zero_grad()\n"
    "loss.backward()\nopt.step()"
)


def peak_rss_bytes() -> int | None:
    """The process's peak resident memory since it was last reset (Linux: VmHWM, reset by ``clear_refs``)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def extra_peak(call: Callable[[], object]) -> int | None:
    """How far ``call`` raises the process's peak memory over its memory before the call."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the peak starts again from the memory in use now
    except OSError:
        return None
    before = peak_rss_bytes()
    call()
    after = peak_rss_bytes()
    return None if before is None or after is None else max(after - before, 0)


def megabytes(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 1e6:.1f} MB"


SMALL_TRAINING_SETUP = "\n".join(
    (
        "import torch",
        "from torch import nn",
        "from torch.utils.data import DataLoader, TensorDataset",
        "torch.manual_seed(0)",
        "X, y = torch.randn(1024, 20), torch.randn(1024, 1)",
        "loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True)",
        "model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))",
        "opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)",
    )
)
SMALL_TRAINING_LOOP = (
    "for epoch in range(3):\n"
    "    for xb, yb in loader:\n"
    "        loss = nn.functional.mse_loss(model(xb), yb)\n"
    "        opt.zero_grad(); loss.backward(); opt.step()"
)


def quietly(shell: InteractiveShell, source: str, report: dict[str, str] | None = None) -> Callable[[], None]:
    """A cell that must not fail, its output kept from the bench's (and in ``report["text"]``, where given)."""

    def cell() -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
            shell.run_cell(source, store_history=True).raise_error()
        if report is not None:
            report["text"] = out.getvalue() + err.getvalue()

    return cell


READS = {
    "a 400 MB tensor": ("big = torch.ones(BIG)", "s = float(big[:1000].sum())", "del big"),
    "a 400 MB array": ("table = np.ones(BIG, dtype=np.float32)", "s = float(table[:1000].sum())", "del table"),
}
"""What a cell that only reads reads: its setup, its body and the cleanup after it."""


@pytest.mark.parametrize("what", list(READS), ids=lambda what: what.split()[-1])
def test_check_reads(
    what: str, shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table
) -> None:
    """`%%seeded 0 --check` against the plain cell, on a 400 MB tensor or a 400 MB array that the cell only reads."""
    setup, body, cleanup = READS[what]
    nbytes = 4 * BIG
    shell.user_ns["BIG"] = BIG
    run(shell, setup)
    plain, checked = quietly(shell, body), quietly(shell, f"%%seeded 0 --check\n{body}")
    checked()
    memory = {"plain": extra_peak(plain), "check": extra_peak(checked)}
    timings = compare(
        {"check": checked, "plain": plain},
        rounds=rounds(60),
        batch=4,
        warmup=4,
        between=flush_history(shell),
        benchmark=benchmark,
    )
    extra = None if None in memory.values() else memory["check"] - memory["plain"]  # type: ignore[operator]

    def result(times: Timings) -> str:
        share = "" if extra is None else f" ({extra / nbytes:.1%} of what the cell reads)"
        return (
            f"{times.ratio('check', 'plain'):.2f}x the plain cell, {signed(times.diff('check', 'plain', 'plain'))} "
            f"over twice its time; extra peak memory {megabytes(extra)}{share}"
        )

    def ok(times: Timings) -> bool:
        fast = times["check"] <= 2 * times["plain"] + CHECK_SLACK_MS * 1000
        return fast and (extra is None or extra <= CHECK_MEMORY * nbytes)

    row = compared_row(
        f"a `%%seeded 0 --check` cell that only reads {what} (`{body}`) vs the plain cell (both "
        "`shell.run_cell`; peak memory by Linux's VmHWM, reset before each)",
        timings,
        "check",
        "plain",
        result=result,
        target=f"≤ 2x + {CHECK_SLACK_MS:.0f} ms, < {CHECK_MEMORY:.0%} memory",
        ok=ok,
        profile=lambda: cell_hotspots(shell, f"%%seeded 0 --check\n{body}", repeat=20),
    )
    run(shell, cleanup)
    gc.collect()
    table.add(benchmark, row)


def test_check_small_training(
    shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table
) -> None:
    """`--check` on three epochs of a small model over a 1,024-sample DataLoader: tens of thousands of small torch
    operations, where a dispatch mode would cost more than the loop itself."""
    run(shell, SMALL_TRAINING_SETUP)
    plain, checked = quietly(shell, SMALL_TRAINING_LOOP), quietly(shell, f"%%seeded 0 --check\n{SMALL_TRAINING_LOOP}")
    checked()
    timings = compare({"check": checked, "plain": plain}, rounds=rounds(20), batch=1, warmup=1, benchmark=benchmark)
    row = compared_row(
        "a `%%seeded 0 --check` cell that trains a small model for 3 epochs over a DataLoader of 1,024 samples "
        "(`" + SMALL_TRAINING_LOOP.replace("\n", " ").replace("    ", "") + "`; its tensors, under 16 MiB, are copied "
        "before each run and compared after it: no dispatch mode) vs the plain cell",
        timings,
        "check",
        "plain",
        result=lambda times: (
            f"{times.ratio('check', 'plain'):.2f}x the plain cell, {signed(times.diff('check', 'plain', 'plain'))} "
            "over twice its time"
        ),
        target=f"≤ 2x + {CHECK_SLACK_MS:.0f} ms",
        ok=lambda times: times["check"] <= 2 * times["plain"] + CHECK_SLACK_MS * 1000,
        profile=lambda: cell_hotspots(shell, f"%%seeded 0 --check\n{SMALL_TRAINING_LOOP}", repeat=5),
    )
    run(shell, "del X, y, loader, model, opt, epoch, xb, yb, loss")
    gc.collect()
    table.add(benchmark, row)


@pytest.fixture
def training(shell: InteractiveShell) -> Iterator[None]:
    """The 100 MB model, its optimizer and DataLoader in the notebook, for one test."""
    run(shell, TRAINING_SETUP)
    yield
    run(shell, "del model, opt, data, loader, xb, yb, loss")
    gc.collect()


@pytest.mark.usefixtures("training")
def test_check_training_step(
    shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table
) -> None:
    """`%%seeded 0 --check` against the plain cell, on one training step of a 100 MB model with an optimizer and a
    DataLoader in the notebook."""
    from seedmagic.namespace import Start

    started = time.perf_counter()
    start = Start.take(shell.user_ns)
    walk_ms, walked = (time.perf_counter() - started) * 1000, len(start.records)
    start.release()
    plain, checked = quietly(shell, TRAINING_STEP), quietly(shell, f"%%seeded 0 --check\n{TRAINING_STEP}")
    report: dict[str, str] = {}
    check_with_report = quietly(shell, f"%%seeded 0 --check\n{TRAINING_STEP}", report)
    memory = {"plain": extra_peak(plain), "check": extra_peak(check_with_report)}
    assert "seedmagic: reproducible" in report["text"], report["text"]
    timings = compare({"check": checked, "plain": plain}, rounds=rounds(12), batch=1, warmup=1, benchmark=benchmark)
    copied = next((line.strip() for line in report["text"].splitlines() if "note: copied" in line), "")

    def training(times: Timings) -> str:
        extra = None if None in memory.values() else memory["check"] - memory["plain"]  # type: ignore[operator]
        return (
            f"{times.ratio('check', 'plain'):.2f}x the plain cell ({signed(times.diff('check', 'plain', 'plain'))} "
            f"over twice its time); extra peak memory {megabytes(extra)} (the first run's gradients, kept for the "
            f"comparison, and the copies); the report's {copied.removeprefix('note: ')}; walking the notebook's "
            f"{walked:,} objects to watch them took {walk_ms:.1f} ms"
        )

    table.add(
        benchmark,
        reference_row(
            "a `%%seeded 0 --check` cell that takes one training step (`"
            + TRAINING_STEP.replace("\n", "; ")
            + "`) of a 100 MB model (SGD with momentum, a DataLoader in the notebook) vs the plain cell (peak memory "
            "by VmHWM)",
            timings,
            training,
            "check",
            "plain",
        ),
    )


@pytest.mark.usefixtures("training")
def test_trace(shell: InteractiveShell, benchmark: Any, rounds: Callable[[int], int], table: Table) -> None:
    """`%%seeded 0 --check --trace` against `--check` alone, on one training step of the 100 MB model."""
    report: dict[str, str] = {}
    checked, traced = (
        quietly(shell, f"%%seeded 0 --check\n{TRAINING_STEP}"),
        quietly(shell, f"%%seeded 0 --check --trace\n{TRAINING_STEP}", report),
    )
    memory = {"check": extra_peak(checked), "trace": extra_peak(traced)}
    assert "seedmagic: reproducible" in report["text"] and "trace: the" in report["text"], report["text"]
    operations = report["text"].partition("trace: the ")[2].partition(" torch operations")[0]
    timings = compare({"trace": traced, "check": checked}, rounds=rounds(8), batch=1, warmup=1, benchmark=benchmark)

    def result(times: Timings) -> str:
        extra = None if None in memory.values() else memory["trace"] - memory["check"]  # type: ignore[operator]
        return (
            f"{times.ratio('trace', 'check'):.2f}x `--check` alone ({signed(times.diff('trace', 'check'))}); "
            f"extra peak memory {megabytes(extra)}; {operations or '?'} operations traced "
            "per run"
        )

    row = reference_row(
        "a `%%seeded 0 --check --trace` cell that takes one training step (`"
        + TRAINING_STEP.replace("\n", "; ")
        + "`) of the 100 MB model vs the same cell under `--check` alone (peak memory by VmHWM)",
        timings,
        result,
        "trace",
        "check",
    )
    table.add(benchmark, row)
