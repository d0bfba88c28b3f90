"""Start-up of the command line: wall time of ``ssl-bench --help`` and of every ``ssl-bench COMMAND --help``, as a
ratio to ``python -c pass`` measured in the same run (median of several runs each), written as JSON.

    python scripts/bench_startup.py --out leaderboards/bench/startup.json
    python scripts/bench_startup.py --checkout ../old-clone      # the same measurement of another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ("", "train", "eval", "spectral", "probe", "suite", "compare", "runs", "leaderboard", "datasets")


def wall(argv: list[str], env: dict[str, str], cwd: Path, repeats: int) -> float:
    """Median wall time of ``argv`` run in ``cwd`` over ``repeats`` runs (output discarded)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the ssl-bench checkout to measure (default: this one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the JSON here (default: print it)")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    baseline = wall([sys.executable, "-c", "pass"], env, checkout, args.repeats)
    rows = {}
    for command in COMMANDS:
        seconds = wall([sys.executable, "-m", "ssl_bench", *([command] if command else []), "--help"], env,
                       checkout, args.repeats)
        rows[f"ssl-bench {command} --help".replace("  ", " ")] = {"seconds": round(seconds, 3),
                                                                   "ratio_to_python": round(seconds / baseline, 1)}
    git = subprocess.run(["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    result = {"python_c_pass_s": round(baseline, 3), "commands": rows, "checkout_commit": git,
              "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
              "repeats": args.repeats}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
