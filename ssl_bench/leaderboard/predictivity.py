"""Does a cheap quantity rank runs as training does? Rank correlations between predictors and targets over the
finished trained runs of a store, within each method (across its sweep and seeds) and across methods.

A predictor is any numeric metric a run stored (``rankme``, ``alpha_req``; ``lidar``'s ``value``), one read from its
epoch records: ``effective_rank`` (the backbone's, after the last epoch) and ``early_knn`` (the learning curve's
kNN accuracy at its first recorded epoch), or its closed-form counterpart's accuracy: ``closed_form_knn`` and
``closed_form_linear``, the kNN / linear top-1 of the spectral row that solves the run's method in closed form on
the views graph of the run's own augmentation (same recipe, overrides, dataset, subsets and seed; a trained
block's ``closed_form:``). A target is a final accuracy (``linear_top1``, ``knn_top1``). The bootstrap resamples
configurations (a method and its settings) with all their seeds, so seeds of one configuration never count as
independent evidence.

Cost, as a fraction of the run's training seconds (the sum of its epochs' ``seconds``; median over the runs of a
scope): ``early_knn`` the epochs up to its point plus that point's curve; ``closed_form_*`` the counterpart row's
data, features, fit and embedding stages plus that accuracy's evaluation; a label-free metric of the final network
(RankMe, alpha-ReQ, LiDAR, effective rank) the whole training plus its own evaluation (and the encoding of the
train split where it reads features).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ssl_bench.core.errors import UserError

if TYPE_CHECKING:  # the command line reads the defaults below without numpy
    from ssl_bench.bench.store import RunRecord
    from ssl_bench.leaderboard.correlation import Correlation

ACROSS_METHODS = "all methods"
DEFAULT_PREDICTORS = ("closed_form_knn", "closed_form_linear", "rankme", "alpha_req", "lidar", "effective_rank",
                      "early_knn")
DEFAULT_TARGETS = ("linear_top1", "knn_top1")
MIN_CONFIGURATIONS = 3  # a board shows the predictivity section when a method has this many configurations
CLOSED_FORM_PREDICTORS = {"closed_form_knn": ("knn_top1", "knn"), "closed_form_linear": ("linear_top1", "linear")}


@dataclass(frozen=True)
class PredictivityRow:
    """How well ``predictor`` ranks ``target`` over the runs of ``scope`` (a method, or all methods);
    ``cost_fraction``: the predictor's median cost over those runs as a fraction of their training time."""

    scope: str
    predictor: str
    target: str
    spearman: Correlation
    kendall: Correlation
    configurations: int
    cost_fraction: float | None = None


class Counterparts:
    """The closed-form counterpart of each trained run among a store's spectral rows (views graph, the run's
    method's closed form, the same augmentation recipe and overrides, dataset, subsets and seed)."""

    def __init__(self, runs: Sequence[RunRecord]) -> None:
        self._rows: dict[str, list[RunRecord]] = {}
        for run in runs:
            if run.kind == "spectral" and run.status == "done" and run.hparams.get("graph") == "views":
                key = self._key(run.method, run, run.hparams.get("augment_recipe", "simclr"),
                                run.hparams.get("augment") or {})
                self._rows.setdefault(key, []).append(run)

    @staticmethod
    def _key(method: str, run: RunRecord, recipe: str, augment: dict[str, Any]) -> str:
        return json.dumps([method, run.dataset, run.seed, run.hparams.get("subset"), run.hparams.get("test_subset"),
                           recipe, augment], sort_keys=True)

    def of(self, run: RunRecord) -> RunRecord | None:
        """The run's counterpart, None when the store has none; two candidates (e.g. two feature maps) are refused."""
        from ssl_bench.methods import METHODS
        from ssl_bench.sources.spectral import counterpart_settings

        if run.method not in METHODS.names() or METHODS.get(run.method).closed_form is None:
            return None
        settings = counterpart_settings(run.method, run.hparams.get("augment") or {})
        found = self._rows.get(self._key(METHODS.get(run.method).closed_form, run, settings["augment_recipe"],
                                         settings["augment"]), [])
        if len(found) > 1:
            raise UserError(f"run {run.run_id} ({run.method}) has {len(found)} closed-form counterparts (runs "
                            f"{', '.join(row.run_id for row in found)}); pass --suite to read one suite's")
        return found[0] if found else None


