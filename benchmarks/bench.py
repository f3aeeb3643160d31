"""seedmagic's overhead, measured side by side with what it replaces (``make bench``): runs the benchmarks under
pytest-benchmark.

``python benchmarks/bench.py [--quick] [pytest options]``: ``--quick`` runs a tenth of the rounds, to try the bench
out (the figures are then rough); ``-k census`` runs only the benchmarks whose name holds the word (the table is then
printed, not written to ``benchmarks/results.md``); pytest-benchmark's own options work too (``--benchmark-json``
keeps each row's figures in its ``extra_info``; ``--benchmark-disable`` runs each benchmark one round, as a smoke
test).

The benchmarks are the ``bench_*.py`` files beside this one, grouped by what they measure: seeding (``%seed``,
``%%seeded``, auto mode, ``%load_ext``, snapshots, the census), the tools (verify, sweeps), scale (``--check`` at
deep-learning scale, ``--trace``), the panel (in a second process), and Lightning, last. Every figure is a ratio or a
difference between variants interleaved in one process, with torch's stack formatting stubbed on both sides (the
targets are judged on these) and as torch ships, beside them: see ``ratios.py``. A target that is missed gets its hot
spots underneath the table (``hotspots.py``, or ``-X importtime`` for ``%load_ext``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# Not the test suite's addopts (nbval, its notebooks): the benchmarks alone, in one process.
PYTEST = [str(HERE), "-p", "no:nbval", "-p", "no:xdist", "-o", "addopts=", "-q"]


def main(argv: list[str]) -> int:
    return int(pytest.main([*PYTEST, *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
