"""``ssl-bench suite run|status|collect|validate|parity``: run a YAML grid of methods x datasets x seeds into the
store, on this machine or on a Slurm cluster; see each cell's state; ingest finished cells; compare its recipes with
the published configuration they transcribe."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssl_bench.bench.launchers import LaunchSettings
from ssl_bench.commands._flags import add_dataclass_arguments, dataclass_values, refuse_unused, settings_from
from ssl_bench.core.settings import setting, shared

ACTIONS = ("run", "status", "collect", "validate", "parity")
LAUNCH_FIELDS = tuple(found.name for found in dataclasses.fields(LaunchSettings))

NAME = "suite"
HELP = ("Run a benchmark suite here or on Slurm (finished cells are skipped, a killed suite resumes), show its "
        "cells' state, or collect finished cells.")
EXAMPLE = ("ssl-bench suite run suites/quick.yaml --parallel 2   |   "
           "ssl-bench suite run suites/quick.yaml --launcher slurm --partition gpu --gpus-per-cell 1 --wait   |   "
           "ssl-bench suite status suites/quick.yaml   |   ssl-bench suite parity suites/cifar10.yaml")


@dataclass(frozen=True)
class SuiteCommand:
    """What ``ssl-bench suite`` does with a suite file (where its cells run: :class:`LaunchSettings`)."""

    action: str = setting(positional=True, required=True, choices=ACTIONS,
                          help="run: run or submit the pending cells; status: each cell's state; collect: ingest "
                               "finished cells into the store; validate: check the file; parity: the suite's recipes "
                               "field by field against its parity table (Markdown; exit 1 on a drift)")
    file: str = setting(positional=True, required=True, metavar="FILE", help="suite YAML file, e.g. suites/quick.yaml")
    store: str | None = shared("store")
    runs_dir: str = setting("runs", metavar="DIR",
                            help="where run directories go (on a cluster, a filesystem every node sees)")
    device: str = shared("device")
    dry_run: bool = setting(False, help="run: validate, then print the grid, the data it needs and a measured "
                                        "estimate of the training time (a few optimiser steps per distinct model); "
                                        "runs nothing")
    wait: bool = setting(False, help="slurm: wait for the cells, with a progress bar, then collect and render the "
                                     "leaderboard")
    leaderboard: str | None = setting(None, metavar="DIR",
                                      help="render the suite's leaderboard here afterwards (default leaderboards/SUITE/)")
    no_leaderboard: bool = setting(False, help="do not render a leaderboard")
    json: bool = shared("json", help="status, --dry-run: JSON (one object per cell for status)")
    quiet: bool = setting(False, help="no progress bars")


MODES = {action: f"suite {action}" for action in ACTIONS} | {"dry-run": "suite run --dry-run"}
RUN = ("run", "dry-run")  # a dry run previews the command it is added to, so it takes every flag of run
APPLIES = {  # where each flag acts; given anywhere else it is refused (commands._flags.refuse_unused)
    "store": (*RUN, "status", "collect"), "runs_dir": (*RUN, "status", "collect"), "json": ("status", "dry-run"),
    **{name: RUN for name in ("device", "dry_run", "wait", "leaderboard", "no_leaderboard", "quiet", *LAUNCH_FIELDS)},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, SuiteCommand)
    add_dataclass_arguments(parser.add_argument_group("launcher (over the suite's launcher: block)"), LaunchSettings)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.bench.store import ResultStore
    from ssl_bench.bench.suite import collect, load_suite, run_suite, suite_status

    command = settings_from(args, SuiteCommand)
    refuse_unused(args, "dry-run" if command.action == "run" and command.dry_run else command.action, APPLIES, MODES)
    suite = load_suite(command.file)
    if command.action == "validate":
        print(json.dumps({"suite": suite.name, "runs": len(suite.cells)}))
        return 0
    if command.action == "parity":
        return _print_parity(suite)
    if command.action in ("status", "collect"):
        with ResultStore(command.store) as store:
            if command.action == "collect":
                print(json.dumps({"suite": suite.name, **collect(suite, store, command.runs_dir)}))
                return 0
            rows = suite_status(suite, store, command.runs_dir)
        _print_status(suite.name, rows, command.json)
        return 0
    if command.dry_run:
        from ssl_bench.bench.plan import plan_suite

        _print_plan(plan_suite(suite, command.device), command.json)
        return 0
    launch = dataclass_values(args, LaunchSettings)
    slurm = {**suite.launch, **launch}.get("launcher") == "slurm"
    counts = run_suite(command.file, command.store, command.runs_dir, command.device, progress=not command.quiet,
                       launch=launch, wait=command.wait or not slurm)
    summary = {"suite": suite.name, **counts}
    if not command.no_leaderboard and (command.wait or not slurm):
        from ssl_bench.leaderboard import render_leaderboard

        out = command.leaderboard or f"leaderboards/{suite.name}/"
        with ResultStore(command.store) as store:
            render_leaderboard(store, out, suite=suite.name, references=suite.references)
        summary["leaderboard"] = out
        print(f"leaderboard written to {out} (open {Path(out) / 'index.html'})", file=sys.stderr)
    print(json.dumps(summary))
    return 1 if counts["failed"] else 0


def _print_parity(suite: Any) -> int:
    from ssl_bench.bench.parity import parity_markdown, parity_rows
    from ssl_bench.core.errors import UserError

    if suite.parity is None:
        raise UserError(f"suite {suite.name} names no parity table; add parity: parity/NAME.yaml beside its file")
    rows = parity_rows(suite.parity, suite)
    print(parity_markdown(rows), end="")
    problems = [f"{row.method}.{row.field}: {row.problem}" for row in rows if row.problem]
    for problem in problems:
        print(f"parity: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(plan, indent=2))
        return
    for row in plan["cells"]:
        estimate = "-" if row["estimate_s"] is None else f"{duration(row['estimate_s'])} ({row['steps']} steps)"
        print(f"{row['run_id']}  {row['kind']:<8}  {row['method']:<22} {row['backbone']:<10} {row['dataset']:<16} "
              f"seed {row['seed']:<3} {estimate}")
    for name, info in plan["datasets"].items():
        where = "found" if info["available"] else "MISSING (pass --download where the dataset allows it)"
        print(f"data {name}: {info['train_images']} train / {info['test_images']} test images, "
              f"{info['channels']}x{info['image_size']}x{info['image_size']}, {where}")
    print(f"suite {plan['suite']}: {len(plan['cells'])} cells; training about {duration(plan['training_estimate_s'])} "
          f"on {plan['device']}; {plan['estimate']}")


def _print_status(name: str, rows: list[dict], as_json: bool) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    width = max(len(row["cell"]) for row in rows)
    for row in rows:
        print(f"{row['run_id']}  {row['state']:<11}  {row['cell']:<{width}}  {row['detail']}".rstrip())
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    left = sum(count for state, count in states.items() if state != "done")
    print(f"suite {name}: " + ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
          + f"; {left} of {len(rows)} left")


def duration(seconds: float) -> str:
    """``42 s``, ``12.5 min``, ``3.4 h``, ``2,150 h``: a time a person reads at a glance."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h" if seconds < 100 * 3600 else f"{seconds / 3600:,.0f} h"
