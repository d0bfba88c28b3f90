"""Forked row workers: bit-identical to one process, failures reported, no process left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from ssl_bench.core.errors import UserError
from ssl_bench.core.forked_rows import forked_rows
from ssl_bench.spectral.methods.isomap import geodesics


def _random_symmetric_graph(n: int, seed: int) -> sp.csr_matrix:
    """A connected symmetric graph with random positive float weights: a ring plus random chords."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate([np.arange(n), rng.integers(0, n, 4 * n)])
    cols = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, 4 * n)])
    directed = sp.csr_matrix((rng.uniform(0.1, 3.0, rows.size), (rows, cols)), shape=(n, n))
    directed.setdiag(0)
    directed.eliminate_zeros()
    return directed.maximum(directed.T).tocsr()


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_geodesics_equal_scipys_undirected_shortest_paths_bit_for_bit(workers):
    graph = _random_symmetric_graph(600, seed=workers)
    sources = np.sort(np.random.default_rng(0).choice(600, size=37, replace=False))
    expected = shortest_path(graph, method="D", directed=False, indices=sources)
    np.testing.assert_array_equal(geodesics(graph, sources, workers), expected)


def test_every_worker_fills_its_own_rows():
    values = forked_rows(lambda start, stop: np.array([[row, os.getpid()] for row in range(start, stop)], float),
                         10, 2, workers=3)
    np.testing.assert_array_equal(values[:, 0], np.arange(10))
    assert len(set(values[:, 1])) == 3 and values[0, 1] == os.getpid()  # the first block is the parent's


def _write_pid(pid_file: Path) -> None:
    """This process's pid into ``pid_file``, whole or not at all (a killed writer leaves no half file)."""
    (pid_file.parent / "pid.partial").write_text(str(os.getpid()))
    os.replace(pid_file.parent / "pid.partial", pid_file)


def _assert_reaped(pid_file: Path) -> None:
    """The worker that wrote its pid to ``pid_file`` is gone and was waited for (no zombie, no orphan)."""
    pid = int(pid_file.read_text())
    assert pid != os.getpid()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # not a child of ours any more: reaped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # and not running anywhere


def test_a_failing_worker_is_an_error_and_no_child_is_left(tmp_path, capfd):
    def compute(start: int, stop: int) -> np.ndarray:
        if start > 0:
            _write_pid(tmp_path / "worker.pid")
            raise ValueError("boom in a worker")
        return np.zeros((stop - start, 3))

    with pytest.raises(UserError, match=r"^1 of 1 row worker processes failed \(rows 4..7: ValueError: boom in a worker\)$"):
        forked_rows(compute, 8, 3, workers=2)
    assert "Traceback" not in capfd.readouterr().err
    _assert_reaped(tmp_path / "worker.pid")


def test_an_error_in_the_parent_kills_the_workers_first(tmp_path):
    def compute(start: int, stop: int) -> np.ndarray:
        if start == 0:
            while not (tmp_path / "worker.pid").exists():  # the worker has started
                time.sleep(0.01)
            raise KeyboardInterrupt
        _write_pid(tmp_path / "worker.pid")
        time.sleep(60)  # a worker that would outlive the parent's error without the kill
        return np.zeros((stop - start, 1))

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        forked_rows(compute, 4, 1, workers=2)
    assert time.perf_counter() - started < 30
    _assert_reaped(tmp_path / "worker.pid")
