"""Robustness: kNN top-1 of a trained run's (or an encoder row's) backbone on corrupted copies of the test split
(:mod:`ssl_bench.data.corruptions`: Gaussian noise, blur, contrast, pixelation, rotation, elastic deformation at
five severities each, generated deterministically from the clean images), with the run's training images as the
kNN database (k = 20, T = 0.1, cosine).

On a seeded draw of ``n`` test images: ``clean_top1``; per corruption the mean over its severities; the mean
corruption accuracy ``mean_corrupted_top1`` over all 30 (corruption, severity) pairs (ImageNet-C's mCA, unweighted)
and ``relative`` = mean_corrupted_top1 / clean_top1. Each (corruption, severity) is drawn with its own seed
(``seed + 100 c + s``).
"""

from __future__ import annotations

import statistics
from typing import Any

import torch

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import (
    EVALUATIONS,
    EncoderTarget,
    Evaluation,
    FeatureSplits,
    MetricColumn,
    nested_value,
    one_label_per_class,
)
from ssl_bench.eval.knn import TEMPERATURE, knn_accuracies

N_IMAGES = 1000
K = 20


def evaluate_robustness(target: EncoderTarget, n: int = N_IMAGES, seed: int = 0) -> dict[str, Any]:
    """The registry entry (see the module docstring)."""
    from ssl_bench.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
    from ssl_bench.models.features import extract_features

    if target.train is None:
        raise UserError("robustness needs the row's training images (a trained run or an encoder row); drop it for "
                        "this row")
    if not isinstance(n, int) or n < 2:
        raise UserError(f"robustness n must be an integer >= 2, got {n!r}")
    train, test = target.train(), target.test
    encoder = target.encoder("backbone")
    chosen = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[: min(n, len(test))].sort().values
    images, labels = test.images[chosen], test.labels[chosen].to(target.device)
    database = extract_features(encoder, train.images, 512, device=target.device)
    database_labels = train.labels.to(target.device)
    k = min(K, len(database))

    def accuracy(queries: torch.Tensor) -> float:
        features = extract_features(encoder, queries, 512, device=target.device)
        (value,) = knn_accuracies(FeatureSplits(database, database_labels, features, labels, train.num_classes),
                                  (k,), TEMPERATURE).values()
        return float(value)

    clean = accuracy(images)
    per_severity = {name: [accuracy(corrupt(images, name, severity, seed + 100 * index + severity))
                           for severity in SEVERITIES] for index, name in enumerate(CORRUPTIONS)}
    mean = statistics.fmean(value for values in per_severity.values() for value in values)
    return {"clean_top1": clean, "mean_corrupted_top1": mean, "relative": mean / clean if clean else None,
            "per_corruption": {name: statistics.fmean(values) for name, values in per_severity.items()},
            "per_severity": per_severity,
            "protocol": {"images": f"{len(chosen)} test images (seeded draw, seed {seed})",
                         "classifier": f"kNN k={k} T={TEMPERATURE} cosine, the run's training images as database",
                         "corruptions": list(CORRUPTIONS), "severities": list(SEVERITIES),
                         "generation": "ssl_bench.data.corruptions, seed + 100 * corruption index + severity",
                         "features": "backbone"}}



EVALUATIONS.register("robustness")(Evaluation(
    name="robustness", needs="encoder", evaluate=evaluate_robustness, metric_keys=("robustness",),
    columns=(MetricColumn("robustness_mca", "kNN top-1, corrupted (mean)", True, 1,
                          nested_value("robustness", "mean_corrupted_top1")),
             MetricColumn("robustness_relative", "corrupted / clean", False, 2, nested_value("robustness", "relative"),
                          ranked=False)),
    description="kNN top-1 on the test split under 6 corruptions x 5 severities (mean, and relative to clean)",
    order=57, settings=("n", "seed"), check_size=one_label_per_class("robustness"),
))
