"""Weighted k-nearest-neighbour classification of frozen features, with cosine similarity, on faiss.

The train features are the database and the test features the queries. For a query q with its k most similar
database rows (cosine similarities s_1 >= ... >= s_k, labels y_1..y_k):

    score_c(q) = sum_{i <= k, y_i = c} w_i,    prediction(q) = argmax_c score_c(q),

with ``weighting="exp"``: w_i = exp(s_i / T), the InstDisc rule (Wu et al. 2018) used by lightly's and
solo-learn's benchmarks (lightly: k = 200, T = 0.1), and ``weighting="majority"``: w_i = 1, an unweighted vote.
A tie between class scores goes to the smallest class index, as in scikit-learn's ``KNeighborsClassifier``.
Cosine similarity is the inner product of L2-normalised rows, searched exactly: ``faiss.IndexFlatIP`` (faiss-gpu
or faiss-cpu) or a chunked matmul + top-k in torch (on the GPU when there is one, or when faiss is not installed).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import (
    EVALUATIONS,
    Evaluation,
    EvaluationOutput,
    FeatureSplits,
    MetricColumn,
    metric_value,
    one_label_per_class,
)
from ssl_bench.models.features import check_splits

try:
    import faiss
except ImportError:  # faiss is a default dependency; without it the exact torch search does the same job
    faiss = None

WEIGHTINGS = ("exp", "majority")


def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
    weighting: str = "exp",
    chunk_size: int = 4096,
) -> Tensor:
    """Predicted classes ``(N_test,)`` int64 for ``test_features: (N_test, F)`` given the train split.

    ``train_features: (N_train, F)``, ``train_labels: (N_train,)`` in ``[0, num_classes)``. A ``k`` larger than
    ``N_train`` is clamped to ``N_train`` with a warning. Queries are searched ``chunk_size`` at a time.
    """
    _check_inputs(train_features, train_labels, test_features, None, num_classes, temperature, weighting)
    k = effective_k(k, train_features.shape[0])
    similarities, neighbours = nearest_neighbours(train_features, test_features, k, chunk_size)
    return vote(similarities, train_labels.cpu().long()[neighbours], num_classes, temperature, weighting)


def knn_accuracy(splits: FeatureSplits, k: int = 200, temperature: float = 0.1, weighting: str = "exp") -> float:
    """Top-1 accuracy in [0, 1] of :func:`knn_predict` on the test split of ``splits``."""
    (accuracy,) = knn_accuracies(splits, (k,), temperature, weighting).values()
    return accuracy


def knn_accuracies(splits: FeatureSplits, ks: Sequence[int] = (200, 20), temperature: float = 0.1,
                   weighting: str = "exp") -> dict[int, float]:
    """Top-1 accuracy for each k in ``ks`` (keys: the k actually used), from one search at the largest k.

    The k nearest neighbours are the first k of the max(ks) nearest, so one search serves every k.
    """
    train_features, train_labels, test_features = splits.train, splits.train_labels, splits.test
    _check_inputs(train_features, train_labels, test_features, splits.test_labels, splits.num_classes, temperature,
                  weighting)
    num_classes = splits.num_classes
    used = sorted({effective_k(k, train_features.shape[0]) for k in ks})
    similarities, neighbours = nearest_neighbours(train_features, test_features, used[-1])
    neighbour_labels = train_labels.cpu().long()[neighbours]
    test_labels = splits.test_labels.cpu().long()
    accuracies = {}
    for k in used:
        predictions = vote(similarities[:, :k], neighbour_labels[:, :k], num_classes, temperature, weighting)
        accuracies[k] = (predictions == test_labels).double().mean().item()
    return accuracies


def effective_k(k: int, n_train: int) -> int:
    """``k`` clamped to the database size (with a warning); a k below 1 is a :class:`UserError`."""
    if k < 1:
        raise UserError(f"k must be a positive integer, got {k}")
    if k > n_train:
        warnings.warn(f"k = {k} exceeds the {n_train} train rows; using k = {n_train}", stacklevel=3)
        return n_train
    return k


BACKENDS = ("auto", "faiss", "torch")


def resolve_backend(backend: str = "auto") -> str:
    """The search that ``backend`` runs here: "faiss-gpu", "faiss-cpu" or "torch".

    ``"auto"``: faiss-gpu when it and a GPU are present, else torch when torch sees a GPU (the features stay on
    it) or faiss is not installed, else faiss-cpu. ``"faiss"`` / ``"torch"`` force one.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown kNN backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    faiss_gpu = faiss is not None and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    if backend == "faiss" and faiss is None:
        raise UserError("the faiss kNN backend needs faiss: pip install faiss-cpu (or .[gpu] for faiss-gpu)")
    if backend == "torch" or (backend == "auto" and (faiss is None or (torch.cuda.is_available() and not faiss_gpu))):
        return "torch"
    return "faiss-gpu" if faiss_gpu else "faiss-cpu"


def backend_description(backend: str = "auto") -> str:
    """The library, version and device of the search, for the protocol: e.g. "faiss-cpu 1.9.0 (exact)"."""
    name = resolve_backend(backend)
    if name == "torch":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return f"torch {torch.__version__} matmul + top-k on {device} (exact)"
    return f"{name} {faiss.__version__} IndexFlatIP (exact)"


