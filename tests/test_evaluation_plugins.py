"""Bring your own evaluation: a registered Evaluation is run by the commands and held to its declared contract."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.eval import (
    EVALUATIONS,
    Evaluation,
    EvaluationOutput,
    FeatureSplits,
    MetricColumn,
    evaluate_features,
    metric_value,
)


def nearest_centroid(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """Top-1 of assigning each test row to the class whose mean train feature is nearest (Euclidean)."""
    centroids = torch.stack([splits.train[splits.train_labels == c].mean(dim=0) for c in range(splits.num_classes)])
    predicted = torch.cdist(splits.test.double(), centroids.double()).argmin(dim=1)
    return EvaluationOutput({"centroid_top1": (predicted == splits.test_labels).double().mean().item()},
                            {"distance": "euclidean"})


def plugin(evaluate=nearest_centroid, metric_keys=("centroid_top1",)) -> Evaluation:
    return Evaluation(name="nearest-centroid", needs="features", evaluate=evaluate, metric_keys=metric_keys,
                      columns=(MetricColumn("centroid_top1", "centroid top-1", True, 1, metric_value("centroid_top1")),),
                      description="nearest class centroid top-1", order=90)


@pytest.fixture
def splits() -> FeatureSplits:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 5))
    train_labels, test_labels = rng.integers(0, 3, 90), rng.integers(0, 3, 40)
    train = means[train_labels] + rng.normal(size=(90, 5))
    test = means[test_labels] + rng.normal(size=(40, 5))
    return FeatureSplits(torch.tensor(train, dtype=torch.float32), torch.tensor(train_labels),
                         torch.tensor(test, dtype=torch.float32), torch.tensor(test_labels), 3)


def test_a_registered_evaluation_runs_beside_the_others_and_matches_sklearn(splits, monkeypatch):
    monkeypatch.setitem(EVALUATIONS._items, "nearest-centroid", plugin())
    result = evaluate_features(splits, ["knn", "nearest-centroid"])
    reference = NearestCentroid().fit(splits.train.numpy(), splits.train_labels.numpy())
    assert result["centroid_top1"] == pytest.approx(reference.score(splits.test.numpy(), splits.test_labels.numpy()))
    assert result["protocol"]["nearest-centroid"] == {"distance": "euclidean"} and "knn_top1" in result


def test_the_commands_offer_a_registered_evaluation(monkeypatch, capsys):
    monkeypatch.setitem(EVALUATIONS._items, "nearest-centroid", plugin())
    code = main(["spectral", "--method", "classical-mds", "--dataset", "synthetic", "--subset", "200",
                 "--evaluations", "nearest-centroid", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and 0 <= result["centroid_top1"] <= 1 and "knn_top1" not in result


@pytest.mark.parametrize("evaluation, message", [
    (plugin(evaluate=lambda splits, seed: {"centroid_top1": 0.5}), "returned a dict; its evaluate function must"),
    (plugin(metric_keys=("centroid",)), "returned the metrics ['centroid_top1'] but declares metric_keys=('centroid',)"),
    (plugin(evaluate=lambda splits, seed: EvaluationOutput({"knn_top1": 0.5}, {}), metric_keys=("knn_top1",)),
     "returned ['knn_top1'], already another evaluation's metric"),
])
def test_an_evaluation_that_breaks_its_contract_is_named(splits, monkeypatch, capsys, evaluation, message):
    monkeypatch.setitem(EVALUATIONS._items, "nearest-centroid", evaluation)
    with pytest.raises(UserError, match=re.escape(message)):
        evaluate_features(splits, ["knn", "nearest-centroid"])
    code = main(["spectral", "--method", "classical-mds", "--dataset", "synthetic", "--subset", "200",
                 "--evaluations", "knn", "nearest-centroid"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: evaluation 'nearest-centroid'")
