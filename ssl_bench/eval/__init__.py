"""Evaluation of frozen features: weighted kNN (faiss, or torch on a GPU) and a linear probe, each number with its protocol.

The train split is the kNN database and the probe's training data (with its own held-out part for choosing the
regularisation); the test split is only ever scored.
"""

from __future__ import annotations

from torch import Tensor

from ssl_bench.eval.features import cached_features, check_splits, extract_features
from ssl_bench.eval.knn import backend_description, knn_accuracies, knn_accuracy, knn_predict
from ssl_bench.eval.linear import linear_probe

__all__ = [
    "cached_features",
    "evaluate_features",
    "extract_features",
    "knn_accuracies",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
]

KNN_K = 200
KNN_ALSO_K = 20
KNN_TEMPERATURE = 0.1


def evaluate_features(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    knn: bool = True,
    linear: bool = True,
    seed: int = 0,
) -> dict[str, object]:
    """kNN top-1 (k = 200 and 20, T = 0.1, exp(s/T) weights) and linear-probe top-1 of frozen features.

    ``train_features: (N_train, F)``, ``test_features: (N_test, F)``, labels ``(N,)`` in ``[0, num_classes)``.
    Returns plain Python types only (JSON-serialisable); accuracies are fractions in [0, 1], ``None`` for an
    evaluation that was not asked for (and ``None`` for its protocol). ``linear_fit``: what the probe's fit
    found on the train split (chosen weight decay, held-out top-1, iterations). When the train split has fewer
    than k rows, k is clamped to its size and the protocol records the k actually used.
    """
    check_splits(train_features, train_labels, test_features, test_labels, num_classes)
    n_train = train_features.shape[0]
    k, also_k = min(KNN_K, n_train), min(KNN_ALSO_K, n_train)
    knn_top1 = knn_top1_also = linear_top1 = linear_fit = None
    knn_protocol = linear_protocol = None
    if knn:
        accuracies = knn_accuracies(
            train_features, train_labels, test_features, test_labels, num_classes, (k, also_k), KNN_TEMPERATURE
        )
        knn_top1, knn_top1_also = accuracies[k], accuracies[also_k]
        knn_protocol = {
            "k": k,
            "also_k": also_k,
            "temperature": KNN_TEMPERATURE,
            "similarity": "cosine",
            "weights": "exp(s/T)",
            "database": "train split",
            "queries": "test split",
            "library": backend_description(),
        }
    if linear:
        probe = linear_probe(train_features, train_labels, test_features, test_labels, num_classes, seed=seed)
        linear_top1, linear_fit, linear_protocol = probe["top1"], probe["fit"], probe["protocol"]
    return {
        "knn_top1": knn_top1,
        "knn_top1_k20": knn_top1_also,
        "linear_top1": linear_top1,
        "linear_fit": linear_fit,
        "n_train": int(n_train),
        "n_test": int(test_features.shape[0]),
        "feature_dim": int(train_features.shape[1]),
        "protocol": {"knn": knn_protocol, "linear": linear_protocol},
    }
