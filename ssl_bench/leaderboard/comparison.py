"""Compare two runs, or two methods over seeds: mean difference of one metric with a confidence interval."""

from __future__ import annotations

from dataclasses import dataclass

from ssl_bench.bench.store import ResultStore, RunRecord
from ssl_bench.core.errors import UserError
from ssl_bench.leaderboard.stats import Difference, Summary, difference_ci
from ssl_bench.leaderboard.table import MetricColumn, configuration_key, format_hparams, metric_column


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a label, its runs and the metric per seed."""

    label: str
    runs: tuple[RunRecord, ...]
    values: dict[int, float]

    @property
    def summary(self) -> Summary:
        return Summary(tuple(self.values[seed] for seed in sorted(self.values)))


@dataclass(frozen=True)
class Comparison:
    """``difference`` is mean(A) - mean(B) of ``metric`` (raw values: fractions for accuracies)."""

    metric: MetricColumn
    a: Side
    b: Side
    difference: Difference


def compare_runs(store: ResultStore, run_a: str, run_b: str, metric: str = "knn_top1", over_seeds: bool = False,
                 confidence: float = 0.95) -> Comparison:
    """Two runs (ids or unique id prefixes); ``over_seeds`` compares their configurations over all their seeds."""
    column = metric_column(metric)
    sides = []
    for run_id in (run_a, run_b):
        run = store.get(run_id)
        if run.status != "done":
            raise UserError(f"run {run.run_id} is {run.status}, not done; compare finished runs only")
        runs = _configuration_runs(store, run) if over_seeds else [run]
        sides.append(_side(describe_configuration(run) + ("" if over_seeds else f", seed {run.seed}"), runs, column))
    return Comparison(column, sides[0], sides[1], difference_ci(sides[0].values, sides[1].values, confidence))


def compare_methods(store: ResultStore, method_a: str, method_b: str, metric: str = "knn_top1",
                    suite: str | None = None, dataset: str | None = None, backbone: str | None = None,
                    kind: str | None = None, confidence: float = 0.95) -> Comparison:
    """Two methods over seeds; each must name exactly one configuration after the filters."""
    column = metric_column(metric)
    sides = []
    for method in (method_a, method_b):
        runs = [run for run in store.runs(suite=suite, status="done", method=method, kind=kind)
                if (dataset is None or run.dataset == dataset) and (backbone is None or run.backbone == backbone)]
        if not runs:
            known = sorted({run.method for run in store.runs(suite=suite, status="done")})
            raise UserError(f"no finished runs of method {method!r} with these filters; methods with finished runs: "
                            f"{', '.join(known) or 'none'}")
        groups: dict[tuple[object, ...], list[RunRecord]] = {}
        for run in runs:
            groups.setdefault(configuration_key(run), []).append(run)
        if len(groups) > 1:
            choices = "; ".join(describe_configuration(group[0]) for group in groups.values())
            raise UserError(f"method {method!r} has {len(groups)} configurations ({choices}); narrow it with "
                            f"--suite/--dataset/--backbone/--kind, or compare two run ids with --over-seeds")
        sides.append(_side(describe_configuration(runs[0]), runs, column))
    return Comparison(column, sides[0], sides[1], difference_ci(sides[0].values, sides[1].values, confidence))


def describe_configuration(run: RunRecord) -> str:
    """``simclr/convnet on fashion-mnist (test), 10 epochs, lr=0.1 [suite quick]``."""
    epochs = f", {run.epochs} epochs" if run.epochs else ""
    hparams = f", {format_hparams(run.hparams)}" if run.hparams else ""
    backbone = f"/{run.backbone}" if run.backbone else ""
    return f"{run.method}{backbone} on {run.dataset} ({run.split}){epochs}{hparams} [suite {run.suite}]"


def _configuration_runs(store: ResultStore, run: RunRecord) -> list[RunRecord]:
    key = configuration_key(run)
    return [other for other in store.runs(suite=run.suite, status="done", method=run.method)
            if configuration_key(other) == key]


def _side(label: str, runs: list[RunRecord], column: MetricColumn) -> Side:
    values = {}
    for run in runs:
        value = column.extract(run.metrics)
        if value is None:
            raise UserError(f"run {run.run_id} has no metric {column.key!r}; it has: "
                            f"{', '.join(sorted(run.metrics)) or 'none'}")
        values[run.seed] = value
    return Side(label, tuple(runs), values)
