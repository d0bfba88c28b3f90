"""Relation graphs against brute-force definitions, scikit-learn's kneighbors_graph and the loss's pair_graph."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import kneighbors_graph

from ssl_bench.core.errors import UserError
from ssl_bench.data.graph import knn_graph, knn_search, label_graph, union, validate_graph, views_graph
from ssl_bench.methods.losses import pair_graph


def _brute_force_knn(x: np.ndarray, k: int) -> np.ndarray:
    """Directed 0/1 kNN adjacency by a double loop over all pairs (self excluded)."""
    n = x.shape[0]
    adjacency = np.zeros((n, n))
    for i in range(n):
        distances = [np.sum((x[i] - x[j]) ** 2) if j != i else np.inf for j in range(n)]
        for j in np.argsort(distances, kind="stable")[:k]:
            adjacency[i, j] = 1.0
    return adjacency


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(120, 5))


def test_views_graph_matches_pair_graph_of_the_losses() -> None:
    for images, views in [(7, 2), (5, 4), (1, 3)]:
        expected = pair_graph(images, views).numpy()
        np.testing.assert_array_equal(views_graph(images, views).toarray(), expected)


def test_label_graph_is_same_label_off_diagonal() -> None:
    labels = np.random.default_rng(1).integers(0, 4, size=40)
    expected = (labels[:, None] == labels[None, :]).astype(float)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_array_equal(label_graph(labels).toarray(), expected)


@pytest.mark.parametrize("symmetrize", ["or", "and", "mutual"])
def test_exact_knn_graph_matches_brute_force(points: np.ndarray, symmetrize: str) -> None:
    directed = _brute_force_knn(points, 6)
    expected = np.maximum(directed, directed.T) if symmetrize == "or" else np.minimum(directed, directed.T)
    np.testing.assert_array_equal(knn_graph(points, 6, symmetrize=symmetrize).toarray(), expected)


def test_knn_graph_matches_sklearn_kneighbors_graph(points: np.ndarray) -> None:
    directed = kneighbors_graph(points, 8, mode="distance", include_self=False)
    expected = directed.maximum(directed.T).toarray()
    ours = knn_graph(points, 8, weights="distance").toarray()
    np.testing.assert_array_equal(ours > 0, expected > 0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_inner_product_knn_ranks_by_cosine(points: np.ndarray) -> None:
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    distances, indices = knn_search(unit, unit, 4, metric="ip", exclude_self=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    np.testing.assert_array_equal(indices, np.argsort(-cosine, axis=1)[:, :4])
    np.testing.assert_allclose(distances, 1 - np.take_along_axis(cosine, indices, axis=1), atol=1e-6)


@pytest.mark.parametrize("method", ["hnsw", "ivf"])
def test_approximate_knn_graph_has_high_recall(method: str) -> None:
    x = np.random.default_rng(2).normal(size=(3000, 8))
    exact = knn_graph(x, 10)
    approximate = knn_graph(x, 10, method=method)
    recall = exact.multiply(approximate).sum() / exact.sum()
    assert recall > 0.9, recall


def test_duplicate_rows_never_list_themselves() -> None:
    x = np.repeat(np.random.default_rng(3).normal(size=(10, 3)), 3, axis=0)
    _, indices = knn_search(x, x, 2, exclude_self=True)
    assert not np.any(indices == np.arange(30)[:, None])
    assert validate_graph(knn_graph(x, 2)).diagonal().sum() == 0


def test_union_is_edgewise_or() -> None:
    a, b = views_graph(6, 2), knn_graph(np.random.default_rng(4).normal(size=(12, 2)), 2)
    np.testing.assert_array_equal(union(a, b).toarray(), np.maximum(a.toarray(), b.toarray()))


@pytest.mark.parametrize(
    "bad",
    [
        sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]])),
        sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 0.0]])),
        sp.csr_matrix(np.array([[0.0, -1.0], [-1.0, 0.0]])),
        sp.csr_matrix(np.ones((2, 3))),
        np.zeros((2, 2)),
    ],
)
def test_validate_graph_rejects_bad_graphs(bad: object) -> None:
    with pytest.raises(UserError):
        validate_graph(bad)


def test_bad_arguments_raise_user_errors(points: np.ndarray) -> None:
    with pytest.raises(UserError):
        knn_graph(points, 5, symmetrize="sometimes")
    with pytest.raises(UserError):
        knn_graph(points, 500)
    with pytest.raises(UserError):
        knn_graph(points[0], 2)
    with pytest.raises(UserError):
        union(views_graph(2, 2), views_graph(3, 2))
