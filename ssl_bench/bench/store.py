"""SQLite results store: one row per run, with its full protocol, hardware and code version.

One file (default ``results/ssl_bench.sqlite``; ``$SSL_BENCH_STORE`` or an explicit path override it), in WAL
mode with a busy timeout so that several processes (two suites at once) can write to it. Every write is one
``BEGIN IMMEDIATE`` transaction: a crash mid-write rolls back and never leaves a half row. A finished run
(status ``done``) is never overwritten unless the caller passes ``replace=True``.

Suites record each cell's finished outcome file in one call, ``store.ingest(cell, outcome)``
(:mod:`ssl_bench.bench.cells`). A run can also be recorded step by step::

    store = ResultStore()
    cell = RunCell(suite="quick", kind="trained", method="simclr", dataset="fashion-mnist", backbone="convnet",
                   hparams={"batch_size": 256}, epochs=10, seed=0)
    if not store.is_done(cell.run_id):
        run_id = store.start_run(cell)          # status "running"; raises RunInProgress if a live process has it
        try:
            ...                                  # train, evaluate
            store.finish_run(run_id, metrics={"knn_top1": 0.81}, epoch_metrics=[{"epoch": 1, "loss": 5.2}],
                             protocol={...}, wall_time_s=12.0, peak_memory_mb=800.0)
        except Exception:
            store.fail_run(run_id, traceback.format_exc())

Metrics are fractions in [0, 1] for accuracies (``knn_top1``, ``knn_top1_k20``, ``linear_top1``); an equivariance
probe is stored as ``metrics["probe"]``, the dict :func:`ssl_bench.sources.probing.probe_run` returns (its ``rows``:
``{"transform", "metric", "theta", "theta_b", "value"}``).
A connection must not cross ``fork``: open one ``ResultStore`` per process.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ssl_bench import __version__
from ssl_bench.bench.provenance import this_process
from ssl_bench.core.errors import UserError
from ssl_bench.core.paths import check_output_file
from ssl_bench.core.settings import STORE_ENV

SCHEMA_VERSION = 3  # 2: kind "encoder"; 3: any registered source kind. Older stores are migrated on open
DEFAULT_STORE = Path("results/ssl_bench.sqlite")
STATUSES = ("running", "done", "failed")
BUSY_TIMEOUT_S = 60.0
EXPORT_FORMATS = ("csv", "json")

_SCHEMA = """
CREATE TABLE runs (
    run_id          TEXT PRIMARY KEY,
    suite           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    method          TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    split           TEXT NOT NULL,
    backbone        TEXT NOT NULL,
    hparams         TEXT NOT NULL,
    epochs          INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    metrics         TEXT,
    protocol        TEXT,
    hardware        TEXT NOT NULL,
    wall_time_s     REAL,
    peak_memory_mb  REAL,
    package_version TEXT NOT NULL,
    git_commit      TEXT NOT NULL,
    error           TEXT,
    attempts        INTEGER NOT NULL,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX runs_by_suite ON runs (suite, status);
CREATE TABLE epoch_metrics (
    run_id  TEXT NOT NULL REFERENCES runs (run_id),
    epoch   INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
"""


class RunInProgress(UserError):
    """The run is marked ``running`` by a process that is still alive on this host."""


@dataclass(frozen=True)
class RunCell:
    """What identifies a run: one cell of a suite's grid. ``run_id`` is a hash of all of its fields."""

    suite: str
    kind: str
    method: str
    dataset: str
    split: str = "test"
    backbone: str = ""
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        kinds = source_kinds()
        if self.kind not in kinds:
            raise UserError(f"unknown run kind {self.kind!r}; choose one of: {', '.join(kinds)}")

    @property
    def run_id(self) -> str:
        """First 16 hex digits of sha256 over the cell's canonical JSON (sorted keys)."""
        return hashlib.sha256(_dumps(asdict(self)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunRecord:
    """One stored run, JSON columns decoded. ``epoch_metrics`` is ordered by epoch."""

    run_id: str
    suite: str
    kind: str
    method: str
    dataset: str
    split: str
    backbone: str
    hparams: dict[str, Any]
    epochs: int
    seed: int
    status: str
    metrics: dict[str, Any]
    epoch_metrics: list[dict[str, Any]]
    protocol: dict[str, Any]
    hardware: dict[str, Any]
    wall_time_s: float | None
    peak_memory_mb: float | None
    package_version: str
    git_commit: str
    error: str | None
    attempts: int
    host: str
    pid: int
    created_at: str
    started_at: str
    finished_at: str | None

    @property
    def cell(self) -> RunCell:
        return RunCell(self.suite, self.kind, self.method, self.dataset, self.split, self.backbone,
                       self.hparams, self.epochs, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_store_path() -> Path:
    """``$SSL_BENCH_STORE`` when set, else ``results/ssl_bench.sqlite`` (relative to the working directory)."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


class ResultStore:
    """The results database.

    Parameters
    ----------
    path : str or Path, optional
        The SQLite file (default ``$SSL_BENCH_STORE`` or ``results/ssl_bench.sqlite``).
    create : bool
        False refuses to create a missing file (for read-only commands).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = tempfile.mkdtemp()
    >>> with ResultStore(pathlib.Path(folder) / "results.sqlite") as store:
    ...     cell = RunCell("demo", "baseline", "raw-pixels", "synthetic", backbone="pixels")
    ...     run_id = store.start_run(cell)
    ...     store.finish_run(run_id, metrics={"knn_top1": 0.81})
    ...     [run] = store.runs(suite="demo")
    >>> run.status, run.metrics, run.run_id == cell.run_id
    ('done', {'knn_top1': 0.81}, True)
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        if not self.path.exists():
            if not create:
                raise UserError(f"no results store at {self.path}; run a suite first (ssl-bench suite run FILE) "
                                f"or point --store / ${STORE_ENV} at an existing store")
            check_output_file(self.path, "--store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.DatabaseError as err:
            raise UserError(f"cannot open the results store {self.path} ({err}); "
                            f"pass --store with another path") from err
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._init_schema()  # first: a file that is not a store of this version is refused untouched
            self._enable_wal()
        except BaseException as err:
            self._conn.close()
            if isinstance(err, sqlite3.DatabaseError):
                raise UserError(f"{self.path} is not a usable SQLite results store ({err}); "
                                f"pass --store with another path") from err
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _enable_wal(self) -> None:
        """Switch to WAL; while another process creates the same file SQLite answers "locked" without waiting
        on the busy handler, so retry until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls the whole transaction back."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _init_schema(self) -> None:
        with self._transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise UserError(f"{self.path} is an SQLite file but not an ssl-bench results store; "
                                    f"pass --store with another path")
                _create_schema(conn)
            elif version in (1, 2):
                _recreate_tables(conn)
            elif version > SCHEMA_VERSION:
                raise UserError(f"results store {self.path} has schema version {version}, newer than this "
                                f"ssl-bench ({__version__}) understands ({SCHEMA_VERSION}); upgrade ssl-bench")
            elif version != SCHEMA_VERSION:
                raise UserError(f"results store {self.path} has unknown schema version {version} "
                                f"(expected {SCHEMA_VERSION}); pass --store with another path")

    # --- writes -------------------------------------------------------------------------------------

    def start_run(self, cell: RunCell, *, replace: bool = False) -> str:
        """Mark ``cell`` as running in this process and return its run_id.

        A failed run, or a running one whose process is gone (a killed suite), is restarted (``attempts`` + 1;
        its last error is kept until the run fails again). A done run raises unless ``replace=True``.
        """
        with self._transaction() as conn:
            self._begin_attempt(conn, cell, replace=replace)
        return cell.run_id

    def finish_run(self, run_id: str, metrics: dict[str, Any], epoch_metrics: list[dict[str, Any]] | None = None,
                   protocol: dict[str, Any] | None = None, wall_time_s: float | None = None,
                   peak_memory_mb: float | None = None) -> None:
        """Store the results of a running run and mark it done, all in one transaction.

        ``epoch_metrics``: one dict per epoch, each with an integer ``"epoch"`` key.
        """
        payload = _results_payload(metrics, epoch_metrics, protocol)
        with self._transaction() as conn:
            status = self._status(conn, run_id)
            if status != "running":
                raise ValueError(f"run {run_id} is {status}, not running; call start_run first")
            self._write_results(conn, run_id, payload, wall_time_s, peak_memory_mb)

    def fail_run(self, run_id: str, error: str) -> None:
        """Mark a running run failed, keeping ``error`` (e.g. the traceback)."""
        with self._transaction() as conn:
            status = self._status(conn, run_id)
            if status != "running":
                raise ValueError(f"run {run_id} is {status}, not running; only a running run can fail")
            self._write_failure(conn, run_id, error, _now())

    def ingest(self, cell: RunCell, outcome: dict[str, Any]) -> bool:
        """Record a cell's finished outcome file (:mod:`ssl_bench.bench.cells`) in one transaction; True if it was new.

        Idempotent: a run already done is left as it is, and a failed outcome already recorded (same
        ``finished_at``) is not counted again, so collecting twice, or from two processes at once, adds nothing."""
        done = outcome["status"] == "done"
        payload = _results_payload(outcome["metrics"], outcome.get("epoch_metrics"), outcome["protocol"]) if done else None
        attempt = {"hardware": _dumps(outcome["hardware"]), "package_version": outcome["package_version"],
                   "git_commit": outcome["git_commit"], "host": outcome["host"], "pid": outcome["pid"],
                   "started_at": outcome["started_at"]}
        with self._transaction() as conn:
            row = conn.execute("SELECT status, finished_at FROM runs WHERE run_id = ?", (cell.run_id,)).fetchone()
            if row is not None and (row["status"] == "done" or row["finished_at"] == outcome["finished_at"]):
                return False
            self._begin_attempt(conn, cell, replace=False, attempt=attempt)
            if payload is not None:
                self._write_results(conn, cell.run_id, payload, outcome.get("wall_time_s"),
                                    outcome.get("peak_memory_mb"), finished_at=outcome["finished_at"])
            else:
                self._write_failure(conn, cell.run_id, outcome["error"], outcome["finished_at"])
        return True

    def _begin_attempt(self, conn: sqlite3.Connection, cell: RunCell, *, replace: bool,
                       attempt: dict[str, Any] | None = None) -> None:
        """Insert or restart the run's row as running; ``attempt``: where and when it ran (default: here, now)."""
        row = conn.execute("SELECT status, host, pid FROM runs WHERE run_id = ?", (cell.run_id,)).fetchone()
        now = _now()
        if attempt is None:
            here = this_process()
            attempt = {**here, "hardware": _dumps(here["hardware"]), "started_at": now}
        if row is None:
            columns = {**_cell_columns(cell), **attempt, "status": "running", "attempts": 1, "created_at": now}
            conn.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         tuple(columns.values()))
            return
        if row["status"] == "done" and not replace:
            raise UserError(f"run {cell.run_id} ({cell.method} on {cell.dataset}, seed {cell.seed}) is already done; "
                            f"it is kept (pass replace=True to overwrite it on purpose)")
        if row["status"] == "running" and _alive_elsewhere(row["host"], row["pid"]):
            raise RunInProgress(f"run {cell.run_id} is being run by process {row['pid']} on {row['host']}; "
                                f"wait for it or stop that process")
        assignments = ", ".join(f"{name} = ?" for name in attempt)
        conn.execute(f"UPDATE runs SET {assignments}, status = 'running', attempts = attempts + 1, metrics = NULL, "
                     f"protocol = NULL, wall_time_s = NULL, peak_memory_mb = NULL, finished_at = NULL "
                     f"WHERE run_id = ?", (*attempt.values(), cell.run_id))
        conn.execute("DELETE FROM epoch_metrics WHERE run_id = ?", (cell.run_id,))

    def _write_results(self, conn: sqlite3.Connection, run_id: str, payload: dict[str, Any],
                       wall_time_s: float | None, peak_memory_mb: float | None, finished_at: str | None = None) -> None:
        conn.execute("UPDATE runs SET status = 'done', metrics = ?, protocol = ?, wall_time_s = ?, "
                     "peak_memory_mb = ?, finished_at = ? WHERE run_id = ?",
                     (payload["metrics"], payload["protocol"], _optional_float(wall_time_s),
                      _optional_float(peak_memory_mb), finished_at or _now(), run_id))
        _insert_epoch_metrics(conn, run_id, payload["epoch_metrics"])

    @staticmethod
    def _write_failure(conn: sqlite3.Connection, run_id: str, error: str, finished_at: str) -> None:
        conn.execute("UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ?",
                     (error, finished_at, run_id))

    @staticmethod
    def _status(conn: sqlite3.Connection, run_id: str) -> str:
        row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserError(f"no run {run_id!r} in the store; list them with: ssl-bench runs list")
        return row["status"]

    # --- reads --------------------------------------------------------------------------------------

    def status(self, run_id: str) -> str | None:
        """The run's status (running, done, failed), or None when the store has no such run."""
        row = self._conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else row["status"]

    def is_done(self, run_id: str) -> bool:
        return self.status(run_id) == "done"

    def get(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (like git)."""
        rows = self._conn.execute("SELECT * FROM runs WHERE substr(run_id, 1, ?) = ? ORDER BY run_id",
                                  (len(run_id), run_id)).fetchall()
        if not rows or not run_id:
            raise UserError(f"no run {run_id!r} in {self.path}; list them with: ssl-bench runs list")
        if len(rows) > 1:
            raise UserError(f"run id prefix {run_id!r} is ambiguous ({', '.join(r['run_id'] for r in rows)}); "
                            f"give more digits")
        return self._records(rows)[0]

    def runs(self, suite: str | None = None, status: str | None = None, kind: str | None = None,
             method: str | None = None) -> list[RunRecord]:
        """Stored runs, filtered, in a fixed order (suite, kind, method, dataset, split, backbone, epochs,
        hparams, seed, run_id)."""
        if status is not None and status not in STATUSES:
            raise UserError(f"unknown run status {status!r}; choose one of: {', '.join(STATUSES)}")
        filters = {"suite": suite, "status": status, "kind": kind, "method": method}
        used = {name: value for name, value in filters.items() if value is not None}
        where = " AND ".join(f"{name} = ?" for name in used) or "1"
        rows = self._conn.execute(f"SELECT * FROM runs WHERE {where} ORDER BY suite, kind, method, dataset, split, "
                                  f"backbone, epochs, hparams, seed, run_id", tuple(used.values())).fetchall()
        return self._records(rows)

    def suites(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT DISTINCT suite FROM runs ORDER BY suite")]

    def _records(self, rows: list[sqlite3.Row]) -> list[RunRecord]:
        ids = [row["run_id"] for row in rows]
        epochs: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self._conn.execute(f"SELECT run_id, metrics FROM epoch_metrics WHERE run_id IN "
                                          f"({', '.join('?' * len(chunk))}) ORDER BY run_id, epoch", chunk):
                epochs[row["run_id"]].append(json.loads(row["metrics"]))
        return [_record(row, epochs[row["run_id"]]) for row in rows]

    def export(self, format: str = "csv", suite: str | None = None) -> str:
        """All runs as CSV (one row per run, metrics flattened to ``metrics.<key>`` columns, JSON for nested
        fields) or JSON (a list of full records; NaN and infinities become null)."""
        records = self.runs(suite=suite)
        if format == "json":
            return json.dumps(replace_non_finite([record.to_dict() for record in records]), indent=2, sort_keys=True,
                              allow_nan=False) + "\n"
        if format == "csv":
            return _export_csv(records)
        raise UserError(f"unknown export format {format!r}; choose one of: {', '.join(EXPORT_FORMATS)}")


# --- helpers ----------------------------------------------------------------------------------------


def _create_schema(conn: sqlite3.Connection) -> None:
    """The current schema's tables and index, stamped with its version (inside the caller's transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def source_kinds() -> list[str]:
    """The kinds a run may have: the registered sources (:mod:`ssl_bench.sources`), read without importing them."""
    from ssl_bench.core.registry import plugin_names

    return plugin_names("ssl_bench.sources")


def _recreate_tables(conn: sqlite3.Connection) -> None:
    """Version 1 or 2 -> 3 inside the caller's transaction: the tables are created afresh without the CHECK on
    ``kind`` that listed the kinds of their day (SQLite cannot alter a CHECK constraint), and every row and per-epoch
    row is copied over as it was."""
    conn.execute("DROP INDEX runs_by_suite")
    for table in ("runs", "epoch_metrics"):
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    _create_schema(conn)
    for table in ("runs", "epoch_metrics"):
        conn.execute(f"INSERT INTO {table} SELECT * FROM {table}_v1")
    for table in ("epoch_metrics", "runs"):
        conn.execute(f"DROP TABLE {table}_v1")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _alive_elsewhere(host: str, pid: int) -> bool:
    """True when ``pid`` is another live process on this host (a running row we must not take over)."""
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _json_default(value: Any) -> Any:
    """numpy scalars/arrays and torch tensors -> Python numbers/lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__} as JSON")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _results_payload(metrics: dict[str, Any], epoch_metrics: list[dict[str, Any]] | None,
                     protocol: dict[str, Any] | None) -> dict[str, Any]:
    """Validate and encode the results before any transaction starts."""
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
    epochs = list(epoch_metrics or [])
    numbers = [row.get("epoch") if isinstance(row, dict) else None for row in epochs]
    if any(not isinstance(number, int) for number in numbers):
        raise ValueError("each per-epoch metrics dict needs an integer 'epoch' key")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"per-epoch metrics repeat an epoch: {numbers}")
    return {"metrics": _dumps(metrics), "protocol": _dumps(protocol or {}),
            "epoch_metrics": [(row["epoch"], _dumps(row)) for row in epochs]}


def _insert_epoch_metrics(conn: sqlite3.Connection, run_id: str, rows: list[tuple[int, str]]) -> None:
    conn.execute("DELETE FROM epoch_metrics WHERE run_id = ?", (run_id,))
    conn.executemany("INSERT INTO epoch_metrics (run_id, epoch, metrics) VALUES (?, ?, ?)",
                     [(run_id, epoch, metrics) for epoch, metrics in rows])


def _cell_columns(cell: RunCell) -> dict[str, Any]:
    columns = asdict(cell)
    columns["hparams"] = _dumps(cell.hparams)
    return {"run_id": cell.run_id, **columns}


def _record(row: sqlite3.Row, epoch_metrics: list[dict[str, Any]]) -> RunRecord:
    values = dict(row)
    for name in ("hparams", "metrics", "protocol", "hardware"):
        values[name] = json.loads(values[name]) if values[name] is not None else {}
    return RunRecord(**values, epoch_metrics=epoch_metrics)


def replace_non_finite(value: Any) -> Any:
    """Replace NaN and infinities by None, recursively (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: replace_non_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_non_finite(item) for item in value]
    return value


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys; lists stay as they are (``{"a": {"b": 1}} -> {"a.b": 1}``)."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


_CSV_LEADING = ("run_id", "suite", "kind", "method", "dataset", "split", "backbone", "epochs", "seed", "status")
_CSV_TRAILING = ("wall_time_s", "peak_memory_mb", "hparams", "protocol", "hardware", "epoch_metrics",
                 "package_version", "git_commit", "attempts", "host", "pid", "created_at", "started_at",
                 "finished_at", "error")


def _export_csv(records: list[RunRecord]) -> str:
    flat = [flatten_metrics(record.metrics) for record in records]
    metric_names = sorted({name for metrics in flat for name in metrics})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*_CSV_LEADING, *(f"metrics.{name}" for name in metric_names), *_CSV_TRAILING])
    for record, metrics in zip(records, flat):
        values = record.to_dict()
        row = [values[name] for name in _CSV_LEADING]
        row += [_csv_cell(metrics.get(name)) for name in metric_names]
        row += [_csv_cell(values[name]) for name in _CSV_TRAILING]
        writer.writerow(row)
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(replace_non_finite(value), sort_keys=True, allow_nan=False)
    return value
