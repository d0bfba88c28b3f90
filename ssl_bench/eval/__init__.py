"""Evaluations of representations, one module each, registered in :data:`EVALUATIONS` when this package is imported.

Adding an evaluation is one new module in this folder that registers an :class:`Evaluation`; every module here
except ``base`` and ``features`` is imported (discovered) below. The train split is the kNN database and the
probe's training data (with its own held-out part for choosing the regularisation); the test split is only ever
scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import import_modules
from ssl_bench.core.stage_clock import part
from ssl_bench.eval.base import EVALUATIONS, Evaluation, EvaluationOutput, FeatureSplits, MetricColumn, metric_value
from ssl_bench.models.features import cached_features, extract_features

import_modules(__name__, __path__, skip={"base", "features"})

DEFAULT_EVALUATIONS = ("knn", "linear")


def ordered(needs: str | None = None) -> list[Evaluation]:
    """The registered evaluations in column order, optionally only those that need ``needs``."""
    found = [EVALUATIONS.get(name) for name in EVALUATIONS.names()]
    return sorted((e for e in found if needs is None or e.needs == needs), key=lambda e: (e.order, e.name))


def leaderboard_columns() -> tuple[MetricColumn, ...]:
    return tuple(column for evaluation in ordered() for column in evaluation.columns)


def check_evaluations(names: Sequence[str], needs: str | None = None) -> tuple[str, ...]:
    """``names`` validated against the registry (and ``needs``); a :class:`UserError` lists the valid ones."""
    valid = [e.name for e in ordered(needs)]
    for name in names:
        if name not in valid:
            raise UserError(f"unknown evaluation {name!r}; choose one of: {', '.join(valid)}")
    return tuple(names)


def evaluate_features(splits: FeatureSplits, evaluations: Sequence[str] = DEFAULT_EVALUATIONS,
                      seed: int = 0) -> dict[str, Any]:
    """Every requested feature evaluation of ``splits``, in column order, as one JSON-serialisable dict.

    The metrics of each evaluation are merged in; ``protocol[name]`` holds how each was measured. ``n_train``,
    ``n_test`` and ``feature_dim`` describe the features.
    """
    wanted = set(check_evaluations(evaluations, "features"))
    result: dict[str, Any] = {}
    protocol: dict[str, Any] = {}
    for evaluation in ordered("features"):
        if evaluation.name in wanted:
            with part(evaluation.name):  # "evaluation/knn" etc. in a running StageClock
                output = checked_output(evaluation, evaluation.evaluate(splits, seed), taken=result)
            result.update(output.metrics)
            protocol[evaluation.name] = output.protocol
    result.update({"n_train": int(splits.train.shape[0]), "n_test": int(splits.test.shape[0]),
                   "feature_dim": int(splits.train.shape[1]), "protocol": protocol})
    return result


def checked_output(evaluation: Evaluation, output: Any, taken: dict[str, Any]) -> EvaluationOutput:
    """``output`` if it keeps the registered contract: an :class:`EvaluationOutput` whose metric keys are exactly
    ``evaluation.metric_keys`` and none of ``taken`` (another evaluation's); else a :class:`UserError` for the
    evaluation's author, naming what to change."""
    where = f"evaluation {evaluation.name!r}"
    if not isinstance(output, EvaluationOutput):
        raise UserError(f"{where} returned a {type(output).__name__}; its evaluate function must return "
                        "EvaluationOutput(metrics, protocol)")
    if set(output.metrics) != set(evaluation.metric_keys):
        raise UserError(f"{where} returned the metrics {sorted(output.metrics)} but declares metric_keys="
                        f"{tuple(evaluation.metric_keys)}; make its Evaluation(metric_keys=...) name exactly "
                        "what it returns")
    clashing = sorted(set(output.metrics) & set(taken))
    if clashing:
        raise UserError(f"{where} returned {clashing}, already another evaluation's metric; rename its keys")
    return output


__all__ = [
    "DEFAULT_EVALUATIONS", "EVALUATIONS", "Evaluation", "EvaluationOutput", "FeatureSplits", "MetricColumn",
    "cached_features", "check_evaluations", "checked_output", "evaluate_features", "extract_features",
    "leaderboard_columns", "metric_value", "ordered",
]
