"""Few labels: the linear probe and kNN of frozen features trained on 1% and 10% of the train labels, as in the
semi-supervised tables of SimCLR (Chen et al. 2020, Table 7) and BYOL (Grill et al. 2020, Table 2), here on frozen
features.

For each fraction f and each of :data:`LABEL_SUBSETS` label subsets r, a class-balanced subset of n = round(f N)
train rows is drawn with its own seed (``seed + 1 + r``; :func:`ssl_bench.data.datasets.base.balanced_indices`):
the linear probe (:func:`ssl_bench.eval.linear.linear_probe`, its weight decay chosen on a held-out part of those
n rows only) and kNN (k = :data:`K` clamped to n, T = 0.1, cosine) are fitted on them, and the whole test split is
scored. Reported: the mean over the label subsets (``linear_top1_1pct``, ...) and their sample standard deviation
(``..._std``). Fewer than 2 labelled rows per class (the probe holds one out) is refused.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets.base import balanced_indices
from ssl_bench.eval.base import EVALUATIONS, Evaluation, EvaluationOutput, FeatureSplits, MetricColumn, metric_value
from ssl_bench.eval.knn import TEMPERATURE, knn_accuracies
from ssl_bench.eval.linear import linear_probe

FRACTIONS = (0.01, 0.1)
LABEL_SUBSETS = 3
K = 20  # a 1% database holds a few rows per class: k = 200 would vote with most of it


def check_label_count(n_rows: int, num_classes: int, fractions: Sequence[float], evaluation: str) -> None:
    """One :class:`UserError` line unless round(fraction * n_rows) labels give at least two per class for every
    fraction of ``fractions``: what :func:`label_subset` needs, checked before anything is trained."""
    for fraction in fractions:
        n = round(fraction * n_rows)
        if n < 2 * num_classes:
            raise UserError(f"{fraction:.0%} of {n_rows} train rows is {n} labels, fewer than 2 for each of the "
                            f"{num_classes} classes (the probe holds one out); use at least "
                            f"{math.ceil((2 * num_classes - 0.5) / fraction)} training images or drop {evaluation}")


def label_subset(labels: Tensor, num_classes: int, fraction: float, seed: int, evaluation: str = "few-labels") -> Tensor:
    """Sorted indices of a seeded class-balanced subset of round(fraction * N) rows of ``labels: (N,)``; at least
    two per class, else one :class:`UserError` line."""
    check_label_count(len(labels), num_classes, (fraction,), evaluation)
    return balanced_indices(labels.cpu(), num_classes, round(fraction * len(labels)), seed, "the train split")


def few_label_scores(splits: FeatureSplits, fraction: float, seed: int = 0,
                     subsets: int = LABEL_SUBSETS) -> dict[str, list[float]]:
    """Test top-1 of the linear probe and of kNN for each of ``subsets`` label subsets of ``fraction``."""
    scores: dict[str, list[float]] = {"linear": [], "knn": []}
    for subset in range(subsets):
        rows = label_subset(splits.train_labels, splits.num_classes, fraction, seed + 1 + subset)
        rows = rows.to(splits.train.device)
        labelled = FeatureSplits(splits.train[rows], splits.train_labels[rows], splits.test, splits.test_labels,
                                 splits.num_classes)
        scores["linear"].append(float(linear_probe(labelled, seed=seed)["top1"]))
        (knn,) = knn_accuracies(labelled, (min(K, len(rows)),), TEMPERATURE).values()
        scores["knn"].append(float(knn))
    return scores


def _name(fraction: float) -> str:
    return f"{round(100 * fraction)}pct"


def _keys(fractions: Sequence[float] = FRACTIONS) -> tuple[str, ...]:
    return tuple(f"{probe}_top1_{_name(f)}{suffix}" for f in fractions for probe in ("linear", "knn")
                 for suffix in ("", "_std"))


def evaluate_few_labels(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """The registry entry: 1% and 10% of the labels, 3 label subsets each."""
    metrics: dict[str, float] = {}
    for fraction in FRACTIONS:
        for probe, values in few_label_scores(splits, fraction, seed).items():
            metrics[f"{probe}_top1_{_name(fraction)}"] = statistics.fmean(values)
            metrics[f"{probe}_top1_{_name(fraction)}_std"] = statistics.stdev(values)
    protocol = {"fractions": list(FRACTIONS), "label_subsets": LABEL_SUBSETS,
                "label_seeds": f"seed + 1 + r for r < {LABEL_SUBSETS} (class-balanced, without replacement)",
                "linear": "the linear probe (linear) fitted on the labelled rows only, weight decay chosen on a "
                          "held-out part of them", "knn": f"k = {K} (clamped to the labelled rows), T = {TEMPERATURE}, "
                                                          "cosine, the labelled rows as database",
                "reported": "mean over the label subsets; *_std: their sample standard deviation",
                "queries": "test split"}
    return EvaluationOutput(metrics, protocol)


def _column(probe: str, fraction: float) -> MetricColumn:
    key = f"{probe}_top1_{_name(fraction)}"
    return MetricColumn(key, f"{'linear' if probe == 'linear' else 'kNN'} {fraction:.0%} labels", True, 1,
                        metric_value(key))


EVALUATIONS.register("few-labels")(Evaluation(
    name="few-labels", needs="features", evaluate=evaluate_few_labels, metric_keys=_keys(),
    columns=tuple(_column(probe, fraction) for fraction in FRACTIONS for probe in ("linear", "knn")),
    description="linear probe and kNN trained on 1% and 10% of the train labels (3 label subsets each)",
    order=22, check_size=lambda n_rows, num_classes: check_label_count(n_rows, num_classes, FRACTIONS, "few-labels"),
))
