"""Few labels: class-balanced label subsets drawn by their own seeds, scored by the linear probe and kNN, checked
against scikit-learn's LogisticRegression and KNeighborsClassifier fitted on the same labelled rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import FeatureSplits, evaluate_features
from ssl_bench.eval.few_labels import K, few_label_scores, label_subset
from ssl_bench.eval.linear import linear_probe


def _blobs(n_train: int = 1000, n_test: int = 400, dim: int = 16, seed: int = 0) -> FeatureSplits:
    generator = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(10, dim, generator=generator)
    train_labels, test_labels = torch.arange(n_train) % 10, torch.arange(n_test) % 10
    train = centres[train_labels] + 1.5 * torch.randn(n_train, dim, generator=generator)
    test = centres[test_labels] + 1.5 * torch.randn(n_test, dim, generator=generator)
    return FeatureSplits(train, train_labels, test, test_labels, 10)


def test_a_label_subset_is_balanced_seeded_and_its_own_per_seed():
    labels = torch.arange(1000) % 10
    first = label_subset(labels, 10, 0.1, seed=1)
    assert len(first) == 100 and torch.bincount(labels[first]).tolist() == [10] * 10
    assert torch.equal(first, label_subset(labels, 10, 0.1, seed=1))
    assert not torch.equal(first, label_subset(labels, 10, 0.1, seed=2))
    with pytest.raises(UserError, match="1% of 1000 train rows is 10 labels, fewer than 2 for each of the 10 classes"):
        label_subset(labels, 10, 0.01, seed=1)


def test_each_subsets_scores_match_scikit_learn_on_the_same_labelled_rows():
    splits = _blobs()
    scores = few_label_scores(splits, 0.1, seed=0, subsets=2)
    for subset, (ours_linear, ours_knn) in enumerate(zip(scores["linear"], scores["knn"])):
        rows = label_subset(splits.train_labels, 10, 0.1, seed=1 + subset)
        x, y = splits.train[rows].double().numpy(), splits.train_labels[rows].numpy()
        mean, std = x.mean(0), x.std(0)
        test = (splits.test.double().numpy() - mean) / std
        weight_decay = linear_probe(FeatureSplits(splits.train[rows], splits.train_labels[rows], splits.test,
                                                  splits.test_labels, 10), seed=0)["fit"]["weight_decay"]
        # ours: mean cross-entropy + weight_decay / 2 ||W||^2; scikit-learn: C * sum + 1/2 ||W||^2
        reference = LogisticRegression(C=1 / (weight_decay * len(y)), max_iter=5000, tol=1e-10).fit((x - mean) / std, y)
        assert ours_linear == pytest.approx(reference.score(test, splits.test_labels.numpy()), abs=0.01)
        knn = KNeighborsClassifier(n_neighbors=K, metric="cosine", algorithm="brute",
                                   weights=lambda d: np.exp((1 - d) / 0.1)).fit(x, y)
        assert ours_knn == pytest.approx(knn.score(splits.test.double().numpy(), splits.test_labels.numpy()), abs=0.005)


def test_the_registered_evaluation_reports_the_mean_and_spread_of_three_subsets():
    splits = _blobs(n_train=2000)
    result = evaluate_features(splits, ["few-labels"])
    one_percent = few_label_scores(splits, 0.01)
    assert result["linear_top1_1pct"] == pytest.approx(np.mean(one_percent["linear"]))
    assert result["knn_top1_1pct_std"] == pytest.approx(np.std(one_percent["knn"], ddof=1))
    assert result["protocol"]["few-labels"]["label_subsets"] == 3 and len(one_percent["linear"]) == 3
    assert result["linear_top1_1pct"] < result["linear_top1_10pct"]  # more labels, a better probe on these blobs
