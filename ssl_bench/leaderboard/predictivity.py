"""Does a cheap quantity rank runs as training does? Rank correlations between predictors and targets over the
finished trained runs of a store, within each method (across its sweep and seeds) and across methods.

A predictor is any numeric metric a run stored (``rankme``, ``alpha_req``; ``lidar``'s ``value``), or one read from its
epoch records: ``effective_rank`` (the backbone's, after the last epoch) and ``early_knn`` (the learning curve's
kNN accuracy at its first recorded epoch). A target is a final accuracy (``linear_top1``, ``knn_top1``). The
bootstrap resamples configurations (a method and its settings) with all their seeds, so seeds of one
configuration never count as independent evidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from ssl_bench.bench.store import RunRecord
from ssl_bench.core.errors import UserError
from ssl_bench.leaderboard.correlation import Correlation, rank_correlation

ACROSS_METHODS = "all methods"


@dataclass(frozen=True)
class PredictivityRow:
    """How well ``predictor`` ranks ``target`` over the runs of ``scope`` (a method, or all methods)."""

    scope: str
    predictor: str
    target: str
    spearman: Correlation
    kendall: Correlation
    configurations: int


def predictor_value(run: RunRecord, name: str) -> float | None:
    """The run's value of predictor ``name`` (None when it has none)."""
    if name == "effective_rank":
        values = [record[name] for record in run.epoch_metrics if isinstance(record.get(name), (int, float))]
        return float(values[-1]) if values else None
    if name == "early_knn":
        values = [record["knn_curve_top1"] for record in run.epoch_metrics
                  if isinstance(record.get("knn_curve_top1"), (int, float))]
        return float(values[0]) if values else None
    value = run.metrics.get(name)
    if isinstance(value, dict):  # an evaluation that stores its protocol beside its number (lidar)
        value = value.get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _configuration(run: RunRecord) -> str:
    return json.dumps([run.method, run.backbone, run.dataset, run.epochs, run.hparams], sort_keys=True)


def predictivity(runs: Sequence[RunRecord], predictors: Sequence[str], targets: Sequence[str], resamples: int = 2000,
                 confidence: float = 0.95) -> list[PredictivityRow]:
    """One row per (scope, predictor, target) with data: each method alone, then all methods together."""
    trained = [run for run in runs if run.kind == "trained" and run.status == "done"]
    if not trained:
        raise UserError("no finished trained runs in the store for these filters; run a suite first")
    methods = sorted({run.method for run in trained})
    scopes = [(method, [run for run in trained if run.method == method]) for method in methods]
    if len(methods) > 1:
        scopes.append((ACROSS_METHODS, trained))
    rows = []
    for scope, scope_runs in scopes:
        for predictor in predictors:
            for target in targets:
                pairs = [(predictor_value(run, predictor), run.metrics.get(target), _configuration(run))
                         for run in scope_runs]
                pairs = [(x, y, group) for x, y, group in pairs
                         if x is not None and isinstance(y, (int, float)) and math.isfinite(x) and math.isfinite(y)]
                if not pairs:
                    continue
                x, y, groups = (list(column) for column in zip(*pairs))
                correlations = [rank_correlation(x, y, method, groups, resamples, confidence)
                                for method in ("spearman", "kendall")]
                rows.append(PredictivityRow(scope, predictor, target, *correlations, len(set(groups))))
    return rows


def _cell(correlation: Correlation) -> str:
    if correlation.value is None:
        return f"- ({correlation.note})"
    interval = "" if correlation.low is None else f" [{correlation.low:+.2f}, {correlation.high:+.2f}]"
    return f"{correlation.value:+.2f}{interval}"


def predictivity_markdown(rows: Sequence[PredictivityRow], confidence: float = 0.95) -> str:
    """The rows as a Markdown table (bootstrap intervals over configurations, at ``confidence``)."""
    lines = [f"| scope | predictor | target | runs | configurations | Spearman [{confidence:.0%} CI] | "
             f"Kendall tau-b [{confidence:.0%} CI] |", "|---|---|---|---:|---:|---|---|"]
    for row in rows:
        lines.append(f"| {row.scope} | {row.predictor} | {row.target} | {row.spearman.n} | {row.configurations} | "
                     f"{_cell(row.spearman)} | {_cell(row.kendall)} |")
    return "\n".join(lines) + "\n"


def predictivity_json(rows: Sequence[PredictivityRow]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(row) for row in rows]
