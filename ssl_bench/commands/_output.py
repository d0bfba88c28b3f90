"""Output shared by the evaluation commands."""

from __future__ import annotations

import json
from typing import Any


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """One JSON object on stdout, or one line per accuracy in percent."""
    if as_json:
        print(json.dumps(result, sort_keys=True))
        return
    for key in ("knn_top1", "knn_top1_k20", "linear_top1"):
        if result.get(key) is not None:
            print(f"{key}: {100 * result[key]:.2f}%")
