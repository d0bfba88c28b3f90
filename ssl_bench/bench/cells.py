"""One suite cell, run into its own run directory, whoever launches it (a local worker process, a Slurm task).

The run directory holds its own lock (``flock`` on ``.cell.lock``; the kernel drops it when the holder dies, even
by SIGKILL), so after any kill a rerun never runs a cell twice at once. The cell's outcome (metrics, protocol,
hardware, scheduler ids, wall time; or its error) and the cell itself are written atomically as ``outcome.json``; the results store only
ever reads finished outcome files (:meth:`ssl_bench.bench.store.ResultStore.ingest`), so no result travels through a
shared database and a half-written result is never read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import resource
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ssl_bench.bench.provenance import this_process
from ssl_bench.bench.store import RunCell
from ssl_bench.core import distributed
from ssl_bench.core.checkpoint import atomic_write_json
from ssl_bench.core.errors import UserError
from ssl_bench.sources.base import RowRequest
from ssl_bench.training.run_dir import last_attempt, read_history

OUTCOME = "outcome.json"
LOCK = ".cell.lock"
SLURM_IDS = {"job_id": "SLURM_JOB_ID", "array_job_id": "SLURM_ARRAY_JOB_ID", "array_task_id": "SLURM_ARRAY_TASK_ID",
             "restarts": "SLURM_RESTART_COUNT"}


class CellBusy(UserError):
    """Another live process holds the run directory's lock."""


@contextlib.contextmanager
def run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block, or raise :class:`CellBusy` at once if a live process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise CellBusy(f"{run_dir} is being run by {handle.read().strip() or 'another process'}") from None
        handle.truncate(0)
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_running(run_dir: Path) -> bool:
    """True while a live process holds ``run_dir``'s lock."""
    try:
        with run_dir_lock(run_dir):
            return False
    except CellBusy:
        return True


