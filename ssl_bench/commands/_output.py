"""What the evaluation commands print."""

from __future__ import annotations

import json
from typing import Any


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON object on stdout, or one line per leaderboard column found in the result."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    from ssl_bench.eval import leaderboard_columns

    for column in leaderboard_columns():
        value = column.extract(result)
        if value is not None:
            print(f"{column.key}: {100 * value:.2f}%" if column.percent else f"{column.key}: {value:.{column.decimals}f}")
