"""Suites: validation before anything runs, idempotent re-runs, failures recorded, resume after a real kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ssl_bench.bench.store import ResultStore
from ssl_bench.bench.suite import load_suite, run_suite
from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.sources.trained import evaluate_run

TINY_SUITE = """
name: tiny
datasets: [synthetic]
subset: 200
seeds: [0]
evaluations: [knn]
trained:
  methods: [simclr, vicreg]
  backbones: [mlp]
  epochs: {epochs}
  batch_size: 50
  method_params: {{projector_dims: [64, 32]}}
spectral:
  methods: [classical-mds]
  dim: 8
baselines:
  methods: [raw-pixels]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("old, new, message", [
    ("methods: [simclr, vicreg]", "methods: [simclr, vicrge]",
     "unknown method 'vicrge'; choose one of: barlowtwins, byol, dino, ijepa, lejepa, mae, mmcr, mocov3, nnclr, simclr, simsiam, swav, vicreg"),
    ("backbones: [mlp]", "backbones: [mpl]", "unknown backbone 'mpl'"),
    ("epochs: 1", "epochz: 1", "unknown key(s) ['epochz'] in trained"),
    ("methods: [classical-mds]", "methods: [classical-mdss]", "unknown spectral method 'classical-mdss'"),
    ("datasets: [synthetic]", "datasets: [fashion-mnsit]", "unknown dataset 'fashion-mnsit'"),
    ("evaluations: [knn]", "evaluations: [knn, lineaar]", "unknown evaluation 'lineaar'"),
    ("methods: [raw-pixels]", "methods: [raw-pixel]", "unknown baseline 'raw-pixel'"),
])
def test_validation_names_the_mistake_and_the_valid_choices(tmp_path, old, new, message):
    original = TINY_SUITE.format(epochs=1)
    assert len(load_suite(_write(tmp_path, original)).cells) == 4
    assert old in original
    with pytest.raises(UserError) as err:
        load_suite(_write(tmp_path, original.replace(old, new, 1)))
    assert message in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_suite_runs_every_cell_then_skips_them(tmp_path):
    path = _write(tmp_path, TINY_SUITE.format(epochs=1))
    store = tmp_path / "store.sqlite"
    counts = run_suite(path, store, tmp_path / "runs", progress=False)
    assert counts == {"done": 4, "skipped": 0, "failed": 0}
    with ResultStore(store) as results:
        runs = results.runs(suite="tiny")
        assert sorted((r.kind, r.method) for r in runs) == [
            ("baseline", "raw-pixels"), ("spectral", "classical-mds"), ("trained", "simclr"), ("trained", "vicreg")]
        assert all(0 <= r.metrics["knn_top1"] <= 1 and r.protocol["knn"]["k"] == 200 for r in runs)
        trained = [r for r in runs if r.kind == "trained"]
        assert all(len(r.epoch_metrics) == 1 and r.peak_memory_mb > 0 for r in trained)
    assert run_suite(path, store, tmp_path / "runs", progress=False) == {"done": 0, "skipped": 4, "failed": 0}


