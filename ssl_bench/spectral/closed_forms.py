"""Closed-form optima of the SSL losses of :mod:`ssl_bench.methods.losses` (graph form), per regime.

Balestriero & LeCun, "Contrastive and Non-Contrastive Self-Supervised Learning Recover Global and Local
Spectral Embedding Methods", NeurIPS 2022. Notation: G (N, N) relation graph, S = sum_ij G_ij, D = diag(G 1),
L = D - G, H = I - 11^T / N, Z (N, K) the embedding (free: "non-parametric"; Z = X W: "linear").
Each function names its regime and returns the closed-form Z (or W) and the value the *training loss*
takes there, so that ``tests/test_closed_forms.py`` can compare with gradient descent on the real loss.
The derivations below are ours (the paper's text was not available); the numerical verification decides.
The linear/kernel-regime estimators used as leaderboard rows are in :mod:`ssl_bench.spectral.linear_closed_forms`.

VICReg (``vicreg_graph_loss``, all rows as one group) is
    l(Z) = a * 2 Tr(Z^T L Z) / (K S) + mu * (1/K) sum_k relu(1 - sqrt(Var_k + eps)) + nu * (1/K) sum_{k!=l} Cov_kl^2,
with a = invariance weight, mu = variance weight, nu = covariance weight, unbiased (co)variances.

* Hard constraint (Thm 2, Prop 1): min Tr(Z^T L Z) s.t. Cov(Z) = Z^T H Z / (N - 1) = I. With u_1..u_K the
  bottom eigenvectors of L orthogonal to 1 (eigenvalues lambda_1 <= ... <= lambda_K), Ky Fan's trace
  theorem gives Z* = sqrt(N - 1) [u_1 .. u_K] R (R orthogonal) and invariance term 2 (N - 1) sum_k lambda_k / (K S):
  Laplacian eigenmaps (unnormalised; for the views graph D = (V - 1) I, so also the normalised one).
  Linear regime Z = X W: X_c^T L X_c w = lambda X_c^T X_c / (N - 1) w: LPP with the centring H in place of D.
* Soft, strong decorrelation (nu -> infinity; Thm 1): columns z_k = sqrt(N - 1) sqrt(s_k^2 - eps) u_k with the
  per-column std s_k minimising a 2 (N - 1)(s^2 - eps) lambda_k / S + mu relu(1 - s):
      s_k = clip(c / lambda_k, sqrt(eps), 1),   c = mu S / (4 a (N - 1)),
  so the optimum depends on the weights only through mu / a: eigenvectors with lambda_k <= c keep unit
  variance, larger ones shrink as c / lambda_k. For a given set of variances, Ky Fan (trace of L against a
  diagonal covariance) makes the bottom eigenvectors optimal, largest variance on the smallest eigenvalue.
  At the published weights (a = mu = 25, nu = 1) this decorrelated point is *not* the optimum: Z collapses
  dimensionally (rank 5 of K = 10, loss 49% below the decorrelated point, in the test problem; see ``verification``).

SimCLR (``simclr_graph_loss``), views-only graph (V views of N' images), K >= N' - 1, free Z (Thm 5 / Prop 2
as an MDS statement): all views of an image merge and the N' images form a regular simplex on the sphere,
    Z Z^T (unit rows) = N'/(N' - 1) (G + I) - 11^T / (N' - 1) = N'/(N' - 1) H (G + I) H,
i.e. classical MDS of the similarity G + I, and the loss is
    l* = -1/tau + log((V - 1) e^{1/tau} + (N - V) e^{-1/(tau (N' - 1))}).
For K < N' - 1 or for richer graphs this is only an approximation (measured in ``verification``).

BarlowTwins (``barlow_twins_graph_loss`` / ``barlow_twins_loss``), linear regime with one map per view
(Thm 6): canonical directions give C = diag(rho_1..rho_K) (canonical variates are uncorrelated across
pairs), so l = sum_k (1 - rho_k)^2 with rho_k the top canonical correlations of (X_a, X_b): CCA. Measured:
with off-diagonal weight 1 the minimiser spans exactly the top-K canonical subspace (angle < 1e-4 degrees)
but a non-orthogonal basis of it does better than the canonical one (batch norm fixes only the diagonal),
so sum_k (1 - rho_k)^2 is an upper bound (24% above the minimum in the test problem); at the published
weight 5e-3 the map collapses to fewer than K directions. Free Z: any whitened, view-invariant Z reaches 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ssl_bench.spectral.base import check_matrix, check_n_components
from ssl_bench.spectral.methods.cca import LinearCCA
from ssl_bench.spectral.methods.lpp import generalized_bottom_eigenvectors


@dataclass(frozen=True)
class ClosedForm:
    """A closed-form optimum: ``solution`` Z (N, K) or W (F, K), the training loss value there, the regime."""

    solution: np.ndarray
    objective: float
    regime: str
    reference: str


def dense_graph(graph: sp.spmatrix | np.ndarray) -> np.ndarray:
    """G as a dense float64 array, checked square, symmetric, non-negative with a zero diagonal."""
    g = graph.toarray() if sp.issparse(graph) else np.asarray(graph, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1] or not np.allclose(g, g.T) or np.any(g < 0) or np.any(np.diag(g) != 0):
        raise ValueError("G must be a symmetric, non-negative (N, N) matrix with a zero diagonal")
    return g


def centred_laplacian_eigenpairs(graph: sp.spmatrix | np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Bottom K eigenpairs of L = D - G restricted to 1^perp. Returns (lambdas (K,) ascending, U (N, K) orthonormal, U^T 1 = 0)."""
    g = dense_graph(graph)
    n = g.shape[0]
    check_n_components(n_components, n - 1, "at most N - 1")
    laplacian = np.diag(g.sum(axis=1)) - g
    # Lift the constant vector above the spectrum so that the bottom K eigenvectors are orthogonal to 1.
    lift = 2.0 * g.sum(axis=1).max() + 1.0
    values, vectors = scipy.linalg.eigh(laplacian + lift * np.ones((n, n)) / n, subset_by_index=[0, n_components - 1])
    return values, vectors


