"""Evaluations of representations, one module each, registered in :data:`EVALUATIONS` (a plugin package:
:mod:`ssl_bench.core.registry`).

Adding an evaluation is one new module in this folder that registers an :class:`Evaluation` under the name of its
file; :data:`EVALUATIONS` imports every module here except ``NOT_PLUGINS`` the first time it is read. The train
split is the kNN database and the probe's training data (with its own held-out part for choosing the
regularisation); the test split is only ever scored. Importing this package is cheap; its names are imported when
first used.
"""

from __future__ import annotations

from typing import Any

from ssl_bench.core.registry import lazy_exports, plugin_names
from ssl_bench.core.settings import setting

NOT_PLUGINS = ("base",)
DEFAULT_EVALUATIONS = ("knn", "linear")


def evaluations_setting(help: str = "registered evaluations to run (ssl-bench eval --help lists them)") -> Any:
    """The ``evaluations`` setting of a command: names of registered evaluations, default kNN and the linear
    probe."""
    return setting(help=help, metavar="NAME", choices=lambda: plugin_names(__name__),
                   default_factory=lambda: list(DEFAULT_EVALUATIONS))

__all__ = [
    "DEFAULT_EVALUATIONS", "evaluations_setting", "EVALUATIONS", "EncoderTarget", "Evaluation", "EvaluationOutput", "FeatureSplits",
    "MetricColumn", "check_evaluations", "checked_output", "evaluate_features", "leaderboard_columns", "metric_value",
    "nested_value",
    "ordered",
]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__[2:], "base"))
