"""A likely cause as it is found in a cell, and the kinds of cause with what each means."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "global-generator",
    "local-generator",
    "clock",
    "os-entropy",
    "hash-order",
    "listdir-order",
    "dataloader-workers",
    "gpu-kernel",
)

WHAT = {
    "global-generator": "draws from a global generator that nothing seeded first",
    "local-generator": "a generator seeded from OS entropy",
    "clock": "reads the clock",
    "os-entropy": "reads OS entropy",
    "hash-order": "set order follows hashes, which differ between processes",
    "listdir-order": "a directory listing comes in the file system's order",
    "dataloader-workers": "DataLoader workers seeded from an unseeded base seed",
    "gpu-kernel": "GPU kernels may be nondeterministic",
}


@dataclass(frozen=True)
class Cause:
    """A likely reason a cell differs: its kind, where the evidence is (cell index, 1-based line), the code, the fix."""

    kind: str
    cell: int
    line: int
    evidence: str
    fix: str

    def __str__(self) -> str:
        return (
            f"cell {self.cell + 1}, line {self.line}: {self.evidence} ({self.kind}: {WHAT[self.kind]}); fix: {self.fix}"
        )
