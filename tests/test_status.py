"""The text form of the status, as ``%seed`` prints it: every row in 80 columns, the reasons wrapped under their row."""

from __future__ import annotations

import textwrap

import pytest
import torch
from conftest import run_ok

from seedmagic.engine import ENGINE
from seedmagic.ranks import PerRank, Rank
from seedmagic.status import WIDTH, Summary


def lines_of(text: str) -> list[str]:
    return text.splitlines()


@pytest.mark.parametrize("deterministic", [False, True])
def test_every_line_of_the_status_fits_in_80_columns(ip, capsys, deterministic):
    run_ok(ip, "import random, numpy as np, torch")
    run_ok(ip, "%seed 4294967295" + (" --deterministic --warn-only" if deterministic else ""))
    capsys.readouterr()
    run_ok(ip, "%seed")
    printed = capsys.readouterr().out
    assert printed == str(ENGINE.status()) + "\n"
    assert max(map(len, lines_of(printed))) <= WIDTH, printed


def test_each_reason_is_under_its_flag_and_says_all_of_it(ip):
    run_ok(ip, "import torch\n%seed 0")
    status = ENGINE.status()
    text = lines_of(str(status))
    for flag in status.flags:
        row = next(i for i, line in enumerate(text) if line.startswith(flag.name + " "))
        assert text[row].split()[1:] == [
            *str(flag.value).split(),
            *{True: ["ok"], False: ["NOT", "DETERMINISTIC"], None: ["-"]}[flag.ok],
        ]
        under = []
        for line in text[row + 1 :]:
            if not line.startswith("    "):
                break
            under.append(line.strip())
        assert " ".join(under) == " ".join(flag.note.split())


def test_a_long_fingerprint_or_headline_wraps_instead_of_passing_80_columns():
    status = ENGINE.status()
    torch_status = status.library("torch")._replace(
        streams={"cpu": "0" * 8, **{f"cuda:{i}": f"{i:08x}" for i in range(6)}}
    )
    wide = status._replace(
        seed=4294967295,
        per_rank=PerRank(4294967295, Rank(1023, "torch.distributed")),
        libraries=tuple(torch_status if lib.name == "torch" else lib for lib in status.libraries),
    )
    text = str(wide)
    assert max(map(len, lines_of(text))) <= WIDTH, text
    assert "cuda:5=00000005" in text
    headline = " ".join(line.strip() for line in lines_of(text)[:2])
    assert "derived from 4294967295 for rank 1023 (from torch.distributed)" in headline


def test_the_summary_line_counts_what_the_status_shows(ip):
    run_ok(ip, "import random, numpy as np, torch\n%seed 3 --only torch -q")
    status = ENGINE.status()
    summary = status.summary(("torch",))
    assert summary == Summary(3, "manual", None, 1, 3, sum(f.ok is False for f in status.flags), ("torch",))
    assert str(summary) == (
        f"seedmagic: seed 3; mode manual; last cell -; 1/3 seeded; {summary.not_deterministic} flags NOT "
        "deterministic; drew from torch"
    )
    assert not torch.cuda.is_initialized()


def test_the_text_is_the_same_table_as_before_where_it_fits():
    text = textwrap.dedent(str(ENGINE.status()))
    assert lines_of(text)[0] == "seedmagic: session seed none (use %seed N); mode none; deterministic mode off"
    assert lines_of(text)[1].split() == ["library", "version", "state", "fingerprint"]


def torch_row(ip) -> tuple[str, str]:
    """torch's state in the status, and the notes under its row."""
    import seedmagic

    library = seedmagic.status().library("torch")
    return library.state, library.outside


@pytest.mark.parametrize(
    "reseeding",
    [
        "torch.manual_seed(5)",
        "torch.seed()",
        "torch.random.seed()",
        "torch.set_rng_state(torch.Generator().manual_seed(9).get_state())",
    ],
)
def test_torch_reseeded_behind_seedmagic_is_shown_as_it_is(ip, reseeding):
    """The status does not claim "seeded with 0" for a torch generator the code has reseeded since: it reads
    torch.initial_seed(), as torch itself does, and says what it is. Seeding through seedmagic again, or a cell that
    puts the state back, makes it seedmagic's again."""
    run_ok(ip, "import torch")
    run_ok(ip, "%seed 0 -q")
    assert torch_row(ip) == ("seeded with 0 (session)", "")
    run_ok(ip, reseeding)
    state, note = torch_row(ip)
    assert state == "RESEEDED by the code"
    assert f"torch.initial_seed() is {torch.initial_seed()}, not the 0 seedmagic gave it (session)" in note
    assert torch.initial_seed() != 0
    text = str(ENGINE.status())
    assert "RESEEDED by the code" in text and all(len(line) <= WIDTH for line in text.splitlines())
    run_ok(ip, "%seed 3 -q")
    assert torch_row(ip) == ("seeded with 3 (session)", "")
    # What a cell puts back is seedmagic's seeding again: an isolated cell, torch's own fork_rng.
    run_ok(ip, f"%%seeded 4 --isolate\n{reseeding}")
    run_ok(ip, f"with torch.random.fork_rng(devices=[]):\n    {reseeding}")
    assert torch_row(ip) == ("seeded with 3 (session)", "")


def test_torch_seeded_only_by_the_code_is_not_called_unseeded(ip):
    from seedmagic.sources import TORCH_DEFAULT_SEED

    run_ok(ip, "import torch")
    ENGINE.reset()
    try:
        run_ok(ip, f"torch.manual_seed({TORCH_DEFAULT_SEED})")  # where torch starts: as good as never seeded
        assert torch_row(ip) == ("unseeded", "")
        run_ok(ip, "torch.manual_seed(5)")
        state, note = torch_row(ip)
        assert state == "seeded by the code" and "torch.initial_seed() is 5;" in note
    finally:
        ENGINE.reset()
