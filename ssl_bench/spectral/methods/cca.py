"""Linear canonical correlation analysis between two views (Hotelling 1936).

With centred views X (N, F), Y (N, F'), S_xx = X^T X / (N - 1) (+ ``reg`` Tr(S_xx)/F I), S_yy likewise,
S_xy = X^T Y / (N - 1): maximise corr(X a, Y b). Whitening W_x = S_xx^{-1/2}, W_y = S_yy^{-1/2} (on their
ranges) and the SVD  W_x^T S_xy W_y = U diag(rho) V^T  give a_k = W_x u_k, b_k = W_y v_k, canonical
correlations rho_k; equivalently S_xx^{-1} S_xy S_yy^{-1} S_yx a = rho^2 a. Scores have unit variance and
are uncorrelated across k: corr(X a_k, Y b_l) = rho_k [k = l].

The kernel regime: apply an explicit feature map first (``sklearn.kernel_approximation.RBFSampler`` for
random Fourier features or ``Nystroem``) and a small ``reg``: approximate kernel CCA.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ssl_bench.core.stage_clock import part
from ssl_bench.spectral.base import SPECTRAL_METHODS, SpectralEstimator, check_fitted, check_matrix, check_n_components
from ssl_bench.spectral.view_moments import PairMoments


def inverse_sqrt(covariance: np.ndarray, rank_tol: float = 1e-10) -> np.ndarray:
    """S^{-1/2} restricted to the range of the PSD matrix S: V_r S_r^{-1/2} (F, r)."""
    values, vectors = scipy.linalg.eigh(covariance)
    keep = values > rank_tol * values.max()
    return vectors[:, keep] / np.sqrt(values[keep])


@SPECTRAL_METHODS.register("cca")
class LinearCCA(SpectralEstimator):
    """CCA of two views. ``fit(X, Y)``; ``transform(X)`` or ``transform(X, Y)`` returns canonical scores.

    Attributes: ``x_weights_`` (F, K), ``y_weights_`` (F', K), ``correlations_`` (K,) descending, ``x_mean_``, ``y_mean_``.
    Reference: H. Hotelling, "Relations between two sets of variates", Biometrika 1936.
    """

    two_views = True
    settings = ("reg",)

    def __init__(self, n_components: int = 2, reg: float = 0.0) -> None:
        self.n_components = n_components
        self.reg = reg

    def fit(self, X: object, Y: object) -> LinearCCA:
        x, y = check_matrix(X, "X"), check_matrix(Y, "Y")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"the two views need the same rows, got {x.shape[0]} and {y.shape[0]}")
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        xc, yc = x - x_mean, y - y_mean
        return self._fit_covariances(x.shape[0], x_mean, y_mean, xc.T @ xc, yc.T @ yc, xc.T @ yc)

    def fit_moments(self, moments: PairMoments) -> LinearCCA:
        """Fit from streamed sums (:class:`ssl_bench.spectral.view_moments.PairMoments`): X_c^T Y_c = X^T Y - n m_x m_y^T."""
        n = moments.n
        x_mean, y_mean = moments.x_sum / n, moments.y_sum / n
        return self._fit_covariances(n, x_mean, y_mean, moments.xx - n * np.outer(x_mean, x_mean),
                                     moments.yy - n * np.outer(y_mean, y_mean), moments.xy - n * np.outer(x_mean, y_mean))

    def _fit_covariances(self, n: int, x_mean: np.ndarray, y_mean: np.ndarray, xx: np.ndarray, yy: np.ndarray,
                         xy: np.ndarray) -> LinearCCA:
        """From the centred scatter matrices X_c^T X_c, Y_c^T Y_c, X_c^T Y_c of n rows."""
        self.x_mean_, self.y_mean_ = x_mean, y_mean
        with part("eigensolve"):
            return self._solve(n, xx, yy, xy)

    def _solve(self, n: int, xx: np.ndarray, yy: np.ndarray, xy: np.ndarray) -> LinearCCA:
        white_x = inverse_sqrt(self._regularised(xx / (n - 1)))
        white_y = inverse_sqrt(self._regularised(yy / (n - 1)))
        check_n_components(self.n_components, min(white_x.shape[1], white_y.shape[1]), "at most the rank of either view")
        left, correlations, right_t = np.linalg.svd(white_x.T @ (xy / (n - 1)) @ white_y)
        k = self.n_components
        self.x_weights_ = white_x @ left[:, :k]
        self.y_weights_ = white_y @ right_t[:k].T
        self.correlations_ = correlations[:k]
        return self

    def transform(self, X: object, Y: object | None = None) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        check_fitted(self, "x_weights_")
        x_scores = (check_matrix(X, "X", min_rows=1) - self.x_mean_) @ self.x_weights_
        if Y is None:
            return x_scores
        return x_scores, (check_matrix(Y, "Y", min_rows=1) - self.y_mean_) @ self.y_weights_

    def fit_transform(self, X: object, Y: object = None) -> tuple[np.ndarray, np.ndarray]:
        return self.fit(X, Y).transform(X, Y)

    def _regularised(self, covariance: np.ndarray) -> np.ndarray:
        return covariance + self.reg * np.trace(covariance) / covariance.shape[0] * np.eye(covariance.shape[0])
