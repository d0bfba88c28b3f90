"""Output and options shared by the evaluation commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ssl_bench.eval import DEFAULT_EVALUATIONS, leaderboard_columns, ordered


def add_evaluations_argument(parser: argparse.ArgumentParser) -> None:
    """``--evaluations NAME ...``: the registered feature evaluations (default kNN and the linear probe)."""
    described = "; ".join(f"{e.name}: {e.description}" for e in ordered("features"))
    parser.add_argument("--evaluations", nargs="+", choices=[e.name for e in ordered("features")],
                        default=list(DEFAULT_EVALUATIONS), metavar="NAME",
                        help=f"evaluations to run (default: {' '.join(DEFAULT_EVALUATIONS)}). {described}")


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON object on stdout, or one line per leaderboard column found in the result."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    for column in leaderboard_columns():
        value = column.extract(result)
        if value is not None:
            print(f"{column.key}: {100 * value:.2f}%" if column.percent else f"{column.key}: {value:.{column.decimals}f}")
