"""The SQLite results store: schema version, concurrent writers, atomic writes, no silent overwrites."""

from __future__ import annotations

import csv
import io
import json
import math
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ssl_bench.bench import store as store_module
from ssl_bench.bench.store import SCHEMA_VERSION, ResultStore, RunCell, RunInProgress, default_store_path
from ssl_bench.core.errors import UserError

FORK = multiprocessing.get_context("fork")


def record(store: ResultStore, cell: RunCell, metrics: dict, epoch_metrics: list | None = None,
           protocol: dict | None = None, wall_time_s: float | None = None, peak_memory_mb: float | None = None,
           *, replace: bool = False) -> str:
    """A finished run stored the way a suite stores it: start, then finish."""
    run_id = store.start_run(cell, replace=replace)
    store.finish_run(run_id, metrics, epoch_metrics, protocol, wall_time_s=wall_time_s, peak_memory_mb=peak_memory_mb)
    return run_id


def cell(seed: int = 0, method: str = "simclr", suite: str = "quick") -> RunCell:
    return RunCell(suite=suite, kind="trained", method=method, dataset="fashion-mnist", backbone="convnet",
                   hparams={"lr": 0.1, "batch_size": 256}, epochs=2, seed=seed)


def finish(store: ResultStore, run_id: str, value: float = 0.5) -> None:
    store.finish_run(run_id, metrics={"knn_top1": value}, epoch_metrics=[{"epoch": 1, "loss": 3.0},
                                                                         {"epoch": 2, "loss": 2.0}],
                     protocol={"knn": {"k": 200, "T": 0.1}}, wall_time_s=1.0, peak_memory_mb=10.0)


def raw_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT run_id, status, metrics FROM runs ORDER BY run_id").fetchall()


def test_new_store_has_schema_version_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "store.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match="newer"):
        ResultStore(path)


def test_foreign_sqlite_file_and_non_database_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(UserError, match="not an ssl-bench results store"):
        ResultStore(foreign)
    text = tmp_path / "notes.sqlite"
    text.write_text("these are not the rows you are looking for\n" * 100)
    with pytest.raises(UserError, match="not a usable SQLite"):
        ResultStore(text)


