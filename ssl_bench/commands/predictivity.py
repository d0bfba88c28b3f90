"""``ssl-bench predictivity``: how well label-free metrics and early accuracies rank the trained runs of a store
as their final accuracy does (Spearman and Kendall with bootstrap intervals, per method and across methods)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from ssl_bench.commands._flags import add_dataclass_arguments, settings_from
from ssl_bench.core.errors import UserError
from ssl_bench.core.settings import setting, shared

DEFAULT_PREDICTORS = ("rankme", "alpha_req", "lidar", "effective_rank", "early_knn")
DEFAULT_TARGETS = ("linear_top1", "knn_top1")
NAME = "predictivity"
HELP = ("Rank correlation of predictors (RankMe, alpha-ReQ, LiDAR, effective rank, early kNN) with final accuracy "
        "over the trained runs of a store, per method and across methods.")
EXAMPLE = "ssl-bench predictivity --store results/predict.sqlite --suite predict-fashion-mnist --targets linear_top1"


@dataclass(frozen=True)
class PredictivitySettings:
    """What ``ssl-bench predictivity`` correlates, over which runs."""

    store: str | None = shared("store")
    suite: str | None = setting(None, help="only this suite's runs (default: every suite in the store)")
    predictors: list[str] = setting(default_factory=lambda: list(DEFAULT_PREDICTORS), comma_separated=True,
                                    metavar="A,B,...",
                                    help="stored metrics, or effective_rank / early_knn from the epoch records")
    targets: list[str] = setting(default_factory=lambda: list(DEFAULT_TARGETS), comma_separated=True,
                                 metavar="A,B,...", help="final accuracies to predict")
    resamples: int = setting(2000, minimum=1, help="bootstrap resamples of the configurations")
    confidence: float = setting(0.95, minimum=0, exclusive_minimum=True, maximum=0.999,
                                help="confidence level of the bootstrap intervals")
    json: bool = shared("json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, PredictivitySettings)


def run(args: argparse.Namespace) -> int:
    from ssl_bench.bench.store import ResultStore
    from ssl_bench.leaderboard.predictivity import predictivity, predictivity_json, predictivity_markdown

    settings = settings_from(args, PredictivitySettings)
    if not settings.predictors or not settings.targets:
        raise UserError("--predictors and --targets each need at least one name")
    with ResultStore(settings.store, create=False) as store:
        rows = predictivity(store.runs(suite=settings.suite), settings.predictors, settings.targets,
                            settings.resamples, settings.confidence)
    if not rows:
        raise UserError(f"no run has both a predictor ({', '.join(settings.predictors)}) and a target "
                        f"({', '.join(settings.targets)}); evaluate with rankme, alpha-req or lidar, or train "
                        "with --curve-every")
    print(json.dumps(predictivity_json(rows)) if settings.json else predictivity_markdown(rows, settings.confidence),
          end="" if not settings.json else "\n")
    return 0
