"""Scheduling overhead of the Slurm launcher: one grid of small cells run serially with ``--launcher local`` and
submitted as one job array with ``--launcher slurm --wait`` (one array task per cell, ``--parallel`` tasks at once),
both through the CLI users run. Writes one JSON file with both wall times, the accuracies of both (they must be
equal) and the overhead per cell: (slurm wall - local wall / parallel) / cells, a rough figure when the cells
share the node's cores.

Needs a Slurm cluster (``sudo scripts/slurm_local_cluster.sh`` starts a one-node one)::

    python scripts/bench_cluster.py --cells 8 --parallel 2 --out leaderboards/bench/cluster-epyc-avx2.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ssl_bench.bench.provenance import hardware_info
from ssl_bench.bench.store import ResultStore

SUITE = """
name: cluster-bench
datasets: [synthetic]
subset: 200
seeds: {seeds}
evaluations: [knn]
trained:
  methods: [simclr, vicreg]
  backbones: [mlp]
  epochs: 2
  batch_size: 50
  method_params: {{projector_dims: [64, 32]}}
"""


def _run(suite: Path, folder: Path, tag: str, *flags: str) -> tuple[float, dict[str, float]]:
    store = folder / f"{tag}.sqlite"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ssl_bench", "suite", "run", str(suite), "--store", str(store),
                    "--runs-dir", str(folder / f"runs-{tag}"), "--no-leaderboard", "--quiet", *flags],
                   check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - started
    with ResultStore(store) as results:
        return wall, {r.run_id: r.metrics["knn_top1"] for r in results.runs()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=8, help="cells in the grid (even: two methods x seeds)")
    parser.add_argument("--parallel", type=int, default=2, help="array tasks at once (the node's CPUs)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        suite = folder / "suite.yaml"
        suite.write_text(SUITE.format(seeds=list(range(args.cells // 2))))
        local_s, local = _run(suite, folder, "local")
        slurm_s, on_slurm = _run(suite, folder, "slurm", "--launcher", "slurm", "--wait",
                                 "--parallel", str(args.parallel), "--cpus-per-cell", "1")
    cells = len(local)
    result = {
        "command": " ".join(sys.argv), "cells": cells, "parallel": args.parallel, "threads_per_cell": 1,
        "local_serial_wall_s": round(local_s, 2), "slurm_array_wall_s": round(slurm_s, 2),
        "speedup_slurm_vs_serial": round(local_s / slurm_s, 3),
        "overhead_per_cell_s": round((slurm_s - local_s / args.parallel) / cells, 3),
        "same_accuracies": local == on_slurm, "hardware": hardware_info(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