def predictor_value(run: RunRecord, name: str, counterpart: RunRecord | None = None) -> float | None:
    """The run's value of predictor ``name`` (None when it has none); ``counterpart``: its closed-form row."""
    if name in CLOSED_FORM_PREDICTORS:
        return _number(counterpart.metrics.get(CLOSED_FORM_PREDICTORS[name][0])) if counterpart else None
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
    return _number(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def training_seconds(run: RunRecord) -> float | None:
    """The run's training time: the sum of its epochs' ``seconds`` (learning-curve points not included)."""
    seconds = [record["seconds"] for record in run.epoch_metrics if isinstance(record.get("seconds"), (int, float))]
    return math.fsum(seconds) if seconds else None


def _stage(run: RunRecord, name: str) -> float:
    stage = (run.metrics.get("stages") or {}).get(name) or {}
    return float(stage.get("seconds", 0.0))


def predictor_seconds(run: RunRecord, name: str, counterpart: RunRecord | None = None) -> float | None:
    """What predictor ``name`` of ``run`` cost in seconds (see the module docstring); None when not measured."""
    from ssl_bench.eval import EVALUATIONS

    trained = training_seconds(run)
    if name in CLOSED_FORM_PREDICTORS:
        if counterpart is None or not counterpart.metrics.get("stages"):
            return None
        making = math.fsum(float(stage["seconds"]) for key, stage in counterpart.metrics["stages"].items()
                           if "/" not in key and key != "evaluation")  # stages, not their parts (fit/eigensolve)
        return making + _stage(counterpart, f"evaluation/{CLOSED_FORM_PREDICTORS[name][1]}")
    if trained is None:
        return None
    if name == "early_knn":
        for index, record in enumerate(run.epoch_metrics):
            if isinstance(record.get("knn_curve_top1"), (int, float)):
                return math.fsum(r.get("seconds", 0.0) for r in run.epoch_metrics[: index + 1]) + record["curve_seconds"]
        return None
    if name == "effective_rank":
        return trained
    evaluation = next((found for found in (EVALUATIONS.get(key) for key in EVALUATIONS.names())
                       if name in found.metric_keys), None)
    if evaluation is None:
        return None
    reads_features = evaluation.needs == "features"
    return trained + _stage(run, f"evaluation/{evaluation.name}") + (_stage(run, "features") if reads_features else 0.0)


def _configuration(run: RunRecord) -> str:
    return json.dumps([run.method, run.backbone, run.dataset, run.epochs, run.hparams], sort_keys=True)


def predictivity(runs: Sequence[RunRecord], predictors: Sequence[str], targets: Sequence[str], resamples: int = 2000,
                 confidence: float = 0.95) -> list[PredictivityRow]:
    """One row per (scope, predictor, target) with data: each method alone, then all methods together."""
    from ssl_bench.leaderboard.correlation import rank_correlation

    trained = [run for run in runs if run.kind == "trained" and run.status == "done"]
    if not trained:
        raise UserError("no finished trained runs in the store for these filters; run a suite first")
    closed_forms = closed_forms_of(runs)
    methods = sorted({run.method for run in trained})
    scopes = [(method, [run for run in trained if run.method == method]) for method in methods]
    if len(methods) > 1:
        scopes.append((ACROSS_METHODS, trained))
    rows = []
    for scope, scope_runs in scopes:
        for predictor in predictors:
            for target in targets:
                found = points(scope_runs, predictor, target, closed_forms)
                if not found:
                    continue
                x, y, groups = [p[1] for p in found], [p[2] for p in found], [_configuration(p[0]) for p in found]
                correlations = [rank_correlation(x, y, method, groups, resamples, confidence)
                                for method in ("spearman", "kendall")]
                rows.append(PredictivityRow(scope, predictor, target, *correlations, len(set(groups)),
                                            _cost_fraction([p[0] for p in found], predictor, closed_forms)))
    return rows


def closed_forms_of(runs: Sequence[RunRecord]) -> dict[str, RunRecord | None]:
    """Each finished trained run's closed-form counterpart among ``runs`` (None where there is none), by run id."""
    counterparts = Counterparts(runs)
    return {run.run_id: counterparts.of(run) for run in runs if run.kind == "trained" and run.status == "done"}


def _cost_fraction(runs: Sequence[RunRecord], predictor: str,
                   closed_forms: dict[str, RunRecord | None]) -> float | None:
    fractions = []
    for run in runs:
        cost, trained = predictor_seconds(run, predictor, closed_forms[run.run_id]), training_seconds(run)
        if cost is not None and trained:
            fractions.append(cost / trained)
    return statistics.median(fractions) if fractions else None


def points(runs: Sequence[RunRecord], predictor: str, target: str,
           closed_forms: dict[str, RunRecord | None]) -> list[tuple[RunRecord, float, float]]:
    """(run, predictor value, target value) of every finished trained run of ``runs`` that has both, finite
    (``closed_forms``: :func:`closed_forms_of`)."""
    found = []
    for run in runs:
        if run.run_id not in closed_forms:  # not a finished trained run
            continue
        x, y = predictor_value(run, predictor, closed_forms[run.run_id]), _number(run.metrics.get(target))
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y):
            found.append((run, x, y))
    return found


