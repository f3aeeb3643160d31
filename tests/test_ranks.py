"""Seeds across processes: the rank of a parallel job, %seed --per-rank, torchrun and ipyparallel engines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import run_failing, run_ok
from IPython.core.error import UsageError

import seedmagic
from seedmagic.ranks import Rank, current_rank


def torch_draws(seed: int, n: int = 3) -> list[float]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.rand(n).tolist()


def test_rank_from_the_environment(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert current_rank() is None
    monkeypatch.setenv("RANK", "3")
    assert current_rank() == Rank(3, "RANK")
    assert str(current_rank()) == "rank 3 (from RANK)"


def test_per_rank_derives_the_seed_from_the_rank(ip, monkeypatch, capsys):
    ip.user_ns["torch"] = torch
    monkeypatch.setenv("RANK", "1")
    run_ok(ip, "%seed 0 --per-rank")
    assert "derived from 0 for rank 1 (from RANK)" in capsys.readouterr().out
    derived = seedmagic.derive_seed(0, "rank:1")
    assert seedmagic.current_seed() == derived
    assert run_ok(ip, "torch.rand(3).tolist()") == torch_draws(derived)
    run_ok(ip, "%seed")
    assert f"session seed {derived} (derived from 0 for rank 1 (from RANK))" in capsys.readouterr().out
    run_ok(ip, "%seed 0 -q")
    assert seedmagic.current_seed() == 0 and seedmagic.status().per_rank is None


def test_per_rank_without_a_job_is_rank_0(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    report = seedmagic.seed_all(5, per_rank=True)
    assert report.seed == seedmagic.derive_seed(5, "rank:0")
    assert "rank 0 (no parallel job found)" in str(report)


def test_per_rank_needs_a_seed(ip):
    assert isinstance(run_failing(ip, "%seed --per-rank"), UsageError)


def test_torch_distributed_rank_wins(fresh_python):
    rank = fresh_python(
        """
        import os
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29561", RANK="7", GLOO_SOCKET_IFNAME="lo")
        import torch.distributed as dist
        dist.init_process_group("gloo", rank=0, world_size=1)
        from seedmagic.ranks import current_rank
        found = current_rank()
        dist.destroy_process_group()
        emit([found.rank, found.source])
        """
    )
    assert rank == [0, "torch.distributed"]


JOB = """
import json, os, sys
import torch, torch.distributed as dist
import seedmagic

dist.init_process_group("gloo")
report = seedmagic.seed_all(0, per_rank=True)
result = {"rank": dist.get_rank(), "per_rank": torch.rand(3).tolist(), "source": report.per_rank.rank.source}
seedmagic.seed_all(0)
result["same"] = torch.rand(3).tolist()
with open(os.path.join(sys.argv[1], f"rank{dist.get_rank()}.json"), "w") as out:
    json.dump(result, out)
dist.destroy_process_group()
"""


def test_torchrun_two_processes_get_per_rank_seeds(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    env = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", "--rdzv-backend=c10d",
         "--rdzv-endpoint=127.0.0.1:0", "--nnodes=1", str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    for rank, result in enumerate(results):
        assert result["source"] == "torch.distributed"
        assert result["per_rank"] == torch_draws(seedmagic.derive_seed(0, f"rank:{rank}"))
        assert result["same"] == torch_draws(0)
    assert results[0]["per_rank"] != results[1]["per_rank"]


def test_ipyparallel_engines(ip):
    ipp = pytest.importorskip("ipyparallel")
    cluster = ipp.Cluster(n=2, log_level=40)
    try:
        client = cluster.start_and_connect_sync(activate=True)
        client.wait_for_engines(2, timeout=120)
        engines = client[:]
        run_ok(ip, "%px %load_ext seedmagic")
        run_ok(ip, "%px %seed 0 --per-rank -q")
        run_ok(ip, "%px import torch; x = torch.rand(3).tolist()")
        per_rank = dict(zip(engines.targets, engines.pull("x", block=True), strict=True))
        run_ok(ip, "%px %seed 0 --per-rank -q")
        run_ok(ip, "%px x = torch.rand(3).tolist()")
        again = dict(zip(engines.targets, engines.pull("x", block=True), strict=True))
        run_ok(ip, "%px %seed 0 -q")
        run_ok(ip, "%px x = torch.rand(3).tolist()")
        same = engines.pull("x", block=True)
    finally:
        cluster.stop_cluster_sync()
    assert per_rank == again
    for engine_id, draws in per_rank.items():
        assert draws == torch_draws(seedmagic.derive_seed(0, f"rank:{engine_id}"))
    assert len({tuple(draws) for draws in per_rank.values()}) == 2
    assert same == [torch_draws(0), torch_draws(0)]
