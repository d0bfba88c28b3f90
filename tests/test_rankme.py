"""RankMe against hand computations on matrices whose singular values are known by construction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssl_bench.cli import main
from ssl_bench.eval import FeatureSplits, evaluate_features
from ssl_bench.eval.rankme import EPSILON, rankme


def with_singular_values(values: list[float], n: int = 40, seed: int = 0) -> torch.Tensor:
    """U diag(values) V^T: (n, len(values)) with U orthonormal columns and V orthogonal."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, len(values))))
    v, _ = np.linalg.qr(rng.standard_normal((len(values), len(values))))
    return torch.from_numpy(u @ np.diag(values) @ v.T)


def by_hand(values: list[float]) -> float:
    s = np.asarray(values, dtype=float)
    p = s / s.sum() + EPSILON
    return float(np.exp(-(p * np.log(p)).sum()))


@pytest.mark.parametrize("values", [[3.0, 2.0, 1.0, 0.5, 0.25], [1.0] * 8, [5.0] + [0.0] * 7, [1.0, 1.0, 0, 0, 0]])
def test_rankme_of_known_spectra(values):
    assert rankme(with_singular_values(values)) == pytest.approx(by_hand(values), rel=1e-9)


def test_flat_spectrum_gives_its_rank_and_rank_one_gives_one():
    assert rankme(with_singular_values([2.0] * 6 + [0.0] * 4)) == pytest.approx(6.0, rel=1e-4)
    assert rankme(with_singular_values([7.0] + [0.0] * 9)) == pytest.approx(1.0, rel=1e-4)
    assert rankme(with_singular_values([1.0] * 10)) > rankme(with_singular_values([1.0, 0.5] * 5))


def test_degenerate_input_is_refused():
    with pytest.raises(ValueError, match="all-zero"):
        rankme(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="non-empty"):
        rankme(torch.zeros(0, 3))


def test_registry_entry_scores_the_train_features_without_labels():
    train = with_singular_values([3.0, 1.0, 1.0, 0.5], seed=1).float()
    labels = torch.arange(40) % 2
    result = evaluate_features(FeatureSplits(train, labels, train[:10], labels[:10], 2), ["rankme"])
    assert result["rankme"] == pytest.approx(by_hand([3.0, 1.0, 1.0, 0.5]), rel=1e-5)
    assert result["protocol"]["rankme"]["epsilon"] == EPSILON and "knn_top1" not in result


def test_baselines_get_the_label_free_columns_from_the_cli(capsys):
    assert main(["eval", "--baseline", "raw-pixels", "--dataset", "synthetic", "--subset", "200",
                 "--evaluations", "knn", "rankme", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rankme"] > 1.0 and "knn_top1" in result and "linear_top1" not in result
