"""The Slurm launcher against a real Slurm (a one-node cluster: scripts/slurm_local_cluster.sh, started by .ci/run).

Without Slurm these tests skip; with ``SSL_BENCH_REQUIRE_SLURM=1`` (CI) a missing cluster is a failure."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssl_bench.bench.store import ResultStore
from ssl_bench.methods import METHODS


def _cluster_up() -> bool:
    if shutil.which("sbatch") is None:
        return False
    states = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True).stdout.split()
    return any(state.rstrip("*") in ("idle", "mixed", "allocated") for state in states)


if not _cluster_up():
    if os.environ.get("SSL_BENCH_REQUIRE_SLURM"):
        pytest.fail("SSL_BENCH_REQUIRE_SLURM is set but no Slurm node is up (scripts/slurm_local_cluster.sh)",
                    pytrace=False)
    pytest.skip("needs a Slurm cluster (scripts/slurm_local_cluster.sh starts one as root)", allow_module_level=True)

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SUITE = """
name: {name}
datasets: [synthetic]
subset: {subset}
seeds: [0]
evaluations: [knn]
trained:
  - methods: {methods}
    backbones: [mlp]
    epochs: {epochs}
    batch_size: 50
    method_params: {{projector_dims: [64, 32]}}
{extra}
"""
FAILING_BLOCK = """  - methods: [simclr]
    backbones: [mlp]
    epochs: 1
    batch_size: 50
    lr: 1.0e+30
spectral:
  methods: [classical-mds]
  dim: 8
