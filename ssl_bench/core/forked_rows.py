"""Rows of one float64 matrix computed by forked worker processes into shared memory, for CPU-bound work that holds
the GIL (scipy's Dijkstra): ``workers`` processes each fill a contiguous block of rows, the parent included.

Every row is computed by the same function on the same inputs as in one process, so the result is bit-identical
to ``compute(0, n_rows)``. The workers share the parent's memory copy-on-write (nothing is pickled) and write into
one anonymous shared mapping (no copy back). They die with the parent (Linux ``PR_SET_PDEATHSIG``), and an
exception in the parent kills them before it propagates, so an interrupted run leaves no process behind. A worker
that fails sends its error back as one line (through a pipe), raised in the parent as a :class:`UserError` naming
the rows it was computing, not as the worker's traceback.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import sys
from collections.abc import Callable

import numpy as np

from ssl_bench.core.errors import UserError

PR_SET_PDEATHSIG = 1  # linux/prctl.h
PIPE_BUF = 4096  # a worker's error line, at most this long, is written to its pipe in one piece

RowBlock = Callable[[int, int], np.ndarray]  # (start, stop) -> rows start..stop-1, shape (stop - start, n_cols)


def die_with_parent(parent: int) -> None:
    """In a forked child: be killed when ``parent`` dies (Linux), or exit now if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def forked_rows(compute: RowBlock, n_rows: int, n_cols: int, workers: int) -> np.ndarray:
    """The (n_rows, n_cols) float64 matrix whose rows ``start..stop-1`` are ``compute(start, stop)``, the rows split
    into ``workers`` contiguous blocks computed at once (one in this process). ``workers`` <= 1, or a platform
    without ``fork``, computes everything here."""
    workers = max(1, min(workers, n_rows))
    if workers == 1 or not hasattr(os, "fork"):
        return np.asarray(compute(0, n_rows), dtype=np.float64)
    shared = mmap.mmap(-1, max(1, n_rows * n_cols * 8))  # MAP_SHARED | MAP_ANONYMOUS: the children write into it
    out = np.frombuffer(shared, dtype=np.float64, count=n_rows * n_cols).reshape(n_rows, n_cols)
    bounds = np.linspace(0, n_rows, workers + 1).astype(int)
    parent, children, done = os.getpid(), [], False
    try:
        for start, stop in zip(bounds[1:-1], bounds[2:]):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: fill its block, never return into the caller's code
                code = 1
                try:
                    os.close(read_end)
                    die_with_parent(parent)
                    out[start:stop] = compute(start, stop)
                    code = 0
                except BaseException as err:
                    os.write(write_end, f"{type(err).__name__}: {err}".encode()[:PIPE_BUF])
                finally:
                    os._exit(code)
            os.close(write_end)
            children.append((pid, read_end, start, stop))
        out[: bounds[1]] = compute(0, bounds[1])
        done = True
    finally:
        failed = []
        for pid, read_end, start, stop in children:
            if not done:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            with os.fdopen(read_end, "rb") as reason:
                said = reason.read().decode(errors="replace")
            if os.waitstatus_to_exitcode(status) != 0:
                failed.append(f"rows {start}..{stop - 1}: {said or f'exit code {os.waitstatus_to_exitcode(status)}'}")
    if failed:
        raise UserError(f"{len(failed)} of {workers - 1} row worker processes failed ({'; '.join(failed)})")
    return out
