"""Minibatch training of a linear map with the real graph losses, against LDA (scikit-learn) on separable classes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from ssl_bench.core.errors import UserError
from ssl_bench.data.graph import label_graph
from ssl_bench.spectral.linear_training import train_linear_map
from ssl_bench.spectral.verification import max_angle


@pytest.fixture(scope="module")
def classes() -> tuple[np.ndarray, np.ndarray]:
    """Three classes separated along two of six whitened directions; the rest is within-class noise."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    means = np.array([[3.0, 0.0], [-1.5, 2.6], [-1.5, -2.6]])
    x = np.hstack([means[labels], np.zeros((120, 4))]) + rng.normal(size=(120, 6))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, labels


@pytest.mark.parametrize("loss, params", [("vicreg", {"invariance_weight": 5.0}), ("barlowtwins", {"off_diagonal_weight": 1.0})])
def test_label_graph_training_recovers_the_lda_subspace(classes: tuple, loss: str, params: dict) -> None:
    x, labels = classes
    lda = LinearDiscriminantAnalysis(n_components=2, solver="eigen").fit(x, labels).scalings_[:, :2]
    weights = train_linear_map(x, label_graph(labels), loss, 2, params, steps=400, batch_size=64, lr=1e-2)
    untrained = train_linear_map(x, label_graph(labels), loss, 2, params, steps=0)
    assert max_angle(x @ weights, x @ lda) < 5.0
    assert max_angle(x @ untrained, x @ lda) > 20.0  # the start is far: training did the work


def test_bad_input() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(UserError):
        train_linear_map(x, label_graph(np.arange(4)), "vicreg", 1)  # no edges
    with pytest.raises(UserError):
        train_linear_map(x, sp.csr_matrix(np.ones((4, 4)) - np.eye(4)), "byol", 1)
