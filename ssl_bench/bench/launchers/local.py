"""The local launcher: each cell in its own child process, up to ``parallel`` at once, each with its own GPU(s).

A child dies with the launcher (Linux parent-death signal), so a killed suite leaves nothing running; a child that
dies (a crash, the out-of-memory killer) fails its cell only. GPUs are shared out through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

from ssl_bench.bench.cells import CellBusy, read_outcome, run_cell, write_failure
from ssl_bench.bench.launchers import CellJob
from ssl_bench.core.errors import UserError
from ssl_bench.core.forked_rows import die_with_parent

BUSY_EXIT_CODE = 3


def gpu_groups(parallel: int, gpus_per_cell: int) -> list[str | None]:
    """One ``CUDA_VISIBLE_DEVICES`` value per concurrent cell (None: leave the variable alone)."""
    if gpus_per_cell == 0:
        return [None] * parallel
    import torch

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    if parallel * gpus_per_cell > len(devices):
        raise UserError(f"--parallel {parallel} x --gpus-per-cell {gpus_per_cell} needs {parallel * gpus_per_cell} "
                        f"GPUs, {len(devices)} visible; lower --parallel or --gpus-per-cell (0: no GPU assignment)")
    return [",".join(devices[i * gpus_per_cell:(i + 1) * gpus_per_cell]) for i in range(parallel)]


def run_local(jobs: list[CellJob], device: str, parallel: int, gpus_per_cell: int, progress: bool,
              on_outcome: Callable[[CellJob, dict[str, Any] | None], None]) -> None:
    """Run ``jobs``, ``parallel`` at a time; call ``on_outcome(job, outcome)`` as each ends (None: another live
    process holds the cell)."""
    free = gpu_groups(parallel, gpus_per_cell)
    context = multiprocessing.get_context("spawn")
    waiting, running = list(jobs), {}
    child_progress = progress and parallel == 1
    while waiting or running:
        while waiting and free:
            job, gpus = waiting.pop(0), free.pop(0)
            process = context.Process(target=_work, args=(job, device, child_progress, os.getpid(), gpus),
                                      name=f"ssl-bench cell {job.cell.run_id}")
            process.start()
            running[process.sentinel] = (process, job, gpus)
        for sentinel in wait(list(running)):
            process, job, gpus = running.pop(sentinel)
            process.join()
            free.append(gpus)
            on_outcome(job, _outcome_of(job, process.exitcode))


def _outcome_of(job: CellJob, exit_code: int | None) -> dict[str, Any] | None:
    if exit_code == BUSY_EXIT_CODE:
        return None
    outcome = read_outcome(job.run_dir)
    if outcome is None:  # the process died before writing one
        how = f"signal {signal.Signals(-exit_code).name}" if exit_code and exit_code < 0 else f"exit code {exit_code}"
        hint = " (out of memory?)" if exit_code == -signal.SIGKILL else ""
        outcome = write_failure(job.run_dir, f"the cell's process died with {how}{hint}\n")
    return outcome


def _work(job: CellJob, device: str, progress: bool, parent: int, gpus: str | None) -> None:
    """In the child: die with the launcher, see only this cell's GPUs, run the cell."""
    die_with_parent(parent)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        run_cell(job.cell, job.evaluations, job.run_settings, job.run_dir, device, progress)
    except CellBusy as busy:
        print(f"skipped: {job.label}: {busy}", file=sys.stderr)
        sys.exit(BUSY_EXIT_CODE)