def test_parallel_cells_give_the_serial_results_and_each_cell_once(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = _write(tmp_path, TINY_SUITE.format(epochs=1))
    serial = run_suite(path, tmp_path / "serial.sqlite", tmp_path / "serial", progress=False)
    parallel = run_suite(path, tmp_path / "parallel.sqlite", tmp_path / "parallel", progress=False,
                         launch={"parallel": 3})
    assert serial == parallel == {"done": 4, "skipped": 0, "failed": 0}
    accuracies = []
    for store in ("serial.sqlite", "parallel.sqlite"):
        with ResultStore(tmp_path / store) as results:
            runs = results.runs(suite="tiny")
            assert len(runs) == 4 and all(r.attempts == 1 for r in runs)
            accuracies.append({r.run_id: r.metrics["knn_top1"] for r in runs})
    assert accuracies[0] == accuracies[1]


def test_each_parallel_cell_gets_its_own_gpus(monkeypatch):
    from ssl_bench.bench.launchers.local import gpu_groups

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    assert gpu_groups(2, 2) == ["4,5", "6,7"]
    assert gpu_groups(4, 1) == ["4", "5", "6", "7"]
    assert gpu_groups(3, 0) == [None, None, None]  # no assignment: each cell sees what the suite sees
    with pytest.raises(UserError, match="needs 6 GPUs, 4 visible"):
        gpu_groups(3, 2)


def test_a_cell_whose_run_directory_is_locked_is_not_run_twice(tmp_path):
    """A live process holds the cell (another suite, a Slurm task): this suite leaves it alone and says so."""
    from ssl_bench.bench.cells import CellBusy, run_dir_lock
    from ssl_bench.bench.suite import load_suite, run_dir_of

    path = _write(tmp_path, TINY_SUITE.format(epochs=1))
    suite = load_suite(path)
    busy = run_dir_of(suite, suite.cells[0], tmp_path / "runs")
    with run_dir_lock(busy):
        with pytest.raises(CellBusy, match="is being run by process"):
            with run_dir_lock(busy):
                pass
        counts = run_suite(path, tmp_path / "store.sqlite", tmp_path / "runs", progress=False)
    assert counts == {"done": 3, "skipped": 1, "failed": 0}
    assert not (busy / "outcome.json").exists()


def test_a_resumed_cell_reports_the_seconds_of_its_restored_epochs_too(tmp_path, monkeypatch):
    """A trained cell interrupted after epoch 1 and run again: its epochs carry attempts 1 and 2, and its wall time
    is the second attempt's plus epoch 1's training seconds (not the second attempt's alone)."""
    import ssl_bench.training.loop as train_module
    from ssl_bench.bench.cells import OUTCOME, earlier_attempts_seconds, run_cell
    from ssl_bench.bench.suite import run_dir_of

    assert earlier_attempts_seconds(None, 0) == earlier_attempts_seconds([{"seconds": 4.0}], 0) == 0.0
    assert earlier_attempts_seconds([{"seconds": 4.0}, {"seconds": 2.5, "attempt": 2}], 1) == 4.0  # pre-attempt record
    assert earlier_attempts_seconds([{"seconds": 4.0, "attempt": 1}, {"seconds": 3.0, "attempt": 2},
                                     {"seconds": 2.0, "attempt": 3}], 2) == 7.0
    # a finished run evaluated again (killed after training): this attempt trained nothing, all epochs are earlier
    assert earlier_attempts_seconds([{"seconds": 4.0, "attempt": 1}, {"seconds": 3.0, "attempt": 1}], 1) == 7.0
    suite = load_suite(_write(tmp_path, TINY_SUITE.format(epochs=2)))
    cell = next(cell for cell in suite.cells if cell.kind == "trained")
    run_dir = run_dir_of(suite, cell, tmp_path / "runs")
    real_bar, calls = train_module.progress_bar, []

    def slow_then_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        time.sleep(1.0)  # inside the epoch's clock: epoch 1 takes over a second, so losing it would show
        return real_bar(*args, **kwargs)

    monkeypatch.setattr(train_module, "progress_bar", slow_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_cell(cell, ("knn",), {}, run_dir, "cpu", progress=False)
    monkeypatch.setattr(train_module, "progress_bar", real_bar)
    started = time.time()
    outcome = run_cell(cell, ("knn",), {}, run_dir, "cpu", progress=False)
    second_attempt_s = time.time() - started
    assert outcome["status"] == "done", outcome.get("error")
    first, second = outcome["epoch_metrics"]
    assert (first["attempt"], second["attempt"]) == (1, 2) and first["seconds"] >= 1.0
    assert outcome["earlier_attempts_s"] == first["seconds"]
    assert second["seconds"] + first["seconds"] <= outcome["wall_time_s"] <= second_attempt_s + first["seconds"]
    assert outcome["wall_time_s"] > second_attempt_s  # the second attempt alone did not take epoch 1's second
    (run_dir / OUTCOME).unlink()  # killed after training, before its outcome: the next attempt only evaluates
    again = run_cell(cell, ("knn",), {}, run_dir, "cpu", progress=False)
    assert again["epoch_metrics"] == outcome["epoch_metrics"]
    assert again["earlier_attempts_s"] == first["seconds"] + second["seconds"] < again["wall_time_s"]


def test_a_failing_cell_is_recorded_and_the_rest_go_on(tmp_path):
    text = TINY_SUITE.format(epochs=1).replace("batch_size: 50", "batch_size: 50\n  lr: 1.0e+30\n  warmup_epochs: 0")
    path = _write(tmp_path, text)
    store = tmp_path / "store.sqlite"
    counts = run_suite(path, store, tmp_path / "runs", progress=False)
    assert counts["failed"] == 2 and counts["done"] == 2
    with ResultStore(store) as results:
        failed = results.runs(suite="tiny", status="failed")
        assert {r.method for r in failed} == {"simclr", "vicreg"}
        assert all("loss became" in r.error for r in failed)


FAULTS = Path(__file__).parent / "fault_injection"


def _suite_command(path: Path, tmp_path: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "ssl_bench", "suite", "run", str(path), "--store", str(tmp_path / f"{name}.sqlite"),
            "--runs-dir", str(tmp_path / f"runs-{name}"), "--no-leaderboard", "--quiet"]


def _our_processes(tmp_path: Path) -> list[int]:
    """Processes whose command line names this test's folder (a suite or a cell worker of it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes() and _alive(int(cmdline.parent.name)):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def _accuracies(store: Path) -> dict[str, float]:
    with ResultStore(store) as results:
        return {r.run_id: r.metrics["knn_top1"] for r in results.runs(suite="tiny", status="done")}


def test_kill_9_at_any_moment_then_rerun_equals_an_uninterrupted_suite(tmp_path):
    """kill -9 of the suite during a checkpoint write, during evaluation and at random moments, several times in a
    row; then a rerun: every cell done once, nothing left running, the store intact, the same accuracies."""
    import random
    import sqlite3

    path = _write(tmp_path, TINY_SUITE.format(epochs=3))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.time()
    subprocess.run(_suite_command(path, tmp_path, "clean"), env=env, check=True, capture_output=True, timeout=600)
    uninterrupted_s = time.time() - started
    reference = _accuracies(tmp_path / "clean.sqlite")
    assert len(reference) == 4

    command = _suite_command(path, tmp_path, "killed")
    faults = [{"SSL_BENCH_KILL_AT": "checkpoint-write"}, {"SSL_BENCH_KILL_AT": "evaluation"}]
    for number, fault in enumerate(faults):
        marker = {"SSL_BENCH_KILL_MARKER": str(tmp_path / f"fired-{number}"), "PYTHONPATH": str(FAULTS)}
        killed = subprocess.run(command, env={**env, **fault, **marker}, capture_output=True, timeout=600)
        assert killed.returncode == -signal.SIGKILL and (tmp_path / f"fired-{number}").exists(), killed.stderr[-500:]
        if number == 0:
            assert list((tmp_path / "runs-killed").rglob(".checkpoint.pt.*.tmp")), "killed half-way through a write"
    rng = random.Random(0)
    for _ in range(3):  # kill -9 of the suite process alone, at a random moment
        victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, uninterrupted_s / 2))
        victim.kill()
        victim.wait()
    deadline = time.time() + 5
    while _our_processes(tmp_path) and time.time() < deadline:  # workers follow their suite (parent-death signal)
        time.sleep(0.05)
    assert not _our_processes(tmp_path), "a worker outlived its suite"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _accuracies(tmp_path / "killed.sqlite") == reference
    with ResultStore(tmp_path / "killed.sqlite") as results:
        runs = results.runs(suite="tiny")
        assert len(runs) == 4 and all(r.status == "done" and r.attempts == 1 for r in runs)
    with sqlite3.connect(tmp_path / "killed.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list((tmp_path / "runs-killed").rglob("*.tmp")), "the next write removes a killed write's leftovers"
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert json.loads(again.stdout)["skipped"] == 4  # nothing runs twice


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``: its children (the fork server), theirs (the cells), and so on."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_kill_9_of_the_suite_process_alone_leaves_no_worker_running(tmp_path):
    """Only the suite's PID is killed (not its process group), as a user's kill -9 does: its cell worker dies too."""
    path = _write(tmp_path, TINY_SUITE.format(epochs=100000))  # the cell would train for hours
    store = tmp_path / "store.sqlite"
    command = [sys.executable, "-m", "ssl_bench", "suite", "run", str(path), "--store", str(store),
               "--runs-dir", str(tmp_path / "runs"), "--no-leaderboard", "--quiet"]
    victim = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list((tmp_path / "runs").rglob("checkpoint.pt")):  # a worker is training
        assert victim.poll() is None and time.time() < deadline, "suite ended before it could be killed"
        time.sleep(0.05)
    workers = _descendants(victim.pid)
    assert len(workers) >= 2, "the training cell runs in a process forked by the fork server"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    deadline = time.time() + 3
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "a worker outlived its suite"


def test_suite_cli_validate_and_errors(tmp_path, capsys):
    path = _write(tmp_path, TINY_SUITE.format(epochs=1))
    assert main(["suite", "validate", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == {"suite": "tiny", "runs": 4}
    assert main(["suite", "run", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_spectral_section_takes_a_list_of_blocks(tmp_path):
    text = TINY_SUITE.format(epochs=1).replace("""spectral:
  methods: [classical-mds]
  dim: 8
""", """spectral:
  - methods: [classical-mds]
    dim: 8
  - methods: [vicreg-closed-form, simclr-closed-form]
    graph: views
    n_views: 4
    features: pca
""")
    cells = load_suite(_write(tmp_path, text)).cells
    spectral = [(c.method, c.hparams.get("graph")) for c in cells if c.kind == "spectral"]
    assert spectral == [("classical-mds", None), ("vicreg-closed-form", "views"), ("simclr-closed-form", "views")]
    with pytest.raises(UserError, match="unknown key"):
        load_suite(_write(tmp_path, text.replace("n_views: 4", "n_view: 4")))


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.parent.glob("suites/*.yaml")), ids=lambda p: p.name)
def test_every_committed_suite_validates(path):
    suite = load_suite(path)
    assert suite.cells and "baseline" in {cell.kind for cell in suite.cells}  # every leaderboard has a reference row


def test_dry_run_prints_the_grid_the_data_and_a_measured_estimate_and_runs_nothing(tmp_path, capsys):
    path = _write(tmp_path, TINY_SUITE.format(epochs=3))
    code = main(["suite", "run", str(path), "--dry-run", "--json", "--device", "cpu", "--store",
                 str(tmp_path / "store.sqlite"), "--runs-dir", str(tmp_path / "runs")])
    plan = json.loads(capsys.readouterr().out)
    assert code == 0 and [c["kind"] for c in plan["cells"]] == ["trained", "trained", "spectral", "baseline"]
    trained = plan["cells"][0]
    assert trained["steps"] == 200 // 50 * 3 and trained["step_s"] > 0
    assert trained["estimate_s"] == pytest.approx(trained["steps"] * trained["step_s"], abs=0.1)
    assert plan["cells"][2]["estimate_s"] is None
    assert plan["datasets"]["synthetic"]["available"] is True
    assert not (tmp_path / "runs").exists() and not (tmp_path / "store.sqlite").exists()


def test_an_encoders_section_ranks_encoders_trained_elsewhere_beside_the_rest(tmp_path):
    import torch
    import torchvision

    from ssl_bench.sources.encoder import evaluate_pretrained

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pth")
    path = _write(tmp_path, """
name: enc
datasets: [synthetic]
subset: 100
evaluations: [knn]
encoders:
  - spec: torchvision:resnet18
    weights: r18.pth
baselines:
  methods: [raw-pixels]
""")
    assert run_suite(path, tmp_path / "store.sqlite", tmp_path / "runs", progress=False)["done"] == 2
    with ResultStore(tmp_path / "store.sqlite") as results:
        [encoder] = results.runs(kind="encoder")
    direct = evaluate_pretrained("torchvision:resnet18", str(tmp_path / "r18.pth"), "synthetic", 100, 0, ["knn"])
    assert encoder.method == "torchvision:resnet18" and encoder.metrics["knn_top1"] == direct["knn_top1"]
    assert encoder.protocol["normalization"] == "imagenet" and encoder.protocol["weights"] == str(tmp_path / "r18.pth")
    (tmp_path / "r18.pth").unlink()
    with pytest.raises(UserError, match="no weights file at .*r18.pth"):
        load_suite(path)


def test_slurm_launcher_without_slurm_is_one_line_and_creates_nothing(tmp_path, monkeypatch, capsys):
    import ssl_bench.bench.launchers.slurm as slurm

    monkeypatch.setattr(slurm.shutil, "which", lambda name: None)
    path = _write(tmp_path, TINY_SUITE.format(epochs=1))
    assert main(["suite", "run", str(path), "--launcher", "slurm", "--store", str(tmp_path / "store.sqlite"),
                 "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.strip() == ("error: --launcher slurm needs Slurm's sbatch on PATH; run on a "
                                               "cluster's login node (or use --launcher local)")
    assert not (tmp_path / "store.sqlite").exists() and not (tmp_path / "runs").exists()


def test_a_spectral_or_baselines_block_sets_its_own_subset_and_the_leaderboard_tells_them_apart(tmp_path):
    from ssl_bench.data.datasets import load_dataset
    from ssl_bench.leaderboard import render_leaderboard

    path = _write(tmp_path, """
name: mixed
datasets: [synthetic]
subset: 100
evaluations: [knn]
spectral:
  - methods: [classical-mds]
    dim: 8
  - methods: [classical-mds]
    dim: 8
    subset: all
baselines:
  - methods: [raw-pixels]
  - methods: [raw-pixels]
    subset: 300
""")
    subsets = sorted((cell.kind, cell.hparams["subset"] or 0) for cell in load_suite(path).cells)
    assert subsets == [("baseline", 100), ("baseline", 300), ("spectral", 0), ("spectral", 100)]
    assert run_suite(path, tmp_path / "store.sqlite", tmp_path / "runs", progress=False)["done"] == 4
    with ResultStore(tmp_path / "store.sqlite") as results:
        n_train = {(run.kind, run.hparams["subset"]): run.protocol["database"] for run in results.runs()}
        render_leaderboard(results, tmp_path / "board", suite="mixed")
    whole = len(load_dataset("synthetic", "train").labels)
    assert n_train == {("spectral", 100): "train split (100 images)", ("spectral", None): f"train split ({whole} images)",
                       ("baseline", 100): "train split (100 images)", ("baseline", 300): "train split (300 images)"}
    table = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "- **Dataset:** synthetic" in table  # one dataset: named once in the header, not in every row
    assert "| classical-mds | spectral | pixels | — | dim=8, subset=all |" in table
    assert "| raw-pixels | baseline | pixels | — | subset=300 |" in table


@pytest.mark.parametrize("value, message", [
    ("1", "subset must be an integer >= 2 or unset (or \"all\" for the whole training split), got 1"),
    ("half", "subset must be an integer >= 2 or unset (or \"all\" for the whole training split), got 'half'"),
])
def test_a_block_subset_out_of_range_is_one_line(tmp_path, value, message):
    path = _write(tmp_path, TINY_SUITE.format(epochs=1).replace("  dim: 8\n", f"  dim: 8\n  subset: {value}\n"))
    with pytest.raises(UserError) as err:
        load_suite(path)
    assert str(err.value) == message


def test_a_cpu_batch_over_the_pixel_budget_is_extrapolated_along_a_line_with_its_intercept(monkeypatch):
    import types

    import ssl_bench.bench.plan as plan

    timed = []

    def fake_step_seconds(config, batch, channels, size, device):  # a step costs 0.05 s + 0.001 s per image
        timed.append(batch)
        return 0.05 + 0.001 * batch

    monkeypatch.setattr(plan, "_step_seconds", fake_step_seconds)
    config = types.SimpleNamespace(batch_size=512)
    cpu = __import__("torch").device("cpu")
    largest = plan.CPU_PIXEL_BUDGET // (3 * 64 * 64)  # 96 images of 3x64x64
    assert plan._cell_step_seconds(config, 3, 64, cpu) == pytest.approx(0.05 + 0.001 * 512)
    assert timed == [largest // 2, largest]  # two batches within the budget, never the cell's 512
    timed.clear()
    assert plan._cell_step_seconds(types.SimpleNamespace(batch_size=64), 3, 32, cpu) == pytest.approx(0.114)
    assert timed == [64]  # within the budget: timed as it is


def test_long_estimates_read_in_minutes_and_hours():
    from ssl_bench.commands.suite import duration

    assert [duration(s) for s in (42, 750, 12024333)] == ["42 s", "12.5 min", "3,340 h"]


def test_the_dry_runs_estimate_is_near_a_measured_run_of_the_same_cell(tmp_path, capsys):
    """A sanity bound, not a speed claim (scripts/bench_dry_run.py measures that): the model-only estimate of a cell
    and the training seconds of the same cell run for real agree within a factor of 4 (it once read 99 s, then 3 s,
    for the same cells)."""
    path = _write(tmp_path, TINY_SUITE.replace("mlp", "convnet").replace("[64, 32]", "[256, 128]").format(epochs=3))
    assert main(["suite", "run", str(path), "--dry-run", "--json", "--device", "cpu"]) == 0
    plan = json.loads(capsys.readouterr().out)
    estimate = next(row["estimate_s"] for row in plan["cells"] if row["method"] == "simclr")
    run_dir = tmp_path / "run"
    assert main(["train", "--method", "simclr", "--dataset", "synthetic", "--subset", "200", "--batch-size", "50",
                 "--epochs", "3", "--backbone", "convnet", "--param", "projector_dims=[256,128]", "--out",
                 str(run_dir), "--trackers", "", "--quiet"]) == 0
    measured = sum(record["seconds"] for record in json.loads((run_dir / "metrics.json").read_text()))
    assert measured / 4 <= estimate <= 4 * measured, (estimate, measured)


def test_a_block_may_name_its_own_seeds(tmp_path):
    path = _write(tmp_path, """
name: seeded
datasets: [synthetic]
seeds: [0]
evaluations: [knn]
spectral:
  - methods: [classical-mds]
    dim: 8
    seeds: [3, 1, 2]
  - methods: [laplacian-eigenmaps]
    dim: 8
""")
    cells = [(cell.method, cell.seed) for cell in load_suite(path).cells]
    assert cells == [("classical-mds", 3), ("classical-mds", 1), ("classical-mds", 2), ("laplacian-eigenmaps", 0)]
    for bad in ("[-1]", "[a]", "1.5"):
        with pytest.raises(UserError, match="seeds"):
            load_suite(_write(tmp_path, (path.read_text()).replace("[3, 1, 2]", bad)))


def test_a_test_subset_scores_every_row_on_the_same_balanced_queries(tmp_path, capsys):
    from ssl_bench.data.datasets import load_dataset, test_split

    full, part = load_dataset("synthetic", "test"), test_split("synthetic", 50)
    assert torch.bincount(part.labels, minlength=10).tolist() == [5] * 10
    rows = {image.numpy().tobytes() for image in full.images}
    assert all(image.numpy().tobytes() in rows for image in part.images)
    path = _write(tmp_path, """
name: part
datasets: [synthetic]
subset: 100
test_subset: 50
evaluations: [knn]
spectral:
  methods: [classical-mds]
  dim: 8
  seeds: [0, 1]
baselines:
  methods: [raw-pixels]
trained:
  methods: [simclr]
  backbones: [mlp]
  epochs: 1
  batch_size: 32
  method_params: {projector_dims: [16, 8]}
""")
    assert {cell.hparams["test_subset"] for cell in load_suite(path).cells} == {50}
    assert run_suite(path, tmp_path / "store.sqlite", tmp_path / "runs", progress=False)["done"] == 4
    with ResultStore(tmp_path / "store.sqlite") as results:
        assert {run.protocol["queries"] for run in results.runs()} == {"test split (50 images)"}
    trained = next((tmp_path / "runs" / "part").glob("*/checkpoint.pt")).parent
    assert evaluate_run(trained, evaluations=["knn"], device="cpu")["n_test"] == 500  # not the suite's cached 50
    # the command line scores a run, a baseline or a closed form on the suite's queries with --test-subset, and a
    # recorded result carries it, so it joins the suite's rows and not the whole-split ones
    with ResultStore(tmp_path / "store.sqlite") as results:
        suite_knn = {(run.kind, run.method): run.metrics["knn_top1"] for run in results.runs() if run.seed == 0}
    given = {"trained": [str(trained)], "baseline": ["--baseline", "raw-pixels", "--subset", "100"],
             "spectral": ["--method", "classical-mds", "--subset", "100", "--dim", "8"]}
    for kind, argv in given.items():
        command = ["spectral"] if kind == "spectral" else ["eval"]
        dataset = [] if kind == "trained" else ["--dataset", "synthetic"]
        assert main([*command, *argv, *dataset, "--test-subset", "50", "--evaluations", "knn", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["protocol"]["test_subset"] == 50 and result["n_test"] == 50
        method = {"trained": "simclr", "baseline": "raw-pixels", "spectral": "classical-mds"}[kind]
        assert result["knn_top1"] == suite_knn[(kind, method)]
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "synthetic", "--subset", "100", "--test-subset",
                 "50", "--evaluations", "knn", "--store", str(tmp_path / "manual.sqlite")]) == 0
    with ResultStore(tmp_path / "manual.sqlite") as results:
        assert [run.hparams for run in results.runs()] == [{"subset": 100, "test_subset": 50}]
    with pytest.raises(UserError, match="larger than the 500 test images"):
        load_suite(_write(tmp_path, path.read_text().replace("test_subset: 50", "test_subset: 501")))
