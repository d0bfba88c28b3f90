"""The local launcher: each cell in its own child process, up to ``parallel`` at once, each with its own GPU(s).

Children are forked from a fork server (``multiprocessing``'s "forkserver"): a fresh interpreter, started by the
launcher, that imports torch and ssl-bench's row sources once (:data:`PRELOAD`), so a cell does not spend the
seconds of importing them again as a spawned interpreter would (the server never runs a tensor operation, so no
thread pool is forked). Each child watches a pipe whose other end only the launcher holds and kills itself when
it closes, so a suite killed even by SIGKILL leaves nothing running (the server exits once its children have);
a child that dies (a crash, the out-of-memory killer) fails its cell only. GPUs are shared out through
``CUDA_VISIBLE_DEVICES``, set in the child before CUDA starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from ssl_bench.bench.cells import CellBusy, read_outcome, run_cell, write_failure
from ssl_bench.bench.launchers import CellJob
from ssl_bench.core.errors import UserError

BUSY_EXIT_CODE = 3
PRELOAD = ("torch", "faiss", "sklearn.linear_model", "ssl_bench.bench.cells", "ssl_bench.sources.trained",
           "ssl_bench.sources.spectral", "ssl_bench.sources.baseline", "ssl_bench.sources.encoder",
           "ssl_bench.training.loop", "ssl_bench.eval.knn", "ssl_bench.eval.linear")  # what most cells import


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
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD, __name__])
    waiting, running = list(jobs), {}
    child_progress = progress and parallel == 1
    try:
        while waiting or running:
            while waiting and free:
                job, gpus = waiting.pop(0), free.pop(0)
                watched, launcher = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(job, device, child_progress, watched, gpus,
                                                              dict(os.environ)),
                                          name=f"ssl-bench cell {job.cell.run_id}")
                process.start()
                watched.close()
                running[process.sentinel] = (process, job, gpus, launcher)
            for sentinel in wait(list(running)):
                process, job, gpus, launcher = running.pop(sentinel)
                process.join()
                launcher.close()
                free.append(gpus)
                on_outcome(job, _outcome_of(job, process.exitcode))
    finally:
        for _, _, _, launcher in running.values():
            launcher.close()  # a child still running (Ctrl-C, an error here) ends with the suite
        _stop_fork_server()


def _outcome_of(job: CellJob, exit_code: int | None) -> dict[str, Any] | None:
    if exit_code == BUSY_EXIT_CODE:
        return None
    outcome = read_outcome(job.run_dir)
    if outcome is None:  # the process died before writing one
        how = f"signal {signal.Signals(-exit_code).name}" if exit_code and exit_code < 0 else f"exit code {exit_code}"
        hint = " (out of memory?)" if exit_code == -signal.SIGKILL else ""
        outcome = write_failure(job.run_dir, f"the cell's process died with {how}{hint}\n")
    return outcome


def _work(job: CellJob, device: str, progress: bool, launcher: Connection, gpus: str | None,
          environment: dict[str, str]) -> None:
    """In the child: die with the launcher (:func:`_die_with`), take its environment as it is now (the fork
    server's is the one it started with), see only this cell's GPUs, run the cell."""
    _die_with(launcher)
    os.environ.clear()
    os.environ.update(environment)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    try:
        run_cell(job.cell, job.evaluations, job.run_settings, job.run_dir, device, progress)
    except CellBusy as busy:
        print(f"skipped: {job.label}: {busy}", file=sys.stderr)
        sys.exit(BUSY_EXIT_CODE)


def _stop_fork_server() -> None:
    """Stop the fork server once the suite's cells have ended (multiprocessing keeps it for the interpreter's life:
    an idle process left behind by a suite run from Python); its children, if any still run, die with it. The
    stop is CPython's own (``ForkServer._stop``, private, present since 3.8)."""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()


def _die_with(launcher: Connection) -> None:
    """A thread that SIGKILLs this process when the launcher's end of the pipe closes: the launcher died (even by
    SIGKILL: the kernel closes its descriptors), or it gave up on the cell; at once if that already happened."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            launcher.recv()
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="ssl-bench launcher watch", daemon=True).start()