"""


def _suite(tmp_path: Path, name: str, methods: str = "[simclr, vicreg]", epochs: int = 2, subset: int = 200,
           extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SUITE.format(name=name, methods=methods, epochs=epochs, subset=subset, extra=extra))
    return path


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssl_bench", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def _run(path: Path, tmp_path: Path, tag: str, *flags: str) -> subprocess.CompletedProcess:
    return _cli("suite", "run", str(path), "--store", str(tmp_path / f"{tag}.sqlite"), "--runs-dir",
                str(tmp_path / f"runs-{tag}"), "--no-leaderboard", "--quiet", *flags)


def _records(store: Path) -> dict[str, object]:
    with ResultStore(store) as results:
        return {r.run_id: r for r in results.runs()}


def test_job_array_runs_every_cell_once_with_the_local_launchers_accuracies(tmp_path):
    path = _suite(tmp_path, "grid", extra=FAILING_BLOCK)
    slurm = _run(path, tmp_path, "slurm", "--launcher", "slurm", "--wait")
    assert slurm.returncode == 1, slurm.stderr  # one cell fails on purpose
    summary = json.loads(slurm.stdout)
    assert (summary["done"], summary["failed"]) == (3, 1) and summary["job_id"].isdigit()
    local = _run(path, tmp_path, "local")
    assert json.loads(local.stdout)["done"] == 3
    on_slurm, here = _records(tmp_path / "slurm.sqlite"), _records(tmp_path / "local.sqlite")
    assert len(on_slurm) == 4 and on_slurm.keys() == here.keys()
    for run_id, record in on_slurm.items():
        assert record.status == here[run_id].status and record.attempts == 1
        if record.status == "done":
            assert record.metrics["knn_top1"] == here[run_id].metrics["knn_top1"]
        else:  # the diverging run: its one-line error, as the local launcher records it
            last_line = record.error.strip().splitlines()[-1]
            assert "loss became nan" in last_line and last_line == here[run_id].error.strip().splitlines()[-1]
    outcome = json.loads(next((tmp_path / "runs-slurm" / "grid").glob("*/outcome.json")).read_text())
    assert outcome["scheduler"]["array_job_id"] == summary["job_id"]

    # two collects at once, after the fact: nothing new, nothing duplicated, the database intact
    collect = [subprocess.Popen([sys.executable, "-m", "ssl_bench", "suite", "collect", str(path), "--store",
                                 str(tmp_path / "slurm.sqlite"), "--runs-dir", str(tmp_path / "runs-slurm")],
                                env=ENV, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for process in collect:
        assert json.loads(process.communicate(timeout=120)[0]) == {"suite": "grid", "done": 0, "failed": 0}
    assert _records(tmp_path / "slurm.sqlite").keys() == on_slurm.keys()
    with sqlite3.connect(tmp_path / "slurm.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    status = _cli("suite", "status", str(path), "--store", str(tmp_path / "slurm.sqlite"), "--runs-dir",
                  str(tmp_path / "runs-slurm"))
    assert "3 done, 1 failed; 1 of 4 left" in status.stdout


def _wait_until(condition, what: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _squeue() -> dict[str, str]:
    lines = subprocess.run(["squeue", "--noheader", "--array", "--format=%i %T"], capture_output=True,
                           text=True).stdout.splitlines()
    return dict(line.split() for line in lines)


def test_a_preempted_cell_is_requeued_and_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    path = _suite(tmp_path, "preempt", methods="[vicreg]", epochs=80, subset=1000)
    submitted = _run(path, tmp_path, "slurm", "--launcher", "slurm")
    job_id = json.loads(submitted.stdout)["job_id"]
    runs = tmp_path / "runs-slurm" / "preempt"
    _wait_until(lambda: any(runs.glob("*/metrics.json")), "the first epoch checkpoint")
    status_args = ["suite", "status", str(path), "--store", str(tmp_path / "slurm.sqlite"), "--runs-dir", str(runs.parent)]
    assert "1 running" in _cli(*status_args).stdout  # a collect/status during a running job changes nothing
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)  # Slurm's pre-termination signal
    _wait_until(lambda: _squeue().get(job_id) == "PENDING", "the requeue")
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)  # skip the requeue delay
    waited = _run(path, tmp_path, "slurm", "--launcher", "slurm", "--wait")  # already queued: waits, submits nothing
    assert waited.returncode == 0 and "already queued" in waited.stderr, waited.stderr
    outcome = json.loads(next(runs.glob("*/outcome.json")).read_text())
    assert outcome["status"] == "done" and outcome["scheduler"]["restarts"] == "1"

    assert _run(path, tmp_path, "local").returncode == 0
    preempted = torch.load(next(runs.glob("*/checkpoint.pt")), weights_only=True)
    uninterrupted = torch.load(next((tmp_path / "runs-local" / "preempt").glob("*/checkpoint.pt")), weights_only=True)
    assert preempted["epoch"] == uninterrupted["epoch"] == 80
    for name, weights in uninterrupted["model"].items():
        assert torch.equal(preempted["model"][name], weights), name


def test_a_cell_with_two_tasks_trains_as_one_ddp_run(tmp_path):
    path = _suite(tmp_path, "ddp", methods="[vicreg]", extra="launcher: {tasks_per_node: 2, cpus_per_cell: 1}")
    result = _run(path, tmp_path, "slurm", "--launcher", "slurm", "--wait")
    assert result.returncode == 0, result.stderr
    run_dir = next((tmp_path / "runs-slurm" / "ddp").glob("*/outcome.json")).parent
    assert len(torch.load(run_dir / "checkpoint.pt", weights_only=True)["augment_generators"]) == 2  # two ranks
    assert json.loads((run_dir / "outcome.json").read_text())["status"] == "done"


def _gradients_under_slurm(methods: list[str]) -> dict[str, tuple[float, dict[str, torch.Tensor]]]:
    """Runs in each task of a 2-task Slurm job: the DDP loss and gradients of every method on its half batch."""
    from test_distributed import BATCH, _masks, _model, _views
    from torch.nn.parallel import DistributedDataParallel

    from ssl_bench.bench.launchers.slurm import export_ddp_environment
    from ssl_bench.core import distributed

    export_ddp_environment()
    results = {}
    with distributed.process_group():
        rank, world = distributed.rank(), distributed.world_size()
        for method in methods:
            model = DistributedDataParallel(_model(method))
            rows = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
            loss = model([view[rows] for view in _views(method)], [mask[rows] for mask in _masks(method)])["loss"]
            loss.backward()
            results[method] = (loss.item(), {n: p.grad.clone() for n, p in model.module.named_parameters()
                                             if p.requires_grad})
            del model
    return results


def test_two_slurm_tasks_with_gloo_give_the_loss_and_gradients_of_one_process(tmp_path, monkeypatch):
    import submitit
    from test_distributed import _masks, _model, _views

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # the job imports this module's helpers
    executor = submitit.SlurmExecutor(folder=tmp_path / "slurm")
    executor.update_parameters(ntasks_per_node=2, cpus_per_task=1, time=10)
    job = executor.submit(_gradients_under_slurm, METHODS.names())
    per_rank = job.results()
    assert len(per_rank) == 2
    for method in METHODS.names():
        model = _model(method)
        loss = model(_views(method), _masks(method))["loss"]
        loss.backward()
        for rank_result in per_rank:
            distributed_loss, gradients = rank_result[method]
            assert distributed_loss == pytest.approx(loss.item(), rel=1e-5), method
            for name, param in model.named_parameters():
                if param.requires_grad:
                    torch.testing.assert_close(gradients[name], param.grad, rtol=1e-5, atol=1e-8)


def test_a_cancelled_task_is_lost_in_status_then_failed_with_its_log_by_wait(tmp_path):
    path = _suite(tmp_path, "cancel", methods="[vicreg]", epochs=500, subset=1000)  # would train for minutes
    job_id = json.loads(_run(path, tmp_path, "slurm", "--launcher", "slurm").stdout)["job_id"]
    runs = tmp_path / "runs-slurm"
    _wait_until(lambda: any((runs / "cancel").glob("*/metrics.json")), "the first epoch checkpoint")
    subprocess.run(["scancel", job_id], check=True)  # no warning signal: the task dies without an outcome
    _wait_until(lambda: job_id not in _squeue(), "the job to leave the queue")
    status_args = ["suite", "status", str(path), "--store", str(tmp_path / "slurm.sqlite"), "--runs-dir", str(runs)]
    _wait_until(lambda: "lost" in _cli(*status_args).stdout, "the cell's process to exit", timeout=60)
    assert f"Slurm job {job_id} ended without a result" in _cli(*status_args).stdout
    from ssl_bench.bench.launchers.slurm import submitted_jobs
    from ssl_bench.bench.suite import _wait_for_slurm, cell_jobs, load_suite

    recorded = []
    _wait_for_slurm(cell_jobs(load_suite(path), runs), runs / "cancel", lambda job, outcome: recorded.append(outcome),
                    poll_s=0.1)
    [outcome] = recorded
    assert outcome["status"] == "failed" and submitted_jobs(runs / "cancel")
    assert f"{job_id}_0_log.err" in outcome["error"] or f"{job_id}_log.err" in outcome["error"]
