"""How far the dry run's estimate can be trusted: ``suite run SUITE --dry-run`` repeated in fresh processes (its
spread), and each trained cell of the suite's first block trained for real (``ssl-bench train`` with the cell's
settings) against the dry run's model-only estimate of that cell (the sum of the epochs' ``seconds``, which
include augmentation, is what the estimate stands for). Written as JSON.

    python scripts/bench_dry_run.py --out leaderboards/bench/dry_run.json            # suites/quick.yaml
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ssl_bench.bench.cells import train_config
from ssl_bench.bench.provenance import hardware_info
from ssl_bench.bench.suite import load_suite


def dry_run(suite: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "ssl_bench", "suite", "run", str(suite), "--dry-run", "--json"],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def measured_seconds(cell, folder: Path) -> float:
    """Training seconds (sum of the epochs' ``seconds``) of ``cell`` trained with its settings."""
    config = train_config(cell, out=str(folder / cell.run_id))
    config_file = folder / f"{cell.run_id}.json"
    config_file.write_text(json.dumps({key: value for key, value in config.to_dict().items() if key != "workers"}))
    subprocess.run([sys.executable, "-m", "ssl_bench", "train", "--config", str(config_file), "--quiet"],
                   check=True, capture_output=True)
    history = json.loads((folder / cell.run_id / "metrics.json").read_text())
    return sum(record["seconds"] for record in history)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=Path("suites/quick.yaml"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", type=int, default=2, help="how many trained cells to train for real")
    parser.add_argument("--out", type=Path, help="write the JSON here (default: print it)")
    args = parser.parse_args()
    plans = [dry_run(args.suite) for _ in range(args.repeats)]
    totals = [plan["training_estimate_s"] for plan in plans]
    suite = load_suite(args.suite)
    trained = [cell for cell in suite.cells if cell.epochs][: args.train]
    cells = []
    with tempfile.TemporaryDirectory() as folder:
        for cell in trained:
            estimates = [row["estimate_s"] for plan in plans for row in plan["cells"] if row["run_id"] == cell.run_id]
            seconds = measured_seconds(cell, Path(folder))
            cells.append({"method": cell.method, "backbone": cell.backbone, "epochs": cell.epochs,
                          "estimates_s": estimates, "measured_training_s": round(seconds, 2),
                          "estimate_over_measured": round(statistics.median(estimates) / seconds, 3)})
    result = {"suite": str(args.suite), "machine": hardware_info(),
              "dry_run_totals_s": totals, "relative_spread": round((max(totals) - min(totals)) / min(totals), 4),
              "cells": cells}
    text = json.dumps(result, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