def vicreg_hard_constrained(graph: sp.spmatrix | np.ndarray, n_components: int) -> ClosedForm:
    """Free Z, min of the invariance term 2 Tr(Z^T L Z) / (K S) s.t. Cov(Z) = I: Z* = sqrt(N - 1) U_K."""
    g = dense_graph(graph)
    values, vectors = centred_laplacian_eigenpairs(g, n_components)
    n = g.shape[0]
    objective = 2.0 * (n - 1) * values.sum() / (n_components * g.sum())
    return ClosedForm(np.sqrt(n - 1) * vectors, float(objective), "VICReg, free Z, hard variance/covariance constraint", "Thm 2 (Laplacian eigenmaps)")


def vicreg_hard_constrained_linear(features: np.ndarray, graph: sp.spmatrix | np.ndarray, n_components: int) -> ClosedForm:
    """Z = X W, min 2 Tr(W^T X_c^T L X_c W) / (K S) s.t. W^T X_c^T X_c W / (N - 1) = I: X_c^T L X_c w = lambda Cov(X) w."""
    x = check_matrix(features, "features")
    g = dense_graph(graph)
    n = x.shape[0]
    centred = x - x.mean(axis=0)
    laplacian = np.diag(g.sum(axis=1)) - g
    weights, values = generalized_bottom_eigenvectors(centred.T @ laplacian @ centred, centred.T @ centred / (n - 1), n_components)
    objective = 2.0 * values.sum() / (n_components * g.sum())
    return ClosedForm(weights, float(objective), "VICReg, linear Z = X W, hard constraint", "Prop 1 (locality preserving projections)")


def vicreg_decorrelated(
    graph: sp.spmatrix | np.ndarray,
    n_components: int,
    invariance_weight: float,
    variance_weight: float,
    eps: float = 1e-4,
) -> ClosedForm:
    """Free Z, strong-decorrelation limit of soft VICReg: z_k = sqrt(N - 1) sqrt(s_k^2 - eps) u_k, s_k = clip(c / lambda_k, sqrt(eps), 1).

    c = variance_weight * S / (4 invariance_weight (N - 1)). The objective is the loss without its covariance
    term (zero at this point).
    """
    g = dense_graph(graph)
    n, total = g.shape[0], g.sum()
    values, vectors = centred_laplacian_eigenpairs(g, n_components)
    threshold = variance_weight * total / (4.0 * invariance_weight * (n - 1))
    with np.errstate(divide="ignore"):
        std = np.clip(threshold / values, np.sqrt(eps), 1.0)
    variance = std**2 - eps
    invariance = 2.0 * (n - 1) * variance * values / total
    objective = np.mean(invariance_weight * invariance + variance_weight * np.maximum(0.0, 1.0 - std))
    return ClosedForm(np.sqrt((n - 1) * variance) * vectors, float(objective), "VICReg, free Z, covariance weight -> infinity", "Thm 1")


def simclr_simplex(n_images: int, n_views: int, n_components: int, temperature: float) -> ClosedForm:
    """Views-only graph, free Z, K >= N' - 1: unit rows forming a regular simplex of N' images, views merged.

    ``solution`` is Z = top N' - 1 eigenvectors of H (G + I) H scaled to unit rows (classical MDS of G + I), zero-padded to K.
    """
    if n_images < 2:
        raise ValueError("the simplex needs at least 2 images")
    check_n_components(n_components, n_views * n_images, "at most N")
    if n_components < n_images - 1:
        raise ValueError(f"the simplex closed form needs K >= N' - 1 = {n_images - 1}, got {n_components}")
    n = n_images * n_views
    image = np.tile(np.arange(n_images), n_views)
    similarity = (image[:, None] == image[None, :]).astype(np.float64)  # G + I
    centring = np.eye(n) - np.ones((n, n)) / n
    values, vectors = scipy.linalg.eigh(centring @ similarity @ centring, subset_by_index=[n - n_images + 1, n - 1])
    z = vectors * np.sqrt(np.maximum(values, 0.0))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    z = np.hstack([z, np.zeros((n, n_components - z.shape[1]))])
    positive, negative = 1.0 / temperature, -1.0 / (temperature * (n_images - 1))
    objective = -positive + np.log((n_views - 1) * np.exp(positive) + (n - n_views) * np.exp(negative))
    return ClosedForm(z, float(objective), "SimCLR, free Z, views-only graph, K >= N' - 1", "Thm 5 / Prop 2 (classical MDS of G + I)")


def barlow_twins_cca(view_a: np.ndarray, view_b: np.ndarray, n_components: int) -> tuple[ClosedForm, ClosedForm]:
    """Linear BarlowTwins with one map per view: W_a, W_b = canonical directions; loss sum_k (1 - rho_k)^2
    (the minimiser's subspace; its value is an upper bound, see the module docstring).

    Returns the closed forms of W_a (F_a, K) and W_b (F_b, K), both with the same objective.
    """
    cca = LinearCCA(n_components=n_components).fit(view_a, view_b)
    objective = float(np.sum((1.0 - cca.correlations_) ** 2))
    regime = "BarlowTwins, linear Z = X W per view, off-diagonal weight 1"
    return (ClosedForm(cca.x_weights_, objective, regime, "Thm 6 (CCA)"), ClosedForm(cca.y_weights_, objective, regime, "Thm 6 (CCA)"))
