"""Locality preserving projections (He & Niyogi 2003): Laplacian eigenmaps restricted to linear maps z = W^T x.

With G the graph, D = diag(G 1), L = D - G and X_c = X - 1 m^T centred by the degree-weighted mean
m = X^T d / sum(d) (so the constant function, the trivial solution, is outside the span of X_c):
    min_W Tr(W^T X_c^T L X_c W)  s.t.  W^T X_c^T D X_c W = I
    <=>  X_c^T L X_c w = lambda X_c^T D X_c w,   the K smallest lambda.
Solved exactly: B = X_c^T D X_c = V S V^T is restricted to its range (S > 1e-10 max S, the PCA step of the
original paper), P = V S^{-1/2}, then the symmetric eigenproblem P^T A P q = lambda q and W = P Q.
``transform(x) = (x - m) W``. ``reg`` adds r = reg * Tr(B) / F to both A = X_c^T L X_c and B: the expectation of both
when each row gets independent noise of covariance s^2 I, s^2 = r / sum(d), since E[E^T M E] = s^2 Tr(M) I and
Tr L = Tr D = sum(d) (see :mod:`ssl_bench.spectral.linear_closed_forms`).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ssl_bench.core.stage_clock import part
from ssl_bench.data.graph import SearchMethod, knn_graph, validate_graph
from ssl_bench.spectral.base import SPECTRAL_METHODS, SpectralEstimator, check_fitted, check_matrix, check_n_components


def generalized_bottom_eigenvectors(a: np.ndarray, b: np.ndarray, n_components: int, rank_tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """K smallest solutions of A w = lambda B w (A, B symmetric, B PSD) on the range of B, with W^T B W = I.

    Returns (W (F, K), lambdas (K,) ascending).
    """
    with part("eigensolve"):
        return _generalized_bottom_eigenvectors(a, b, n_components, rank_tol)


def _generalized_bottom_eigenvectors(a: np.ndarray, b: np.ndarray, n_components: int,
                                     rank_tol: float) -> tuple[np.ndarray, np.ndarray]:
    scales, basis = scipy.linalg.eigh(b)
    keep = scales > rank_tol * scales.max()
    check_n_components(n_components, int(keep.sum()), "at most the rank of the constraint matrix")
    whitening = basis[:, keep] / np.sqrt(scales[keep])
    reduced = whitening.T @ a @ whitening
    values, vectors = scipy.linalg.eigh(0.5 * (reduced + reduced.T), subset_by_index=[0, n_components - 1])
    return whitening @ vectors, values


@SPECTRAL_METHODS.register("lpp")
class LocalityPreservingProjections(SpectralEstimator):
    """LPP on a kNN graph of X (or ``fit(X, graph=G)``). Attributes: ``components_`` W (F, K), ``mean_`` m, ``eigenvalues_``.

    Reference: X. He, P. Niyogi, "Locality Preserving Projections", NIPS 2003.
    """

    takes_graph = True
    settings = ("n_neighbors", "reg")

    def __init__(self, n_components: int = 2, n_neighbors: int = 10, reg: float = 0.0, knn_method: SearchMethod = "exact", random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.reg = reg
        self.knn_method = knn_method
        self.random_state = random_state

    def fit(self, X: object, y: object = None, graph: sp.spmatrix | None = None) -> LocalityPreservingProjections:
        x = check_matrix(X, "X")
        if graph is None:
            graph = knn_graph(x, self.n_neighbors, method=self.knn_method, seed=self.random_state)
        g = validate_graph(graph, n=x.shape[0])
        degree = np.asarray(g.sum(axis=1)).ravel()
        self.mean_ = degree @ x / degree.sum()
        centred = x - self.mean_
        a = centred.T @ (degree[:, None] * centred - g @ centred)
        b = centred.T @ (degree[:, None] * centred)
        ridge = self.reg * np.trace(b) / b.shape[0] * np.eye(b.shape[0])
        a, b = a + ridge, b + ridge
        self.components_, self.eigenvalues_ = generalized_bottom_eigenvectors(a, b, self.n_components)
        return self

    def fit_transform(self, X: object, y: object = None, graph: sp.spmatrix | None = None) -> np.ndarray:
        return self.fit(X, graph=graph).transform(X)

    def transform(self, X: object) -> np.ndarray:
        check_fitted(self, "components_")
        return (check_matrix(X, "X", min_rows=1) - self.mean_) @ self.components_