def read_outcome(run_dir: Path) -> dict[str, Any] | None:
    """The cell's finished outcome, or None when there is none (an atomic write is there whole or not at all)."""
    try:
        outcome = json.loads((run_dir / OUTCOME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise UserError(f"{run_dir / OUTCOME} cannot be read ({err}); delete it to run the cell again") from None
    if not isinstance(outcome, dict) or outcome.get("status") not in ("done", "failed"):
        raise UserError(f"{run_dir / OUTCOME} is not a cell outcome; delete it to run the cell again")
    return outcome


def write_failure(run_dir: Path, error: str) -> dict[str, Any]:
    """Record a cell whose process died without an outcome (killed, out of memory) as failed; returns the outcome."""
    outcome = {"status": "failed", "error": error, **_attempt_record(time.time())}
    with run_dir_lock(run_dir):
        atomic_write_json(run_dir / OUTCOME, outcome)
    return outcome


def run_cell(cell: RunCell, evaluations: tuple[str, ...], run_settings: dict[str, dict[str, Any]], run_dir: Path,
             device: str, progress: bool) -> dict[str, Any] | None:
    """Run ``cell`` into ``run_dir`` unless it is done there; write and return its outcome (None on a rank > 0).

    A failed outcome of an earlier attempt is removed first, so a process that dies leaves no stale outcome.
    Exceptions of the cell become a failed outcome; SystemExit / KeyboardInterrupt (a preemption signal, Ctrl-C)
    pass through, leaving the cell to resume from its last checkpoint."""
    run_dir = Path(run_dir)
    lock = run_dir_lock(run_dir) if distributed.is_main_process() else contextlib.nullcontext()
    with lock:
        previous = read_outcome(run_dir)  # every rank decides alike: no rank waits for a group the others skip
        if previous is not None and previous["status"] == "done":
            return previous if distributed.is_main_process() else None
        if distributed.is_main_process():
            (run_dir / OUTCOME).unlink(missing_ok=True)
        started = time.time()
        previous_attempt = last_attempt(read_history(run_dir))
        try:
            outcome: dict[str, Any] = {"status": "done", **_evaluate_cell(cell, evaluations, run_settings, run_dir,
                                                                          device, progress)}
        except Exception:  # noqa: BLE001 - the cell fails, its error is kept with it
            outcome = {"status": "failed", "error": traceback.format_exc()}
        if not distributed.is_main_process():
            return None
        outcome.update(_attempt_record(started, earlier_attempts_seconds(outcome.get("epoch_metrics"),
                                                                             previous_attempt)))
        outcome["peak_memory_mb"] = _peak_memory_mb()
        outcome["cell"] = asdict(cell)  # the outcome file says which run it is (ssl-bench runs import reads it)
        atomic_write_json(run_dir / OUTCOME, outcome)
        return outcome


def earlier_attempts_seconds(epoch_metrics: list[dict[str, Any]] | None, previous_attempt: int) -> float:
    """Training seconds of the epochs a resumed run restored from earlier attempts' checkpoint: the sum of
    ``seconds`` over epoch records whose ``attempt`` is at most ``previous_attempt`` (the last attempt in the run's
    ``metrics.json`` before this one started; 0 for a new run). A finished run evaluated again counts all its
    epochs. Those attempts' start-up and any epoch lost to the interruption are not in it."""
    return math.fsum(record["seconds"] for record in epoch_metrics or [] if record.get("attempt", 1) <= previous_attempt)


def _attempt_record(started: float, earlier_seconds: float = 0.0) -> dict[str, Any]:
    """Where, when and with which code the attempt ran (the store's columns of an attempt). ``wall_time_s``: this
    attempt's wall time plus ``earlier_seconds`` (the restored epochs of a resumed run), so a resumed run reports
    about what it cost in all, not only its last part."""
    scheduler = {key: os.environ[name] for key, name in SLURM_IDS.items() if name in os.environ}
    finished = time.time()
    return {**this_process(), "scheduler": scheduler, "started_at": _iso(started), "finished_at": _iso(finished),
            "wall_time_s": finished - started + earlier_seconds, "earlier_attempts_s": earlier_seconds}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="microseconds")


def row_request(cell: RunCell, run_dir: Path | None = None, device: str = "auto",
                progress: bool = False) -> RowRequest:
    """The source's request for ``cell``: its ``subset`` and ``test_subset`` hparams apart, the others are the
    source's settings."""
    settings = {key: value for key, value in cell.hparams.items() if key not in ("subset", "test_subset")}
    return RowRequest(cell.method, cell.dataset, cell.backbone, cell.hparams.get("subset"), cell.seed, settings,
                      epochs=cell.epochs, run_dir=run_dir, device=device, progress=progress,
                      test_subset=cell.hparams.get("test_subset"))


def _evaluate_cell(cell: RunCell, evaluations: tuple[str, ...], run_settings: dict[str, dict[str, Any]],
                   run_dir: Path, device: str, progress: bool) -> dict[str, Any]:
    """Make and evaluate one cell's row: {"metrics", "protocol", "epoch_metrics"} ({} on a DDP rank > 0)."""
    from ssl_bench.eval import EVALUATIONS
    from ssl_bench.sources.base import SOURCES
    from ssl_bench.sources.rows import evaluate_row

    # a suite's evaluations of an encoder (the probe) apply to the rows that have one
    has_encoder = SOURCES.get(cell.kind).has_encoder
    wanted = [name for name in evaluations if has_encoder or EVALUATIONS.get(name).needs == "features"]
    found = evaluate_row(cell.kind, row_request(cell, run_dir, device, progress), wanted, run_settings)
    if found is None:
        return {}
    result, row = found
    protocol = result.pop("protocol")
    return {"metrics": result, "protocol": protocol, "epoch_metrics": row.history}


def train_config(cell: RunCell, **runtime: Any) -> Any:
    """The :class:`~ssl_bench.training.config.TrainConfig` of a trained cell (validated); ``runtime`` (out, device)
    is overridden by the cell's own settings where they name it."""
    from ssl_bench.sources.trained import train_config as request_config

    return request_config(row_request(cell), **runtime)


def _peak_memory_mb() -> float:
    """Peak resident memory of this process, plus peak CUDA memory when a GPU was used."""
    import torch

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        peak += torch.cuda.max_memory_allocated() / 2**20
    return peak