def nearest_neighbours(
    database: Tensor, queries: Tensor, k: int, chunk_size: int = 4096, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """Exact cosine k-NN: ``(similarities, indices)``, both ``(N_queries, k)`` on the CPU, most similar first.

    Rows are L2-normalised (a zero row stays zero, similarity 0 to everything), with the search
    :func:`resolve_backend` picks for ``backend``; the torch search takes ``chunk_size`` queries at a time.
    """
    if chunk_size < 1:
        raise UserError(f"chunk size must be a positive integer, got {chunk_size}")
    name = resolve_backend(backend)
    if name == "torch":
        return _torch_neighbours(database, queries, k, chunk_size)
    index = faiss.IndexFlatIP(database.shape[1])
    if name == "faiss-gpu":
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(_unit_rows(database))
    similarities, indices = index.search(_unit_rows(queries), k)  # one call: faiss blocks the queries itself, faster
    return torch.from_numpy(similarities), torch.from_numpy(indices)


def _torch_neighbours(database: Tensor, queries: Tensor, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    """The same search as a chunked (queries x database) matmul and top-k, on the GPU when there is one."""
    device = torch.device("cuda") if torch.cuda.is_available() else database.device
    unit_database = F.normalize(database.to(device, torch.float32), dim=1)
    unit_queries = F.normalize(queries.to(device, torch.float32), dim=1)
    parts = [torch.topk(chunk @ unit_database.T, k, dim=1) for chunk in unit_queries.split(chunk_size)]
    return torch.cat([p.values for p in parts]).cpu(), torch.cat([p.indices for p in parts]).cpu()


def vote(
    similarities: Tensor, neighbour_labels: Tensor, num_classes: int, temperature: float, weighting: str
) -> Tensor:
    """argmax_c sum_{i: y_i = c} w_i per row; ``similarities, neighbour_labels: (N, k)`` -> ``(N,)`` int64.

    ``exp`` weights are computed as exp((s_i - s_1) / T): a common factor exp(s_1 / T) per row, which leaves the
    argmax unchanged and keeps small temperatures from overflowing.
    """
    if weighting == "exp":
        weights = torch.exp((similarities.double() - similarities[:, :1].double()) / temperature)
    else:
        weights = torch.ones_like(similarities, dtype=torch.float64)
    scores = torch.zeros(similarities.shape[0], num_classes, dtype=torch.float64)
    scores.scatter_add_(1, neighbour_labels, weights)
    return scores.argmax(dim=1)  # the first maximum: ties go to the smallest class index


def _unit_rows(features: Tensor) -> np.ndarray:
    return np.ascontiguousarray(F.normalize(features.detach().cpu().float(), dim=1).numpy())


def _check_inputs(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor | None,
    num_classes: int,
    temperature: float,
    weighting: str,
) -> None:
    check_splits(train_features, train_labels, test_features, test_labels, num_classes)
    if not temperature > 0:
        raise UserError(f"temperature must be positive, got {temperature}")
    if weighting not in WEIGHTINGS:
        raise UserError(f"unknown kNN weighting {weighting!r}; choose one of: {', '.join(WEIGHTINGS)}")


# ------------------------------------------------------------------------------------------- the registry entry
K = 200  # lightly's benchmark protocol
ALSO_K = 20  # more telling for small databases
TEMPERATURE = 0.1


def evaluate_knn(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """kNN top-1 at k = 200 and k = 20 (each clamped to the database size; the protocol records the k used)."""
    n_train = splits.train.shape[0]
    k, also_k = min(K, n_train), min(ALSO_K, n_train)
    accuracies = knn_accuracies(splits, (k, also_k), TEMPERATURE)
    protocol = {"k": k, "also_k": also_k, "temperature": TEMPERATURE, "similarity": "cosine", "weights": "exp(s/T)",
                "database": "train split", "queries": "test split", "library": backend_description()}
    return EvaluationOutput({"knn_top1": accuracies[k], "knn_top1_k20": accuracies[also_k]}, protocol)


LARGE_K_SHARE = 0.05  # k above this share of the database votes well beyond an image's own neighbourhood


def large_k_caveat(metrics: dict[str, Any], protocol: dict[str, Any]) -> str | None:
    """A run's caveat when k is a large share of a small database (k = 200 of 1,000 images: SimCLR read 49.8
    against 67.0 at k = 20): the k = 20 column beside it is the better-suited number there."""
    k, n_train = (protocol.get("knn") or {}).get("k"), metrics.get("n_train")
    if not isinstance(k, int) or not isinstance(n_train, int) or k <= LARGE_K_SHARE * n_train:
        return None
    return (f"kNN k = {k} votes with {k / n_train:.0%} of the {n_train}-image database; on a database this small "
            f"read k = {ALSO_K} beside it")


EVALUATIONS.register("knn")(Evaluation(
    name="knn", needs="features", evaluate=evaluate_knn, metric_keys=("knn_top1", "knn_top1_k20"),
    caveat=large_k_caveat,
    columns=(MetricColumn("knn_top1", "kNN top-1", True, 1, metric_value("knn_top1")),
             MetricColumn("knn_top1_k20", "kNN top-1 (k=20)", True, 1, metric_value("knn_top1_k20"))),
    description="weighted kNN top-1 on the test split, train split as database (k=200 and k=20, T=0.1, cosine)",
    order=10, check_size=one_label_per_class("knn"),
))
