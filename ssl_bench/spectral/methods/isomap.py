"""Isomap (Tenenbaum, de Silva & Langford 2000): classical MDS of geodesic distances on a kNN graph.

G is the symmetric ("or") kNN graph with Euclidean edge lengths; geodesics Delta_ij are shortest-path lengths
(Dijkstra, ``scipy.sparse.csgraph.dijkstra``, the sources shared out over this process's threads' worth of forked
workers by :func:`ssl_bench.core.forked_rows.forked_rows`: bit-identical to one process); the embedding is classical MDS of Delta^(2)
(:func:`ssl_bench.spectral.methods.classical_mds.classical_mds`). With ``n_landmarks`` set, geodesics are computed
from m landmarks only and the points are placed by landmark-MDS triangulation (Landmark Isomap, de Silva &
Tenenbaum 2003): O(m N log N) instead of O(N^2 log N) time, O(N m) memory.

Out of sample (as scikit-learn's Isomap): a new point x with neighbours j in kNN(x) gets geodesics
Delta(x, r) = min_j (||x - x_j|| + Delta_jr) to the reference points r (all training points, or the
landmarks), then the triangulation z(x) = -1/2 Lambda^{-1/2} U^T (Delta(x, .)^2 - mu).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra

from ssl_bench.core.forked_rows import forked_rows
from ssl_bench.core.stage_clock import part
from ssl_bench.data.graph import NeighbourIndex, SearchMethod
from ssl_bench.spectral.base import SPECTRAL_METHODS, SpectralEstimator, check_fitted, check_matrix, check_n_components
from ssl_bench.spectral.methods.classical_mds import classical_mds, triangulate

TRANSFORM_CHUNK = 1024  # new points mapped at a time: (chunk, k, R) float64 temporaries instead of (M, k, R)


@SPECTRAL_METHODS.register("isomap")
class Isomap(SpectralEstimator):
    """Isomap with k neighbours; exact (``n_landmarks=None``, N up to a few thousand) or landmark.

    Attributes: ``embedding_`` (N, K), ``eigenvalues_`` (K,), ``references_`` (R,) the rows that geodesics are
    measured to (all, or the landmarks), ``geodesics_`` (N, R).
    References: Tenenbaum et al., Science 2000; de Silva & Tenenbaum, NIPS 2003 (landmarks).
    """

    settings = ("n_neighbors", "n_landmarks")

    def __init__(
        self,
        n_components: int = 2,
        n_neighbors: int = 10,
        n_landmarks: int | None = None,  # None or 0: exact
        knn_method: SearchMethod = "exact",
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_landmarks = n_landmarks
        self.knn_method = knn_method
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> Isomap:
        x = check_matrix(X, "X")
        exact = not self.n_landmarks or self.n_landmarks >= x.shape[0]
        if exact:
            _check_dense_geodesics_fit(x.shape[0])
        self.neighbours_ = NeighbourIndex(x, self.knn_method, seed=self.random_state)
        graph = self.neighbours_.graph(self.n_neighbors, weights="distance")
        if exact:
            self.references_ = np.arange(x.shape[0])
        else:
            m = min(self.n_landmarks, x.shape[0])
            self.references_ = np.sort(np.random.default_rng(self.random_state).choice(x.shape[0], size=m, replace=False))
        check_n_components(self.n_components, self.references_.size - 1, "at most the number of reference points - 1")
        with part("geodesics"):
            self.geodesics_ = geodesics(graph, self.references_, torch.get_num_threads()).T
        if not np.all(np.isfinite(self.geodesics_)):
            raise ValueError(f"the {self.n_neighbors}-NN graph is disconnected, so some geodesics are infinite; increase n_neighbors")
        squared = self.geodesics_[self.references_] ** 2
        reference_embedding, self.eigenvalues_, self.column_means_ = classical_mds(0.5 * (squared + squared.T), self.n_components)
        self.reference_embedding_ = reference_embedding
        self.embedding_ = triangulate(self.geodesics_**2, reference_embedding, self.eigenvalues_, self.column_means_)
        return self

    def fit_transform(self, X: object, y: object = None) -> np.ndarray:
        return self.fit(X).embedding_

    def transform(self, X: object) -> np.ndarray:
        check_fitted(self, "embedding_")
        x = check_matrix(X, "X", min_rows=1)
        distances, neighbours = self.neighbours_.search(x, self.n_neighbors)
        to_references = np.empty((x.shape[0], self.references_.size))
        for rows in np.array_split(np.arange(x.shape[0]), max(1, x.shape[0] // TRANSFORM_CHUNK)):  # bounded memory
            to_references[rows] = np.min(distances[rows, :, None] + self.geodesics_[neighbours[rows]], axis=1)
        return triangulate(to_references**2, self.reference_embedding_, self.eigenvalues_, self.column_means_)


def geodesics(graph: sp.csr_matrix, sources: np.ndarray, workers: int = 1) -> np.ndarray:
    """Shortest-path lengths (len(sources), N) from each source over the symmetric graph (N, N), rows computed by
    ``workers`` processes. The graph is symmetric, so Dijkstra on it as a directed graph gives the undirected
    distances (the same minima of the same float sums) without scipy's lookups of every edge's transpose."""
    return forked_rows(lambda start, stop: dijkstra(graph, directed=True, indices=sources[start:stop]),
                       len(sources), graph.shape[0], workers)


def _check_dense_geodesics_fit(n: int) -> None:
    """Exact Isomap holds about three N x N float64 matrices (geodesics, their squares, the centred copy): refuse
    before any work when that exceeds 80 % of this machine's memory."""
    need = 3 * 8 * n * n
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > 0.8 * have:
        fits = int((0.8 * have / 24) ** 0.5)
        raise ValueError(f"exact isomap on {n} points needs about {need / 2**30:.0f} GiB for its {n} x {n} geodesics, "
                         f"this machine has {have / 2**30:.0f} GiB; use landmarks (--n-landmarks 1000, the default) "
                         f"or --subset {fits} or fewer")