def test_missing_store_is_not_created_for_readers(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no results store"):
        ResultStore(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_store_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_BENCH_STORE", str(tmp_path / "env.sqlite"))
    assert default_store_path() == tmp_path / "env.sqlite"
    with ResultStore() as store:
        assert store.path == tmp_path / "env.sqlite"
    monkeypatch.delenv("SSL_BENCH_STORE")
    assert default_store_path() == Path("results/ssl_bench.sqlite")


def test_run_id_hashes_every_field_of_the_cell() -> None:
    base = cell()
    variants = [RunCell(**{**base.__dict__, name: value}) for name, value in
                [("suite", "other"), ("kind", "spectral"), ("method", "vicreg"), ("dataset", "mnist"),
                 ("split", "train"), ("backbone", "mlp"), ("hparams", {"lr": 0.2, "batch_size": 256}),
                 ("epochs", 3), ("seed", 1)]]
    ids = {base.run_id, *(variant.run_id for variant in variants)}
    assert len(ids) == 1 + len(variants)
    reordered = RunCell(**{**base.__dict__, "hparams": {"batch_size": 256, "lr": 0.1}})
    assert reordered.run_id == base.run_id
    with pytest.raises(UserError, match="unknown run kind"):
        RunCell(suite="s", kind="trainde", method="m", dataset="d")


def test_run_lifecycle_round_trips(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(cell())
        assert store.get(run_id).status == "running" and not store.is_done(run_id)
        finish(store, run_id, value=0.75)
        record = store.get(run_id[:6])
    assert record.status == "done" and record.metrics == {"knn_top1": 0.75}
    assert record.epoch_metrics == [{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0}]
    assert record.protocol == {"knn": {"k": 200, "T": 0.1}} and record.hparams == {"lr": 0.1, "batch_size": 256}
    assert record.cell == cell() and record.attempts == 1 and record.finished_at is not None
    assert record.hardware["cpu_count"] >= 1 and record.git_commit and record.package_version


def test_done_run_is_never_silently_overwritten(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = record(store, cell(), metrics={"knn_top1": 0.8})
        with pytest.raises(UserError, match="already done"):
            record(store, cell(), metrics={"knn_top1": 0.1})
        with pytest.raises(UserError, match="already done"):
            store.start_run(cell())
        with pytest.raises(ValueError, match="not running"):
            store.fail_run(run_id, "late failure")
        assert store.get(run_id).metrics == {"knn_top1": 0.8} and store.get(run_id).status == "done"
        record(store, cell(), metrics={"knn_top1": 0.1}, replace=True)
        assert store.get(run_id).metrics == {"knn_top1": 0.1} and store.get(run_id).attempts == 2


def test_failed_run_keeps_its_error_and_can_be_retried(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(cell())
        store.fail_run(run_id, "Traceback ...\nRuntimeError: out of memory")
        failed = store.get(run_id)
        assert failed.status == "failed" and failed.error.endswith("out of memory")
        assert store.runs(status="failed") == [failed] and store.runs(status="done") == []
        store.start_run(cell())
        finish(store, run_id)
        retried = store.get(run_id)
    assert retried.status == "done" and retried.attempts == 2 and retried.error.endswith("out of memory")


def test_running_row_of_a_live_process_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        run_id = store.start_run(cell())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (sleeper.pid, run_id))
        with ResultStore(path) as store, pytest.raises(RunInProgress):
            store.start_run(cell())
    finally:
        sleeper.kill()
        sleeper.wait()
    with ResultStore(path) as store:  # the process is gone: a killed suite's row is restarted
        store.start_run(cell())
        assert store.get(run_id).attempts == 2 and store.get(run_id).pid == os.getpid()


def _write_runs(path: str, worker: int, count: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    with ResultStore(path) as store:
        for seed in range(count):
            run_id = store.start_run(cell(seed=seed, method=f"method{worker}"))
            finish(store, run_id, value=seed / count)


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    barrier = FORK.Barrier(2)
    workers = [FORK.Process(target=_write_runs, args=(str(path), worker, 50, barrier)) for worker in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0]
    with ResultStore(path) as store:
        runs = store.runs(status="done")
    assert len(runs) == 100 and len({run.run_id for run in runs}) == 100
    assert all(len(run.epoch_metrics) == 2 for run in runs)
    assert {run.method for run in runs} == {"method0", "method1"}


def _fail_after_first_epoch_row(crash: bool):
    real_insert = store_module._insert_epoch_metrics

    def insert(conn: sqlite3.Connection, run_id: str, rows: list[tuple[int, str]]) -> None:
        real_insert(conn, run_id, rows[:1])
        if crash:
            os._exit(3)
        raise RuntimeError("simulated failure in the middle of a write")

    return insert


def test_exception_mid_write_leaves_no_half_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(cell(seed=0))
        monkeypatch.setattr(store_module, "_insert_epoch_metrics", _fail_after_first_epoch_row(crash=False))
        with pytest.raises(RuntimeError, match="simulated"):
            finish(store, run_id)
        monkeypatch.undo()
        half = store.get(run_id)
        assert half.status == "running" and half.metrics == {} and half.epoch_metrics == []
        finish(store, run_id)  # and the store is still writable
        assert store.is_done(run_id)


def _crash_while_finishing(path: str, run_id: str) -> None:
    store_module._insert_epoch_metrics = _fail_after_first_epoch_row(crash=True)
    finish(ResultStore(path), run_id)


def test_killed_process_mid_write_leaves_no_half_row(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with ResultStore(path) as store:
        run_id = store.start_run(cell())
    child = FORK.Process(target=_crash_while_finishing, args=(str(path), run_id))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3
    assert raw_rows(path) == [(run_id, "running", None)]
    with ResultStore(path) as store:
        assert store.get(run_id).epoch_metrics == []
        store.start_run(cell())  # the crashed process is gone: the run restarts
        finish(store, run_id)
        assert store.is_done(run_id)


def test_bad_results_are_rejected_before_writing(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "s.sqlite") as store:
        run_id = store.start_run(cell())
        with pytest.raises(ValueError, match="repeat an epoch"):
            store.finish_run(run_id, {"knn_top1": 0.5}, epoch_metrics=[{"epoch": 1}, {"epoch": 1}])
        with pytest.raises(ValueError, match="integer 'epoch'"):
            store.finish_run(run_id, {"knn_top1": 0.5}, epoch_metrics=[{"loss": 1.0}])
        with pytest.raises(TypeError, match="cannot store"):
            store.finish_run(run_id, {"knn_top1": object()})
        assert store.get(run_id).status == "running"
        with pytest.raises(UserError, match="no run"):
            store.get("ffffffffffffffff")


def test_export_csv_and_json(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    with ResultStore(tmp_path / "s.sqlite") as store:
        record(store, cell(seed=0), metrics={"knn_top1": np.float32(0.5), "probe": {"rotate": 0.25}})
        record(store, cell(seed=1), metrics={"knn_top1": float("nan"), "linear_top1": 0.75})
        failed = store.start_run(cell(seed=2))
        store.fail_run(failed, "boom, with a comma\nand a newline")
        rows = list(csv.DictReader(io.StringIO(store.export("csv"))))
        runs = json.loads(store.export("json"))
        with pytest.raises(UserError, match="unknown export format"):
            store.export("xml")
    assert [row["seed"] for row in rows] == ["0", "1", "2"]
    assert [row["metrics.knn_top1"] for row in rows] == ["0.5", "nan", ""]
    assert rows[0]["metrics.probe.rotate"] == "0.25" and rows[1]["metrics.linear_top1"] == "0.75"
    assert rows[2]["status"] == "failed" and rows[2]["error"] == "boom, with a comma\nand a newline"
    assert json.loads(rows[0]["hparams"]) == {"lr": 0.1, "batch_size": 256}
    assert [run["seed"] for run in runs] == [0, 1, 2] and runs[1]["metrics"]["knn_top1"] is None
    assert math.isclose(runs[0]["metrics"]["knn_top1"], 0.5)


@pytest.mark.parametrize("version, kinds", [(1, "'trained', 'spectral', 'baseline'"),
                                            (2, "'trained', 'spectral', 'baseline', 'encoder'")])
def test_an_older_store_is_migrated_keeping_every_row(tmp_path: Path, version: int, kinds: str) -> None:
    """Versions 1 and 2 listed the kinds of their day in a CHECK; opening one keeps its rows and then accepts every
    registered source's kind (here 'features', which neither knew)."""
    from ssl_bench.bench import store as store_module

    current = tmp_path / "current.sqlite"
    with ResultStore(current) as results:
        run_id = results.start_run(RunCell("s", "trained", "simclr", "synthetic", backbone="mlp", epochs=1))
        results.finish_run(run_id, {"knn_top1": 0.5}, epoch_metrics=[{"epoch": 1, "loss": 2.0}])
    old = tmp_path / f"v{version}.sqlite"
    schema = store_module._SCHEMA.replace("kind            TEXT NOT NULL,",
                                          f"kind            TEXT NOT NULL CHECK (kind IN ({kinds})),")
    with sqlite3.connect(old) as conn:
        conn.executescript(schema)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(f"ATTACH DATABASE '{current}' AS now")
        conn.execute("INSERT INTO runs SELECT * FROM now.runs")
        conn.execute("INSERT INTO epoch_metrics SELECT * FROM now.epoch_metrics")
    with sqlite3.connect(old) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE runs SET kind = 'features'")  # the old schema refuses a kind it did not list
    with ResultStore(old) as results:
        [record] = results.runs()
        assert record.run_id == run_id and record.metrics == {"knn_top1": 0.5} and record.epoch_metrics[0]["loss"] == 2.0
        results.start_run(RunCell("s", "features", "elsewhere", "synthetic", backbone="features"))
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
