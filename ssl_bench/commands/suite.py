"""``ssl-bench suite run|validate``: run a YAML grid of methods x datasets x seeds into the store."""

from __future__ import annotations

import argparse
import json
import sys

from ssl_bench.config import DEVICES
from ssl_bench.suite import load_suite, run_suite

NAME = "suite"
HELP = "Run (or validate) a benchmark suite; finished runs are skipped, a killed suite resumes."
EXAMPLE = "ssl-bench suite run suites/quick.yaml   (then: ssl-bench leaderboard --suite quick --out leaderboards/quick/)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("run", "validate"))
    parser.add_argument("file", help="suite YAML file, e.g. suites/quick.yaml")
    parser.add_argument("--store", help="results database (default results/ssl_bench.sqlite or $SSL_BENCH_STORE)")
    parser.add_argument("--runs-dir", default="runs", help="where run directories go (default runs/)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--leaderboard", metavar="DIR",
                        help="render the suite's leaderboard here afterwards (default leaderboards/SUITE/)")
    parser.add_argument("--no-leaderboard", action="store_true", help="do not render a leaderboard")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    suite = load_suite(args.file)
    if args.action == "validate":
        print(json.dumps({"suite": suite.name, "runs": len(suite.cells)}))
        return 0
    counts = run_suite(args.file, args.store, args.runs_dir, args.device, progress=not args.quiet)
    summary = {"suite": suite.name, **counts}
    if not args.no_leaderboard:
        from ssl_bench.leaderboard import render_leaderboard
        from ssl_bench.store import ResultStore

        out = args.leaderboard or f"leaderboards/{suite.name}/"
        with ResultStore(args.store) as store:
            render_leaderboard(store, out, suite=suite.name)
        summary["leaderboard"] = out
        print(f"leaderboard written to {out} (open {out}index.html)", file=sys.stderr)
    print(json.dumps(summary))
    return 1 if counts["failed"] else 0
