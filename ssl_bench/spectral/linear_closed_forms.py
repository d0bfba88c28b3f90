"""The closed forms of VICReg, SimCLR and BarlowTwins in the linear regime Z = X W: what the three estimators
(:mod:`ssl_bench.spectral.methods`: vicreg_closed_form, simclr_closed_form, barlowtwins_closed_form) share.

These are the leaderboard's closed-form SSL rows. X (N, F) stacks the features of V augmented views of N' images
(any fixed feature map: pixels, PCA, random Fourier / Nystroem features, a frozen random network; see
:mod:`ssl_bench.spectral.feature_maps` -- with a kernel feature map they are the kernel regime), G (N, N) is the
relation graph over those rows (``views_graph``: the SSL graph; ``label_graph``; or a kNN graph of X when none is
given), d = G 1, S = 1^T G 1, L = diag(d) - G, H = I - 11^T / N, X_c = H X, Sigma = X_c^T X_c. New images embed as
z(x) = (x - mean) W, so train and test images get embeddings like any encoder's.

Regularisation (``reg``) is the expectation under isotropic feature noise: every row becomes x_i + e_i with
independent e_i, Cov e_i = s^2 I, s^2 = reg * Tr(Sigma) / (N F) (``reg`` times the average per-feature variance).
For any fixed (N, N) matrix M, E[(X + E)^T M (X + E)] = X^T M X + s^2 Tr(M) I, so each quadratic form below gets
its exact ridge: Sigma + s^2 (N - 1) I (Tr H = N - 1), X^T L X + s^2 S I (Tr L = S), X_c^T G X_c - s^2 (S / N) I
(Tr H G H = -S / N), X_c^T (G + I) X_c + s^2 (N - 1 - S / N) I. Without it the bottom generalised eigenvectors
of pixels are near-constant, low-variance pixels that happen to be invariant (measured without it: LPP on the
views graph of 1,000 Fashion-MNIST images, kNN accuracy 0.32).

* ``vicreg-closed-form`` (Balestriero & LeCun 2022, Prop 1 / Thm 2; derived in :mod:`closed_forms`): hard-
  constrained VICReg, min Tr(Z^T L Z) s.t. Cov(Z) = I, over Z = X W:
      (X^T L X + s^2 S I) w = lambda (Sigma + s^2 (N - 1) I) w,   the K smallest lambda,
  W^T (Sigma + s^2 (N - 1) I) W = I, Z scaled by sqrt(N - 1) (unit variance): locality preserving projections
  with the centring H in place of D. With ``invariance_weight`` a (and ``variance_weight`` mu) it is the soft
  loss in the strong-decorrelation limit (Thm 1): column k scaled by s_k = clip(c / lambda_k, sqrt(eps), 1),
  c = mu S / (4 a (N - 1)) (the free-Z derivation of :func:`closed_forms.vicreg_decorrelated` carries over with
  lambda_k the generalised eigenvalues: Var z_k = s_k^2 - eps); a large a shrinks the high-energy columns.
* ``simclr-closed-form`` (our linear-regime reading of Thm 5 / Prop 2). For the views graph and free Z with
  K >= N' - 1, SimCLR's optimum has the unit-row Gram Z Z^T = N'/(N' - 1) H (G + I) H (verified to 1e-5 in
  :mod:`verification`): classical MDS of the similarity G + I. Restricting Z = X_c W and fitting that Gram in
  Frobenius norm, min_W ||H (G + I) H - X_c W W^T X_c^T||_F, has a closed form: with X_c = Q R (thin QR),
  ||.||^2 = ||Q^T H (G + I) H Q - R W W^T R^T||^2 + const, and R W W^T R^T ranges over the PSD matrices of
  rank <= K, so by Eckart-Young it is the top K eigenpairs of Q^T (G + I) Q, i.e.
      (X_c^T (G + I) X_c + s^2 (N - 1 - S / N) I) w = sigma (Sigma + s^2 (N - 1) I) w,   the K largest sigma,
  W^T (Sigma + ...) W = I, Z = X_c W diag(sqrt(sigma)). Approximations, measured by
  :func:`verification.verify_simclr_linear` against minimising ``simclr_graph_loss`` over W: the MDS Gram is the
  free optimum only for the views graph and K >= N' - 1; the Frobenius fit ignores the row normalisation, the
  softmax and the temperature.
* ``barlowtwins-closed-form`` (Thm 6): BarlowTwins with one (shared, Siamese) map and per-batch normalisation
  drives the cross-correlation of related rows to I, which CCA of the paired rows maximises: with the pairs
  (i, j) of G in both orders the two "views" have one covariance and tied weights, and
      (X_c^T G X_c - s^2 (S / N) I) / S w = rho (Sigma + s^2 (N - 1) I) / N w,   the K largest rho,
  W^T (Sigma + ...) W / N = I (batch-normalised columns), rho_k the canonical correlations.

Relations between the three, exact (tested): the simclr and barlowtwins matrices satisfy
X_c^T (G + I) X_c + ... = (X_c^T G X_c - s^2 (S / N) I) + (Sigma + s^2 (N - 1) I), so for *every* graph they share
the subspace, with sigma_k = 1 + (S / N) rho_k; simclr's columns are barlowtwins' scaled by sqrt(sigma_k). For a
graph of constant degree d (the views graph, d = V - 1; the label graph of a class-balanced subset),
d (Sigma + s^2 (N - 1) I) - (X^T L X + s^2 S I) = X_c^T G X_c - s^2 d I, so vicreg's hard solution is barlowtwins'
(lambda_k = d (1 - rho_k)) up to the overall scale sqrt(N / (N - 1)): the paper's "BarlowTwins can recover VICReg" (Thm 7),
here exactly. On a graph of varying degree (kNN) vicreg weighs the rows by their degree and differs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ssl_bench.data.graph import SearchMethod, knn_graph, validate_graph
from ssl_bench.spectral.base import SpectralEstimator, check_fitted, check_matrix
from ssl_bench.spectral.view_moments import ViewMoments

CHUNK_ROWS = 4096


class GraphForms:
    """The (F, F) quadratic forms of the centred rows of X on a graph, with the noise ridges of the module docstring.

    ``covariance`` Sigma + s^2 (N - 1) I, ``dirichlet`` X^T L X + s^2 S I, ``cross`` X_c^T G X_c - s^2 (S / N) I,
    ``similarity`` X_c^T (G + I) X_c + s^2 (N - 1 - S / N) I, from the moments: ``n`` rows, ``mean`` (F,), ``scatter``
    X_c^T X_c, ``centred_cross`` X_c^T G X_c, ``weighted`` X_c^T diag(d) X_c, ``total`` S. Built from the rows
    (:meth:`of_rows`) or from streamed views (:meth:`of_views`).
    """

    def __init__(self, n: int, mean: np.ndarray, scatter: np.ndarray, centred_cross: np.ndarray, weighted: np.ndarray,
                 total: float, reg: float) -> None:
        f = mean.shape[0]
        self.noise = reg * np.trace(scatter) / (n * f)
        eye = np.eye(f)
        self.mean, self.total, self.n = mean, total, n
        self.covariance = scatter + self.noise * (n - 1) * eye
        self.dirichlet = weighted - centred_cross + self.noise * total * eye
        self.cross = centred_cross - self.noise * total / n * eye
        self.similarity = centred_cross + scatter + self.noise * (n - 1 - total / n) * eye

    @classmethod
    def of_rows(cls, x: np.ndarray, graph: sp.csr_matrix, reg: float) -> GraphForms:
        """Accumulated over row chunks of X (N, F) (no (N, F) temporaries beyond one chunk); X_c^T diag(d) X_c is
        the scatter scaled when the degree is constant."""
        n, f = x.shape
        mean = x.mean(axis=0)
        degree = np.asarray(graph.sum(axis=1)).ravel()
        constant_degree = np.allclose(degree, degree[0], rtol=1e-12, atol=0.0)
        scatter, cross, weighted = np.zeros((f, f)), np.zeros((f, f)), np.zeros((f, f))
        for start in range(0, n, CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            centred = x[rows] - mean
            scatter += centred.T @ centred
            cross += centred.T @ (np.asarray(graph[rows] @ x) - degree[rows, None] * mean)
            if not constant_degree:
                weighted += centred.T @ (degree[rows, None] * centred)
        if constant_degree:
            weighted = degree[0] * scatter
        return cls(n, mean, scatter, cross, weighted, float(degree.sum()), reg)

    @classmethod
    def of_views(cls, moments: ViewMoments, reg: float) -> GraphForms:
        """The views graph (degree d = V - 1) from streamed moments: X_c^T X_c = X^T X - n m m^T,
        X_c^T G X_c = X^T G X - d n m m^T with X^T G X = sum_i s_i s_i^T - X^T X."""
        n, degree = moments.n, moments.n_views - 1
        mean = moments.row_sum / n
        outer = np.outer(mean, mean)
        scatter = moments.gram - n * outer
        cross = moments.image_gram - moments.gram - degree * n * outer
        return cls(n, mean, scatter, cross, degree * scatter, float(n * degree), reg)


class LinearClosedForm(SpectralEstimator):
    """Shared fit: the graph's quadratic forms (:class:`GraphForms`), a generalised eigenproblem, W (F, K)."""

    takes_graph = True
    settings = ("n_neighbors", "reg")

    def __init__(self, n_components: int = 32, reg: float = 0.1, n_neighbors: int = 10, knn_method: SearchMethod = "exact", random_state: int = 0) -> None:
        self.n_components = n_components
        self.reg = reg
        self.n_neighbors = n_neighbors
        self.knn_method = knn_method
        self.random_state = random_state

    def fit(self, X: object, y: object = None, graph: sp.spmatrix | None = None) -> LinearClosedForm:
        """``X`` (N, F) rows of the graph; ``graph`` (N, N) or None for the ``n_neighbors``-NN graph of X."""
        x = check_matrix(X, "X")
        if self.reg < 0:
            raise ValueError(f"reg must be >= 0, got {self.reg}")
        if graph is None:
            graph = knn_graph(x, self.n_neighbors, method=self.knn_method, seed=self.random_state)
        g = validate_graph(graph, n=x.shape[0])
        if g.nnz == 0:
            raise ValueError("the relation graph has no edges")
        return self._fit_forms(GraphForms.of_rows(x, g, self.reg))

    def fit_moments(self, moments: ViewMoments) -> LinearClosedForm:
        """Fit on the views graph from streamed statistics (:class:`ssl_bench.spectral.view_moments.ViewMoments`):
        the same solution as ``fit(X, graph=views_graph(N, V))`` on the stacked views, without X in memory."""
        if self.reg < 0:
            raise ValueError(f"reg must be >= 0, got {self.reg}")
        return self._fit_forms(GraphForms.of_views(moments, self.reg))

    def _fit_forms(self, forms: GraphForms) -> LinearClosedForm:
        self.mean_, self.noise_variance_ = forms.mean, forms.noise
        self.components_, self.eigenvalues_ = self._solve(forms)
        return self

    def fit_transform(self, X: object, y: object = None, graph: sp.spmatrix | None = None) -> np.ndarray:
        return self.fit(X, graph=graph).transform(X)

    def transform(self, X: object) -> np.ndarray:
        check_fitted(self, "components_")
        x = check_matrix(X, "X", min_rows=1)
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"X has {x.shape[1]} features but the model was fitted on {self.mean_.shape[0]}")
        return (x - self.mean_) @ self.components_

    def _solve(self, forms: GraphForms) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError
