"""Classical (Torgerson) MDS: exact, by eigendecomposition of the double-centred squared distances.

With Delta^(2) the (N, N) squared dissimilarities and H = I - 11^T / N,
    B = -1/2 H Delta^(2) H,   B = U Lambda U^T,   Z = U_K Lambda_K^{1/2}   (top K eigenpairs; negative ones clipped).
For Euclidean distances between rows of X, B = X_c X_c^T (X_c = H X), so Z is the PCA projection
X_c V_K with V_K the top K eigenvectors of the (F, F) scatter X_c^T X_c (same non-zero eigenvalues as B):
``metric="euclidean"`` computes it that way, O(N F^2) time and no N x N matrix (a few seconds for 60,000 x
784; a full SVD of X_c took 116 s). When N < F it diagonalises the (N, N) Gram B = U Lambda U^T instead and
sets V_K = X_c^T U_K Lambda_K^{-1/2}.

Out of sample (Gower 1968; the triangulation of de Silva & Tenenbaum 2004): a new point with squared
dissimilarities delta (N,) to the training points embeds as
    z(x) = -1/2 Lambda_K^{-1/2} U_K^T (delta - mu),   mu_j = mean_i Delta^(2)_ij,
which returns Z_a for training point a (U_K is orthogonal to 1) and (x - mean) V_K in the Euclidean case.
"""

from __future__ import annotations

import warnings

import numpy as np

from ssl_bench.spectral.base import (
    SPECTRAL_METHODS,
    SpectralEstimator,
    check_fitted,
    check_matrix,
    check_n_components,
    column_signs,
    flip_signs,
    top_eigenpairs,
)


def classical_mds(squared: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classical MDS of squared dissimilarities (N, N). Returns (Z (N, K), eigenvalues (K,) descending, mu (N,))."""
    squared = check_matrix(squared, "squared dissimilarities")
    n = squared.shape[0]
    if squared.shape != (n, n) or not np.allclose(squared, squared.T, rtol=1e-10, atol=1e-12 * np.abs(squared).max()):
        raise ValueError(f"dissimilarities must be a symmetric (N, N) matrix, got shape {squared.shape}")
    check_n_components(n_components, n - 1, "at most N - 1 for N points")
    column_means = squared.mean(axis=0)
    centred = -0.5 * (squared - column_means[None, :] - column_means[:, None] + column_means.mean())
    values, vectors = top_eigenpairs(centred, n_components)
    if np.any(values <= 0):
        warnings.warn(f"{int(np.sum(values <= 0))} of the top {n_components} eigenvalues are not positive; those axes are zero", stacklevel=2)
    values = np.maximum(values, 0.0)
    return flip_signs(vectors) * np.sqrt(values), values, column_means


def triangulate(squared_to_references: np.ndarray, reference_embedding: np.ndarray, eigenvalues: np.ndarray, column_means: np.ndarray) -> np.ndarray:
    """z(x) = -1/2 Lambda^{-1/2} U^T (delta - mu) with U = Z_ref Lambda^{-1/2}: (M, R) squared dissimilarities -> (M, K)."""
    if squared_to_references.shape[1] != reference_embedding.shape[0]:
        raise ValueError(
            f"dissimilarities have {squared_to_references.shape[1]} columns but the model has {reference_embedding.shape[0]} reference points"
        )
    safe = np.where(eigenvalues > 0, eigenvalues, np.inf)
    pseudo_inverse = reference_embedding / safe[None, :]
    return -0.5 * (squared_to_references - column_means[None, :]) @ pseudo_inverse


def principal_axes(centred: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Top K principal axes V_K (F, K) and eigenvalues (K,) descending of X_c^T X_c, for centred X_c (N, F).

    eigh of the (F, F) scatter when F <= N, else of the (N, N) Gram X_c X_c^T = U Lambda U^T with
    V_K = X_c^T U_K Lambda_K^{-1/2} (axes of zero eigenvalues are zero).
    """
    n, f = centred.shape
    if f <= n:
        values, axes = top_eigenpairs(centred.T @ centred, n_components)
    else:
        values, vectors = top_eigenpairs(centred @ centred.T, n_components)
        safe = np.where(values > 1e-12 * max(values[0], 1e-300), values, np.inf)
        axes = centred.T @ vectors / np.sqrt(safe)
    return axes, np.maximum(values, 0.0)


@SPECTRAL_METHODS.register("classical-mds")
class ClassicalMDS(SpectralEstimator):
    """Classical MDS; ``metric="euclidean"`` (PCA of X, any N) or ``"precomputed"`` ((N, N) dissimilarities).

    ``transform`` takes new rows (Euclidean) or their (M, N) dissimilarities to the training points (precomputed).
    Attributes: ``embedding_`` (N, K), ``eigenvalues_`` (K,) descending eigenvalues of B.
    References: Torgerson, Psychometrika 1952; Gower, Biometrika 1966 and 1968 (adding a point).
    """

    def __init__(self, n_components: int = 2, metric: str = "euclidean") -> None:
        self.n_components = n_components
        self.metric = metric

    def fit(self, X: object, y: object = None) -> ClassicalMDS:
        x = check_matrix(X, "X")
        if self.metric == "euclidean":
            check_n_components(self.n_components, min(x.shape), "at most min(N, F)")
            self.mean_ = x.mean(axis=0)
            centred = x - self.mean_
            axes, self.eigenvalues_ = principal_axes(centred, self.n_components)
            projected = centred @ axes
            signs = column_signs(projected)
            self.components_, self.embedding_ = axes * signs, projected * signs
        elif self.metric == "precomputed":
            self.embedding_, self.eigenvalues_, self.column_means_ = classical_mds(x**2, self.n_components)
        else:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of: euclidean, precomputed")
        return self

    def fit_transform(self, X: object, y: object = None) -> np.ndarray:
        return self.fit(X).embedding_

    def transform(self, X: object) -> np.ndarray:
        check_fitted(self, "embedding_")
        x = check_matrix(X, "X", min_rows=1)
        if self.metric == "euclidean":
            return (x - self.mean_) @ self.components_
        return triangulate(x**2, self.embedding_, self.eigenvalues_, self.column_means_)
