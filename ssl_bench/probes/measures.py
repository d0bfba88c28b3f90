"""The probe's measures, as functions of feature matrices (float64 numpy, rows = images).

``f_x: (n, F)`` holds f(x) and ``f_gx: (n, F)`` holds f(g_theta x) for the same images in the same order.
Every fitted model is fitted on the rows ``fit`` and scored on the disjoint rows ``test``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

RELATIVE_ALPHAS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
_EPS = 1e-12


def _unit_rows(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), _EPS)


def random_pair_cosine(features: np.ndarray) -> float:
    """b = mean cos(f_i, f_j) over all ordered pairs i != j, in O(nF).

    With unit rows u_i: sum_{i != j} u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2, divided by n (n - 1).
    """
    n = features.shape[0]
    if n < 2:
        raise ValueError("random_pair_cosine needs at least two rows")
    u = _unit_rows(features)
    total = u.sum(axis=0)
    return float((total @ total - (u * u).sum()) / (n * (n - 1)))


def invariance(f_x: np.ndarray, f_gx: np.ndarray) -> float:
    """(mean_i cos(f(x_i), f(g x_i)) - b) / (1 - b), b = :func:`random_pair_cosine` of f_x.

    1: f(g x) points where f(x) does; 0: as similar as two random images of the set. NaN when 1 - b < 1e-9
    (all features parallel: a collapsed representation, where the ratio means nothing).
    """
    baseline = random_pair_cosine(f_x)
    same = float((_unit_rows(f_x) * _unit_rows(f_gx)).sum(axis=1).mean())
    if 1.0 - baseline < 1e-9:
        return math.nan
    return (same - baseline) / (1.0 - baseline)


def ridge_alphas(x: np.ndarray, relative: tuple[float, ...] = RELATIVE_ALPHAS) -> np.ndarray:
    """Absolute ridge penalties: relative * tr(Xc^T Xc) / F, the mean eigenvalue of the centred Gram matrix.

    This makes the chosen (relative) penalty independent of the scale of the features.
    """
    centred = x - x.mean(axis=0)
    mean_eigenvalue = float((centred**2).sum()) / x.shape[1]
    return np.asarray(relative) * max(mean_eigenvalue, _EPS)


@dataclass(frozen=True)
class LinearMap:
    """f(g x) ~ M (f(x) - mean_in) + mean_out, fitted by ridge; ``alpha`` relative (see :func:`ridge_alphas`)."""

    matrix: np.ndarray
    mean_in: np.ndarray
    mean_out: np.ndarray
    alpha: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_in) @ self.matrix.T + self.mean_out


def fit_linear_map(x: np.ndarray, y: np.ndarray, relative_alphas: tuple[float, ...] = RELATIVE_ALPHAS) -> LinearMap:
    """Ridge regression of y on x with intercept: M = argmin ||Yc - Xc M^T||^2 + alpha ||M||_F^2.

    One alpha for all outputs, chosen by efficient leave-one-out (generalised) cross-validation on (x, y)
    (``sklearn.linear_model.RidgeCV``).
    """
    alphas = ridge_alphas(x, relative_alphas)
    model = RidgeCV(alphas=alphas, fit_intercept=True).fit(x, y)
    chosen = int(np.argmin(np.abs(alphas - model.alpha_)))
    return LinearMap(np.atleast_2d(model.coef_), x.mean(axis=0), y.mean(axis=0), relative_alphas[chosen])


def pooled_r2(y: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 = 1 - sum ||y_i - yhat_i||^2 / sum ||y_i - mean(y)||^2 over all outputs (variance-weighted)."""
    total = float(((y - y.mean(axis=0)) ** 2).sum())
    if total < _EPS:
        return math.nan
    return 1.0 - float(((y - prediction) ** 2).sum()) / total


def composition_error(
    m_ab: np.ndarray, m_a: np.ndarray, m_b: np.ndarray, features: np.ndarray | None = None
) -> float:
    """How far the fitted maps are from composing: g_a first, then g_b, so f(g_b g_a x) ~ M_b M_a f(x).

    Without ``features``: ||M_{a.b} - M_b M_a||_F / ||M_{a.b}||_F. With ``features`` X (n, F), on the data:
    ||(M_{a.b} - M_b M_a) Xc^T||_F / ||M_{a.b} Xc^T||_F, Xc = X centred, i.e. the Frobenius ratio weighted by the
    feature covariance (equal to the plain one when Xc^T Xc is a multiple of I). The plain ratio counts every
    feature direction alike, also those the data hardly uses, where ridge shrinks the maps towards 0.
    """
    difference = m_ab - m_b @ m_a
    if features is not None:
        centred = features - features.mean(axis=0)
        difference, m_ab = centred @ difference.T, centred @ m_ab.T
    return float(np.linalg.norm(difference) / max(np.linalg.norm(m_ab), _EPS))


