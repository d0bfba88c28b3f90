"""``ssl-bench compare``: the difference of one metric between two runs or two methods, with a confidence
interval over seeds (paired t when both sides have the same seeds, else Welch's t)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ssl_bench.bench.store import ResultStore
from ssl_bench.commands._flags import add_shared_argument, refuse_unused
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import plugin_names

NAME = "compare"
HELP = "Mean difference of a metric between two runs or two methods over seeds, with a 95 percent confidence interval."
EXAMPLE = "ssl-bench compare --methods simclr vicreg --suite quick --metric knn_top1   |   " \
          "ssl-bench compare 3f2a9c 81be07 --over-seeds"


MODES = {"runs": "two run ids", "methods": "--methods A B"}
APPLIES = {"over_seeds": ("runs",), "suite": ("methods",), "dataset": ("methods",), "backbone": ("methods",),
           "kind": ("methods",)}  # where each flag acts; elsewhere it is refused (commands._flags.refuse_unused)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="*", metavar="RUN", help="two run ids (or unique prefixes): RUN_A RUN_B")
    parser.add_argument("--methods", nargs=2, metavar=("A", "B"), help="compare two methods over their seeds")
    parser.add_argument("--metric", default="knn_top1",
                        help="knn_top1 (default), knn_top1_k20, linear_top1, probe_invariance, "
                             "probe_equivariance_r2 or any numeric metric name")
    parser.add_argument("--over-seeds", action="store_true", default=None,
                        help="with run ids: compare the runs' configurations over all their seeds")
    parser.add_argument("--suite", help="with --methods: only this suite")
    parser.add_argument("--dataset", help="with --methods: only this dataset")
    parser.add_argument("--backbone", help="with --methods: only this backbone")
    parser.add_argument("--kind", choices=plugin_names("ssl_bench.sources"), help="with --methods: only this kind of run")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    add_shared_argument(parser, "store")
    add_shared_argument(parser, "json")


def run(args: argparse.Namespace) -> int:
    from ssl_bench.leaderboard.comparison import compare_methods, compare_runs

    if bool(args.methods) == bool(args.runs) or (args.runs and len(args.runs) != 2):
        raise UserError("give either two run ids (ssl-bench compare RUN_A RUN_B) or --methods A B")
    if not 0 < args.confidence < 1:
        raise UserError(f"--confidence must be between 0 and 1, got {args.confidence}")
    refuse_unused(args, "methods" if args.methods else "runs", APPLIES, MODES)
    with ResultStore(args.store, create=False) as store:
        if args.methods:
            result = compare_methods(store, *args.methods, metric=args.metric, suite=args.suite,
                                     dataset=args.dataset, backbone=args.backbone, kind=args.kind,
                                     confidence=args.confidence)
        else:
            result = compare_runs(store, *args.runs, metric=args.metric, over_seeds=bool(args.over_seeds),
                                  confidence=args.confidence)
    print(json.dumps(_as_json(result)) if args.json else _as_text(result))
    return 0


def _as_json(result: Any) -> dict[str, object]:
    difference = asdict(result.difference)
    sides = {name: {"label": side.label, "run_ids": [run.run_id for run in side.runs],
                    "values": {str(seed): value for seed, value in sorted(side.values.items())},
                    "mean": side.summary.mean, "std": side.summary.std, "n": side.summary.n}
             for name, side in (("a", result.a), ("b", result.b))}
    return {"metric": result.metric.key, "percent": result.metric.percent, **sides, "difference": difference}


def _as_text(result: Any) -> str:
    from ssl_bench.leaderboard.table import format_summary

    column, difference = result.metric, result.difference
    scale, unit = (100.0, " percentage points") if column.percent else (1.0, "")
    digits = column.decimals + 1
    lines = [f"metric: {column.key} ({column.title}{', in %' if column.percent else ''})"]
    for name, side in (("A", result.a), ("B", result.b)):
        seeds = " ".join(str(seed) for seed in sorted(side.values))
        lines.append(f"{name}: {side.label}: {format_summary(side.summary, column)} (n={side.summary.n}, "
                     f"seeds {seeds})")
    estimate = f"A - B = {difference.estimate * scale:+.{digits}f}{unit}"
    if difference.low is None:
        lines.append(f"{estimate}; {difference.note} ({difference.test})")
    else:
        df = "" if difference.df is None else f", df = {difference.df:.3g}"
        lines.append(f"{estimate}, {100 * difference.confidence:.0f}% CI [{difference.low * scale:+.{digits}f}, "
                     f"{difference.high * scale:+.{digits}f}] ({difference.test}{df})")
    return "\n".join(lines)
