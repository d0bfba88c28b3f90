"""Learning curves: kNN top-1 of the backbone every N epochs of training (``train --curve-every N``).

Up to :data:`CURVE_IMAGES` of the training images (a seeded class-balanced draw) are split, stratified by class,
into a database and queries (half each, :func:`ssl_bench.eval.linear.stratified_split`); the backbone encodes them
in eval mode under ``inference_mode`` after the epoch, and weighted kNN (k = :data:`K` clamped, T = 0.1, cosine)
scores the queries. The images were seen by the label-free training, never their labels; the query labels are only
scored. Training is not changed (no random draw, no BatchNorm update), so a run's weights are the same with the
curve on or off, and a resumed run's curve equals an uninterrupted one's. Each epoch record gains
``knn_curve_top1`` and ``curve_seconds`` (its cost, beside the epoch's ``seconds``). Measured on the quick
suite's SimCLR cell (2,000 images, batch 128, AMD EPYC with AVX-512, 2 cores): 1.66 s of curve for 13.8 s of
training over 5 epochs at N = 1, 12% (2.4% at N = 5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ssl_bench.core.devices import inference_batch
from ssl_bench.data.augment import normalize
from ssl_bench.data.datasets import ImageDataset
from ssl_bench.data.datasets.base import balanced_indices
from ssl_bench.eval.base import FeatureSplits, MetricColumn, nested_value
from ssl_bench.eval.knn import TEMPERATURE, knn_accuracies
from ssl_bench.eval.linear import stratified_split

CURVE_IMAGES = 500  # encoding them after each epoch is the curve's cost: 500 keep it near 5% of a convnet's epoch
QUERY_FRACTION = 0.5  # 250 queries: a binomial standard error of about 3 points, half that of 100
K = 20
SUMMARY = "learning_curve"  # a trained row's metrics key of :func:`curve_summary`
# the leaderboard's columns of the curve: its last and its best point, named as such (lightly reports the best
# epoch, solo-learn the last), and where the best was
COLUMNS = (MetricColumn("curve_last", "curve kNN, last epoch", True, 1, nested_value(SUMMARY, "last")),
           MetricColumn("curve_best", "curve kNN, best epoch", True, 1, nested_value(SUMMARY, "best")),
           MetricColumn("curve_best_epoch", "curve: best at epoch", False, 0, nested_value(SUMMARY, "best_epoch"),
                        ranked=False))


@dataclass(frozen=True)
class CurveData:
    """The database and query images (uint8, on the training device) and their labels."""

    database: Tensor
    database_labels: Tensor
    queries: Tensor
    query_labels: Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def curve_data(data: ImageDataset, seed: int, mean: tuple[float, ...], std: tuple[float, ...],
               device: torch.device) -> CurveData:
    """The seeded draw of the training images the curve is measured on (see the module docstring)."""
    rows = balanced_indices(data.labels, data.num_classes, min(CURVE_IMAGES, len(data)), seed, data.name)
    labels = data.labels[rows]
    database, queries = stratified_split(labels, QUERY_FRACTION, seed)
    images = data.images[rows]
    return CurveData(images[database].to(device), labels[database].to(device), images[queries].to(device),
                     labels[queries].to(device), data.num_classes, tuple(mean), tuple(std))


def curve_point(backbone: nn.Module, data: CurveData) -> dict[str, float]:
    """``{"knn_curve_top1", "curve_seconds"}`` of ``backbone`` now; its training mode is given back."""
    started = time.perf_counter()
    modes = [(module, module.training) for module in backbone.modules()]
    backbone.eval()
    try:
        with torch.inference_mode():
            database = _encode(backbone, data.database, data)
            queries = _encode(backbone, data.queries, data)
    finally:
        for module, training in modes:
            module.training = training
    splits = FeatureSplits(database.clone(), data.database_labels, queries.clone(), data.query_labels,
                           data.num_classes)
    (accuracy,) = knn_accuracies(splits, (min(K, len(database)),), TEMPERATURE).values()
    return {"knn_curve_top1": accuracy, "curve_seconds": time.perf_counter() - started}


def _encode(backbone: nn.Module, images: Tensor, data: CurveData) -> Tensor:
    batch = inference_batch(images.device)
    return torch.cat([backbone(normalize(images[start : start + batch], data.mean, data.std)).flatten(1).float()
                      for start in range(0, len(images), batch)])


def curve_summary(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last and the best point of a run's curve, named as such (None without a curve)."""
    points = [(record["epoch"], record["knn_curve_top1"]) for record in history if "knn_curve_top1" in record]
    if not points:
        return None
    best_epoch, best = max(points, key=lambda point: (point[1], -point[0]))
    return {"last_epoch": points[-1][0], "last": points[-1][1], "best_epoch": best_epoch, "best": best,
            "protocol": f"kNN k={K} T={TEMPERATURE} of {CURVE_IMAGES} training images at most "
                        f"({1 - QUERY_FRACTION:.0%} database, {QUERY_FRACTION:.0%} queries), backbone features after "
                        "the epoch"}