def principal_subspace(features: np.ndarray, variance: float) -> np.ndarray:
    """(F, k) orthonormal top principal directions of ``features`` (n, F) that explain more than ``variance``.

    k is the smallest number whose cumulative explained-variance ratio exceeds ``variance`` (as
    ``sklearn.decomposition.PCA(n_components=variance)``), all F when ``variance`` >= 1.
    """
    centred = features - features.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
    eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]
    ratio = np.cumsum(eigenvalues) / max(float(eigenvalues.sum()), _EPS)
    k = features.shape[1] if variance >= 1.0 else int(np.searchsorted(ratio, variance, side="right")) + 1
    return vectors[:, : min(k, features.shape[1])]


@dataclass(frozen=True)
class GeneratorFit:
    """A fitted generator A (per unit of the coordinate t) with M(t) ~ expm(t A).

    ``errors[t] = ||E - M(t)||_F / (||E||_F + ||M(t)||_F)`` with E = expm(t A), in [0, 1]: 0 when the maps lie on
    the one-parameter group, near 1 when they have nothing to do with it. (The symmetric denominator keeps the
    error finite where the plain ||E - M|| / ||M|| explodes: for a lossy, contracting map M(t*) the group predicts
    M(-k t*) = M(t*)^-k, whose norm grows like |smallest eigenvalue|^-k.) ``discarded_imaginary`` is
    ||Im log M|| / ||log M|| at the anchor, the part thrown away by keeping the real logarithm.
    """

    generator: np.ndarray
    anchor: float
    errors: dict[float, float]
    discarded_imaginary: float


def fit_generator(maps: dict[float, np.ndarray]) -> GeneratorFit:
    """Fit A from the map nearest the identity, then score expm(t A) against every map.

    maps: Lie coordinate t -> M(t) (F, F), t != 0. A = Re(logm(M(t*))) / t* with t* the smallest |t| (ties: the
    positive one), the principal logarithm, which is the right branch for the small step. The principal logm of
    a real matrix is complex when it has negative real eigenvalues; the real part is kept (a real representation
    has a real generator) and the size of the dropped imaginary part is reported.
    """
    if not maps or 0.0 in maps:
        raise ValueError("fit_generator needs maps at non-zero coordinates")
    anchor = min(maps, key=lambda t: (abs(t), -t))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "inaccurate" / "singular" warnings: the errors below measure the fit
        log = np.asarray(scipy.linalg.logm(maps[anchor]))
    if not np.all(np.isfinite(log)):
        nan = {t: math.nan for t in maps}
        return GeneratorFit(np.full_like(maps[anchor], np.nan), anchor, nan, math.nan)
    imaginary = float(np.linalg.norm(log.imag) / max(np.linalg.norm(log), _EPS))
    generator = log.real / anchor
    errors = {t: _symmetric_error(scipy.linalg.expm(t * generator), m) for t, m in maps.items()}
    return GeneratorFit(generator, anchor, errors, imaginary)


def _symmetric_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b||_F / (||a||_F + ||b||_F), in [0, 1]; 1 (its limit) when a overflowed."""
    if not np.all(np.isfinite(a)):
        return 1.0
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), _EPS))


def regression_recoverability(
    pairs: np.ndarray, targets: np.ndarray, fit: np.ndarray, test: np.ndarray
) -> float:
    """Held-out R^2 of a ridge regression (alpha by leave-one-out CV on ``fit``) of ``targets`` on ``pairs``."""
    model = RidgeCV(alphas=ridge_alphas(pairs[fit]), fit_intercept=True).fit(pairs[fit], targets[fit])
    return float(r2_score(targets[test], model.predict(pairs[test])))


def classification_recoverability(
    pairs: np.ndarray, labels: np.ndarray, fit: np.ndarray, test: np.ndarray
) -> float:
    """Held-out accuracy of a standardised multinomial logistic regression (C = 1) of ``labels`` on ``pairs``."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(pairs[fit], labels[fit])
    return float((model.predict(pairs[test]) == labels[test]).mean())
