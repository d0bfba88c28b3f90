"""Two results stores run by run: every metric, protocol field, hyper-parameter and epoch record, timings aside.

A refactor must not move a number: run the same suite with the same seeds and thread count from the old and the
new code, then ``python scripts/compare_stores.py OLD.sqlite NEW.sqlite`` (exit 1 and the differing fields if any
run differs; writes nothing).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ssl_bench.bench.store import ResultStore

TIMINGS = {"wall_time_s", "peak_memory_mb", "stages", "seconds", "images_per_s"}
COMPARED = ("status", "hparams", "metrics", "protocol", "epoch_metrics")


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if key not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    with ResultStore(args.before) as before, ResultStore(args.after) as after:
        old = {run.run_id: run for run in before.runs()}
        new = {run.run_id: run for run in after.runs()}
    differences = [f"run {run_id} only in {'before' if run_id in old else 'after'}" for run_id in sorted(set(old) ^ set(new))]
    for run_id in sorted(set(old) & set(new)):
        for field in COMPARED:
            a, b = without_timings(getattr(old[run_id], field)), without_timings(getattr(new[run_id], field))
            if a != b:
                differences.append(f"run {run_id} ({old[run_id].kind} {old[run_id].method}): {field} differs")
    print("\n".join(differences) or f"{len(old)} runs, every compared field identical ({', '.join(COMPARED)})")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
