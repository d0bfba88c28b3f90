"""Landmark MDS (de Silva & Tenenbaum 2004): classical MDS on m landmarks, every other point triangulated.

1. Pick m landmarks (uniformly at random, or by max-min / farthest-point selection).
2. Classical MDS of their (m, m) squared distances Delta_L: eigenpairs (lambda_k, u_k), mu = column means.
3. Each point x with squared distances delta_x (m,) to the landmarks embeds as
       z(x) = -1/2 L^# (delta_x - mu),   L^# = rows u_k^T / sqrt(lambda_k)   (see :func:`classical_mds.triangulate`).
For a configuration that is exactly Euclidean in K dimensions and K + 1 landmarks in general position this
recovers it exactly up to a rigid motion. Cost O(N m F + m^3) time and O(N m) memory in chunks of rows.
"""

from __future__ import annotations

import numpy as np

from ssl_bench.spectral.base import (
    SPECTRAL_METHODS,
    SpectralEstimator,
    check_fitted,
    check_matrix,
    check_n_components,
    squared_distances,
)
from ssl_bench.spectral.methods.classical_mds import classical_mds, triangulate

CHUNK_ROWS = 8192


def choose_landmarks(x: np.ndarray, n_landmarks: int, strategy: str, seed: int) -> np.ndarray:
    """Indices of ``n_landmarks`` rows: ``"random"`` (without replacement) or ``"maxmin"`` (farthest point first)."""
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return np.sort(rng.choice(x.shape[0], size=n_landmarks, replace=False))
    if strategy != "maxmin":
        raise ValueError(f"unknown landmark strategy {strategy!r}; choose one of: random, maxmin")
    chosen = [int(rng.integers(x.shape[0]))]
    nearest = squared_distances(x, x[chosen])[:, 0]
    for _ in range(n_landmarks - 1):
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, squared_distances(x, x[chosen[-1:]])[:, 0])
    return np.array(chosen)


@SPECTRAL_METHODS.register("landmark-mds")
class LandmarkMDS(SpectralEstimator):
    """Landmark MDS of the rows of X (Euclidean distances). ``transform`` triangulates new rows.

    Attributes: ``landmarks_`` (m,) row indices, ``landmark_embedding_`` (m, K), ``eigenvalues_`` (K,), ``embedding_`` (N, K).
    Reference: V. de Silva, J. B. Tenenbaum, "Sparse multidimensional scaling using landmark points", 2004.
    """

    settings = ("n_landmarks",)

    def __init__(self, n_components: int = 2, n_landmarks: int = 1000, landmarks: str = "random", random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_landmarks = n_landmarks
        self.landmarks = landmarks
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> LandmarkMDS:
        x = check_matrix(X, "X")
        m = min(self.n_landmarks, x.shape[0])
        check_n_components(self.n_components, m - 1, "at most the number of landmarks - 1")
        self.landmarks_ = choose_landmarks(x, m, self.landmarks, self.random_state)
        self.landmark_points_ = x[self.landmarks_]
        squared = squared_distances(self.landmark_points_, self.landmark_points_)
        np.fill_diagonal(squared, 0.0)
        self.landmark_embedding_, self.eigenvalues_, self.column_means_ = classical_mds(0.5 * (squared + squared.T), self.n_components)
        self.embedding_ = self.transform(x)
        return self

    def fit_transform(self, X: object, y: object = None) -> np.ndarray:
        return self.fit(X).embedding_

    def transform(self, X: object) -> np.ndarray:
        check_fitted(self, "landmark_embedding_")
        x = check_matrix(X, "X", min_rows=1)
        if x.shape[1] != self.landmark_points_.shape[1]:
            raise ValueError(f"X has {x.shape[1]} features but the model was fitted on {self.landmark_points_.shape[1]}")
        parts = [
            triangulate(squared_distances(x[start : start + CHUNK_ROWS], self.landmark_points_), self.landmark_embedding_, self.eigenvalues_, self.column_means_)
            for start in range(0, x.shape[0], CHUNK_ROWS)
        ]
        return np.concatenate(parts)
