"""The record of what a session's random numbers depend on: ``%seed --record`` in a real InteractiveShell, the value
``seedmagic.record()`` returns, a stored record of today's schema, and what differs between two records."""

from __future__ import annotations

import copy
import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_ok
from IPython.core.displaypub import DisplayPublisher

import seedmagic
from seedmagic.arguments import derive_seed
from seedmagic.engine import ENGINE
from seedmagic.records import (
    MIME_TYPE,
    SCHEMA_VERSION,
    Change,
    RecordError,
    build,
    cell_seed_change,
    changes,
    read,
    record_key,
    source_key,
    summary,
)

STORED = Path(__file__).parent / "data" / "record-v1.json"


class Published(DisplayPublisher):
    """A front end's display publisher: keeps what is shown and updated, with its display id."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shown: list[tuple[dict, str | None, bool]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.shown.append((data, (transient or {}).get("display_id"), update))


@pytest.fixture
def front_end(ip):
    """The shell, as a notebook front end sees its displays."""
    saved = ip.display_pub
    ip.display_pub = Published(shell=ip)
    ip.user_ns.update(torch=torch, np=np)
    try:
        yield ip
    finally:
        ip.display_pub = saved


def records(shell) -> list[tuple[dict, str | None, bool]]:
    return [(data[MIME_TYPE], display_id, update) for data, display_id, update in shell.display_pub.shown]


def test_seed_record_shows_the_record_beside_its_text(front_end, capsys):
    run_ok(front_end, "%seed 0 --record")
    assert "seedmagic: seeded" in capsys.readouterr().out  # the report line, as without --record
    ((data, display_id, update),) = front_end.display_pub.shown
    assert update is False and display_id.startswith("seedmagic-record-")
    assert set(data) == {"text/plain", MIME_TYPE}
    record = data[MIME_TYPE]
    assert record == read(json.loads(json.dumps(record)))  # JSON, and a record this seedmagic reads
    assert record["version"] == SCHEMA_VERSION
    assert data["text/plain"] == summary(record)
    assert data["text/plain"].startswith("seedmagic record (schema 1): seed 0, manual mode")
    assert record["session"]["seed"] == 0 and record["session"]["mode"] == "manual"
    assert record["libraries"]["torch"]["version"] == torch.__version__
    assert record["libraries"]["numpy"]["version"] == np.__version__
    assert record["libraries"]["torch"]["threads"] == torch.get_num_threads()
    assert record["libraries"]["torch"]["build"]["cuda"] == torch.version.cuda
    assert record["python"] == platform.python_version()
    assert record["flags"]["torch.use_deterministic_algorithms"] is torch.are_deterministic_algorithms_enabled()
    assert record["flags"]["CUBLAS_WORKSPACE_CONFIG"] == os.environ.get("CUBLAS_WORKSPACE_CONFIG", "unset")
    assert record["machine"]["gpus"] is None  # CUDA was not started: not read


def test_the_record_is_updated_under_its_display_id_when_a_cell_changes_it(front_end):
    run_ok(front_end, "%seed 0 --auto --record -q")
    ((first, display_id, _),) = records(front_end)
    assert first["cells"] == []
    run_ok(front_end, "%seed --deterministic -q")
    front_end.run_cell("x = torch.rand(2)", cell_id="cell-a")
    front_end.run_cell("y = torch.rand(2)")  # known by its source
    shown = records(front_end)
    assert all(each[1] == display_id for each in shown) and all(each[2] for each in shown[1:])
    last = shown[-1][0]
    assert last == seedmagic.record()
    assert last["session"]["deterministic"] is True
    assert last["flags"]["torch.use_deterministic_algorithms"] is torch.are_deterministic_algorithms_enabled() is True
    assert last["cells"] == [
        {"key": "cell-id:cell-a", "seed": derive_seed(0, "cell-id:cell-a")},
        {"key": source_key("y = torch.rand(2)"), "seed": derive_seed(0, "source:y = torch.rand(2)")},
    ]
    # A cell that changes nothing in it publishes nothing.
    count = len(front_end.display_pub.shown)
    run_ok(front_end, "%seed --no-auto -q")
    run_ok(front_end, "1 + 1")
    assert len(front_end.display_pub.shown) == count + 1  # the mode changed once, then nothing


def test_seed_record_alone_shows_the_record_and_not_the_status(front_end, capsys):
    run_ok(front_end, "%seed --record")
    assert capsys.readouterr().out == ""
    ((record, _, _),) = records(front_end)
    assert record["session"]["seed"] is None and record["session"]["mode"] == "none"
    assert summary(record).startswith("seedmagic record (schema 1): no session seed")


def test_a_terminal_prints_the_record_once_and_no_updates(ip, capsys):
    run_ok(ip, "%seed 0 --record -q")
    printed = capsys.readouterr().out
    assert printed.startswith("seedmagic record (schema 1): seed 0, manual mode")
    run_ok(ip, "import torch")
    run_ok(ip, "torch.manual_seed(3)")
    assert "seedmagic record" not in capsys.readouterr().out


def test_unloading_stops_the_updates(ip):
    from seedmagic.records import shown as _record

    run_ok(ip, "%seed 0 --record -q")
    live = _record._live
    assert live is not None and live.after_cell in ip.events.callbacks["post_run_cell"]
    ip.run_line_magic("unload_ext", "seedmagic")
    try:
        assert live.after_cell not in ip.events.callbacks["post_run_cell"]
        assert _record._live is None
    finally:
        ip.run_line_magic("load_ext", "seedmagic")


def test_help_names_the_record():
    from seedmagic.magics import SeedMagics

    assert "--record" in SeedMagics.seed_magic.parser.format_help()


def test_record_reads_without_importing_a_framework_or_starting_cuda(fresh_python):
    got = fresh_python(
        """
        import sys
        import seedmagic
        record = seedmagic.record()
        before = sorted(name for name in ("torch", "numpy", "tensorflow", "jax", "cupy") if name in sys.modules)
        import torch
        with_torch = seedmagic.record()
        emit([before, sorted(record["libraries"]), with_torch["libraries"]["torch"]["version"],
              torch.cuda.is_initialized(), with_torch["machine"]["gpus"]])
        """
    )
    assert got == [[], ["random"], torch.__version__, False, None]


def test_auto_mode_keys_are_stored_as_ids_or_source_digests():
    assert record_key("cell-id:abc") == "cell-id:abc"
    assert record_key("source:x = 1\n") == source_key("x = 1") == source_key("\nx = 1  \n")
    assert record_key("source:x = 1").startswith("source-blake2b:") and len(record_key("source:x = 1")) == 31


# -- the stored record and what differs -----------------------------------------------------------------------------


def test_a_stored_record_of_todays_schema_is_read():
    stored = json.loads(STORED.read_text())
    record = read(stored)
    assert record["version"] == SCHEMA_VERSION == 1
    assert record["machine"]["gpus"][0]["name"] == "NVIDIA A100-SXM4-40GB"
    text = summary(record)
    assert "torch 2.5.1+cu121 (CUDA 12.1, 8 threads)" in text
    assert "NVIDIA A100-SXM4-40GB (compute capability 8.0)" in text
    # Today's record has every field the stored one has, and of the same kinds: the schema has not moved.
    today = build(ENGINE)
    assert set(today) == set(record)
    for field in ("session", "machine"):
        assert set(today[field]) == set(record[field])  # type: ignore[literal-required]
    assert set(today["libraries"]["torch"]) == set(record["libraries"]["torch"])


def test_a_stored_gpu_record_against_this_machine_names_each_difference():
    import seedmagic.engine

    saved = read(json.loads(STORED.read_text()))
    seedmagic.seed_all(0)
    now = build(seedmagic.engine.ENGINE)
    texts = [change.text for change in changes(saved, now)]
    assert (
        f"torch 2.5.1+cu121 then {torch.__version__}: torch does not promise the same random numbers across releases"
        in texts
    )
    if now["machine"]["gpus"] is None:
        assert "saved on an NVIDIA A100-SXM4-40GB (compute capability 8.0) with TF32 allowed, run on a CPU" in texts
    if now["machine"]["gpus"] is None:
        # What only a GPU reads (cuBLAS, cuDNN, TF32) is said by the GPU's line; the CPU's kernels by the CPU's.
        assert not any("CUBLAS" in text or "cudnn" in text or "SIMD" in text for text in texts)
        assert "torch.use_deterministic_algorithms was True when saved, False now" in texts
        assert "torch's CUDA: 12.1 when saved, none now" in texts
    assert (
        f"numpy 1.26.4 then {np.__version__}: NumPy promises only its legacy np.random.seed stream across releases"
        in texts
    )
    assert "deterministic mode on when saved, off now" in texts
    assert "auto mode when saved, manual now" in texts


def test_changes_name_only_what_differs_and_the_libraries_it_concerns():
    seedmagic.seed_all(0)
    saved = build(ENGINE)
    assert changes(saved, copy.deepcopy(saved)) == ()
    now = copy.deepcopy(saved)
    now["flags"]["torch.use_deterministic_algorithms"] = True
    now["flags"]["torch.backends.cudnn.benchmark"] = True  # a GPU's setting, and neither run had one: not named
    now["libraries"]["torch"]["threads"] = 64
    now["session"]["seed"] = 7
    found = changes(saved, now)
    assert [change.kind for change in found] == ["session", "threads", "flag"]
    session, threads, flag = found
    assert session.text == "the session seed was 0 when saved, 7 now" and session.libraries == ()
    assert threads.libraries == ("torch",) and threads.text.startswith(
        f"torch used {saved['libraries']['torch']['threads']} thread"
    )
    assert flag == Change("flag", "torch.use_deterministic_algorithms was False when saved, True now", ("torch",))
    assert flag.concerns({"torch", "numpy"}) and not flag.concerns({"numpy"}) and session.concerns(set())


def test_a_gpu_setting_is_named_where_both_runs_had_a_gpu():
    saved = read(json.loads(STORED.read_text()))
    now = copy.deepcopy(saved)
    now["flags"]["CUBLAS_WORKSPACE_CONFIG"] = "unset"
    now["machine"]["gpus"] = [{"name": "NVIDIA H100 80GB HBM3", "capability": "9.0"}]
    assert [(change.kind, change.text) for change in changes(saved, now)] == [
        (
            "gpu",
            "saved on an NVIDIA A100-SXM4-40GB (compute capability 8.0) with TF32 allowed, run on an NVIDIA H100 "
            "80GB HBM3 (compute capability 9.0) with TF32 allowed",
        ),
        ("flag", "CUBLAS_WORKSPACE_CONFIG was :4096:8, now unset"),
    ]


def test_another_seed_auto_mode_gave_a_cell_is_named():
    seedmagic.seed_all(0, auto=True)
    saved = build(ENGINE)
    saved["cells"] = [{"key": "cell-id:a", "seed": derive_seed(0, "cell-id:a")}]
    now = copy.deepcopy(saved)
    now["cells"] = [{"key": "cell-id:a", "seed": derive_seed(1, "cell-id:a")}]
    change = cell_seed_change(saved, now, "cell-id:a")
    assert change is not None and change.kind == "cell-seed"
    assert str(derive_seed(0, "cell-id:a")) in change.text and str(derive_seed(1, "cell-id:a")) in change.text
    assert cell_seed_change(saved, saved, "cell-id:a") is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(version=2), "written by a newer seedmagic: record schema 2, this one reads 1"),
        (lambda r: r.update(version="1"), 'its version is "1", not a number'),
        (lambda r: r.pop("session"), "'session' is missing, not an object"),
        (lambda r: r["session"].update(seed="zero"), 'session.seed is "zero", not an integer'),
        (lambda r: r.update(cells=[{"key": 3}]), 'a cell is {"key": 3}, not a key and a seed'),
        (lambda r: r.update(schema="other"), "its schema is \"other\", not 'seedmagic.record'"),
        (lambda r: r["machine"].update(gpus="A100"), 'machine.gpus is "A100", not a list'),
    ],
)
def test_a_record_that_cannot_be_read_is_one_line(edit, message):
    record = json.loads(STORED.read_text())
    edit(record)
    with pytest.raises(RecordError) as raised:
        read(record)
    assert str(raised.value) == message


@pytest.mark.parametrize(("data", "message"), [([1, 2], "a list, not a JSON object"), ("{not json", "not JSON")])
def test_what_is_not_a_record_is_one_line(data, message):
    with pytest.raises(RecordError, match=f"^{message}$"):
        read(data)


def test_a_record_stored_as_json_text_is_read():
    assert read(STORED.read_text()) == json.loads(STORED.read_text())
