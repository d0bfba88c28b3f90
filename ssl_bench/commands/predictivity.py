"""``ssl-bench predictivity``: how well label-free metrics and early accuracies rank the trained runs of a store
as their final accuracy does (Spearman and Kendall with bootstrap intervals, per method and across methods)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ssl_bench.commands._flags import add_dataclass_arguments, settings_from
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import setting, shared

NAME = "predictivity"
HELP = ("Rank correlation of predictors (closed-form counterparts, RankMe, alpha-ReQ, LiDAR, effective rank, early "
        "kNN) with final accuracy over the trained runs of a store, per method and across methods.")
EXAMPLE = "ssl-bench predictivity --store results/predict.sqlite --suite predict-fashion-mnist --targets linear_top1"


@dataclass(frozen=True)
class PredictivitySettings:
    """What ``ssl-bench predictivity`` correlates, over which runs."""

    store: str | None = shared("store")
    suite: str | None = setting(None, help="only this suite's runs (default: every suite in the store)")
    predictors: list[str] | None = setting(
        None, comma_separated=True, metavar="A,B,...",
        help="stored metrics, effective_rank / early_knn from the epoch records, or closed_form_knn / "
             "closed_form_linear (the closed-form counterpart's); default: all of these, with rankme, alpha_req, lidar")
    targets: list[str] | None = setting(None, comma_separated=True, metavar="A,B,...",
                                        help="final accuracies to predict (default: linear_top1,knn_top1)")
    resamples: int = setting(2000, minimum=1, help="bootstrap resamples of the configurations")
    confidence: float = setting(0.95, minimum=0, exclusive_minimum=True, maximum=0.999,
                                help="confidence level of the bootstrap intervals")
    json: bool = shared("json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, PredictivitySettings)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.bench.store import ResultStore
    from ssl_bench.leaderboard.predictivity import (
        DEFAULT_PREDICTORS,
        DEFAULT_TARGETS,
        predictivity,
        predictivity_json,
        predictivity_markdown,
    )

    settings = settings_from(args, PredictivitySettings)
    predictors = DEFAULT_PREDICTORS if settings.predictors is None else settings.predictors
    targets = DEFAULT_TARGETS if settings.targets is None else settings.targets
    if not predictors or not targets:
        raise UserError("--predictors and --targets each need at least one name")
    with ResultStore(settings.store, create=False) as store:
        rows = predictivity(store.runs(suite=settings.suite), predictors, targets, settings.resamples,
                            settings.confidence)
    if not rows:
        raise UserError(f"no run has both a predictor ({', '.join(predictors)}) and a target "
                        f"({', '.join(targets)}); evaluate with rankme, alpha-req or lidar, train "
                        "with --curve-every, or add closed_form: true to a suite's trained block")
    print(json.dumps(predictivity_json(rows)) if settings.json else predictivity_markdown(rows, settings.confidence),
          end="" if not settings.json else "\n")
    return 0
