"""Evaluations of representations, one module each, registered in :data:`EVALUATIONS` (a plugin package:
:mod:`ssl_bench.core.registry`).

Adding an evaluation is one new module in this folder that registers an :class:`Evaluation` under the name of its
file; :data:`EVALUATIONS` imports every module here except ``NOT_PLUGINS`` the first time it is read. The train
split is the kNN database and the probe's training data (with its own held-out part for choosing the
regularisation); the test split is only ever scored. Importing this package is cheap; its names are imported when
first used.
"""

from __future__ import annotations

from ssl_bench.core.registry import lazy_exports

NOT_PLUGINS = ("base",)
DEFAULT_EVALUATIONS = ("knn", "linear")

__all__ = [
    "DEFAULT_EVALUATIONS", "EVALUATIONS", "EncoderTarget", "Evaluation", "EvaluationOutput", "FeatureSplits",
    "MetricColumn", "check_evaluations", "checked_output", "evaluate_features", "leaderboard_columns", "metric_value",
    "ordered",
]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__[1:], "base"))