def has_sweep(runs: Sequence[RunRecord]) -> bool:
    """True when some method has at least :data:`MIN_CONFIGURATIONS` finished trained configurations: a ranking
    for a predictor to predict (a board then shows the predictivity section)."""
    configurations: dict[str, set[str]] = {}
    for run in runs:
        if run.kind == "trained" and run.status == "done":
            configurations.setdefault(run.method, set()).add(_configuration(run))
    return any(len(found) >= MIN_CONFIGURATIONS for found in configurations.values())


def correlation_text(correlation: Correlation) -> str:
    """``+0.42 [-0.10, +0.80]``, or ``- (why)`` where the data cannot say."""
    if correlation.value is None:
        return f"- ({correlation.note})"
    interval = "" if correlation.low is None else f" [{correlation.low:+.2f}, {correlation.high:+.2f}]"
    return f"{correlation.value:+.2f}{interval}"


def predictivity_markdown(rows: Sequence[PredictivityRow], confidence: float = 0.95) -> str:
    """The rows as a Markdown table (bootstrap intervals over configurations, at ``confidence``)."""
    lines = [f"| scope | predictor | target | runs | configurations | Spearman [{confidence:.0%} CI] | "
             f"Kendall tau-b [{confidence:.0%} CI] | cost (x training) |", "|---|---|---|---:|---:|---|---|---:|"]
    for row in rows:
        lines.append(f"| {row.scope} | {row.predictor} | {row.target} | {row.spearman.n} | {row.configurations} | "
                     f"{correlation_text(row.spearman)} | {correlation_text(row.kendall)} | {format_cost(row.cost_fraction)} |")
    return "\n".join(lines) + "\n"


def format_cost(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.3f}"


def predictivity_json(rows: Sequence[PredictivityRow]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(row) for row in rows]


def predictivity_csv(rows: Sequence[PredictivityRow]) -> str:
    """One line per row: the correlations with their intervals (empty where the data cannot say: see ``note``)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["scope", "predictor", "target", "runs", "configurations", "spearman", "spearman_low",
                     "spearman_high", "kendall", "kendall_low", "kendall_high", "cost_fraction", "note"])
    for row in rows:
        values = [row.scope, row.predictor, row.target, row.spearman.n, row.configurations]
        for correlation in (row.spearman, row.kendall):
            values += [correlation.value, correlation.low, correlation.high]
        values += [row.cost_fraction, row.spearman.note]
        writer.writerow(["" if value is None else repr(value) if isinstance(value, float) else value
                         for value in values])
    return buffer.getvalue()


@dataclass(frozen=True)
class PredictivitySection:
    """What a board of a swept suite adds: the table's rows, its files by suffix (md, csv, json) and a scatter plot
    per predictor."""

    rows: list[PredictivityRow]
    files: dict[str, str]
    plots: list[Any]


def predictivity_section(runs: Sequence[RunRecord], resamples: int = 2000) -> PredictivitySection | None:
    """The default predictors against the default targets over ``runs``, when they hold a sweep (:func:`has_sweep`)
    and some run has a predictor; None otherwise. Seeded: the same store gives the same bytes."""
    from ssl_bench.leaderboard.plots import predictor_scatter

    if not has_sweep(runs):
        return None
    rows = predictivity(runs, DEFAULT_PREDICTORS, DEFAULT_TARGETS, resamples)
    if not rows:
        return None
    closed_forms = closed_forms_of(runs)
    plots = [predictor_scatter(predictor, [(target, [(run.method, x, y) for run, x, y in
                                                     points(runs, predictor, target, closed_forms)])
                                           for target in DEFAULT_TARGETS])
             for predictor in dict.fromkeys(row.predictor for row in rows)]
    files = {"md": predictivity_markdown(rows), "csv": predictivity_csv(rows),
             "json": json.dumps(predictivity_json(rows), indent=1, sort_keys=True) + "\n"}
    return PredictivitySection(rows, files, [plot for plot in plots if plot is not None])
