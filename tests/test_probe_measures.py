"""The probe's measures against brute force, scikit-learn and matrices with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from ssl_bench.probes import measures


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_random_pair_cosine_matches_a_double_loop() -> None:
    features = _rng().normal(size=(30, 5)) + 0.7
    brute = np.mean([_cos(features[i], features[j]) for i in range(30) for j in range(30) if i != j])
    assert measures.random_pair_cosine(features) == pytest.approx(brute, abs=1e-12)


def test_invariance_matches_its_equation() -> None:
    f_x = _rng(1).normal(size=(40, 6)) + 0.5
    f_gx = f_x + 0.8 * _rng(2).normal(size=f_x.shape)
    b = np.mean([_cos(f_x[i], f_x[j]) for i in range(40) for j in range(40) if i != j])
    same = np.mean([_cos(f_x[i], f_gx[i]) for i in range(40)])
    assert measures.invariance(f_x, f_gx) == pytest.approx((same - b) / (1 - b), abs=1e-12)


def test_invariance_is_one_for_rescaled_and_about_zero_for_shuffled_features() -> None:
    f_x = _rng(3).normal(size=(2000, 16)) + 1.0  # b is far from 0 here (about 0.5)
    assert measures.random_pair_cosine(f_x) > 0.3
    assert measures.invariance(f_x, 3.0 * f_x) == pytest.approx(1.0, abs=1e-12)
    derangement = np.roll(_rng(4).permutation(2000), 1)  # f(g x_i) replaced by f of another image
    shuffled = np.empty_like(f_x)
    shuffled[derangement[:-1]] = f_x[derangement[1:]]
    shuffled[derangement[-1]] = f_x[derangement[0]]
    assert abs(measures.invariance(f_x, shuffled)) < 0.03


def test_invariance_of_collapsed_features_is_nan() -> None:
    f_x = np.ones((10, 3))
    assert math.isnan(measures.invariance(f_x, f_x))


def test_linear_map_matches_sklearn_ridge_and_r2() -> None:
    rng = _rng(5)
    x = rng.normal(size=(300, 12)) * np.linspace(0.1, 3.0, 12) + 2.0
    y = x @ rng.normal(size=(12, 8)) + rng.normal(size=(300, 8))
    fitted = measures.fit_linear_map(x[:200], y[:200])
    absolute = fitted.alpha * ((x[:200] - x[:200].mean(0)) ** 2).sum() / 12
    reference = Ridge(alpha=absolute).fit(x[:200], y[:200])
    np.testing.assert_allclose(fitted.predict(x[200:]), reference.predict(x[200:]), atol=1e-9)
    expected_r2 = r2_score(y[200:], reference.predict(x[200:]), multioutput="variance_weighted")
    assert measures.pooled_r2(y[200:], fitted.predict(x[200:])) == pytest.approx(expected_r2, abs=1e-12)


def test_linear_map_recovers_a_noiseless_map_with_the_smallest_penalty() -> None:
    rng = _rng(6)
    truth = rng.normal(size=(10, 10))
    x = rng.normal(size=(200, 10))
    fitted = measures.fit_linear_map(x, x @ truth.T)
    assert fitted.alpha == measures.RELATIVE_ALPHAS[0]
    np.testing.assert_allclose(fitted.matrix, truth, atol=1e-4)


def test_ridge_penalty_grows_with_noise() -> None:
    rng = _rng(7)
    x = rng.normal(size=(60, 40))
    y = rng.normal(size=(60, 40))  # pure noise: the best map is the most shrunk one
    assert measures.fit_linear_map(x, y).alpha == measures.RELATIVE_ALPHAS[-1]


def test_composition_error_applies_a_first() -> None:
    m_a = _rotation_3d(0, 0.4)
    m_b = _rotation_3d(2, 0.9)  # does not commute with m_a
    assert measures.composition_error(m_b @ m_a, m_a, m_b) == pytest.approx(0.0, abs=1e-12)
    assert measures.composition_error(m_a @ m_b, m_a, m_b) > 0.1


def test_composition_error_on_data_weights_directions_by_their_variance() -> None:
    rng = _rng(10)
    m_a, m_b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    m_ab = m_b @ m_a
    m_ab[:, 3] += 1.0  # the maps disagree only on feature direction e_3 ...
    features = rng.normal(size=(200, 4))
    features[:, 3] = 5.0  # ... which the data never varies along
    assert measures.composition_error(m_ab, m_a, m_b, features) == pytest.approx(0.0, abs=1e-12)
    assert measures.composition_error(m_ab, m_a, m_b) > 0.1
    noise = rng.normal(size=(200, 4))
    white = np.linalg.qr(noise - noise.mean(axis=0))[0]  # centred, Xc^T Xc = I: the weighting changes nothing
    plain = measures.composition_error(m_ab, m_a, m_b)
    assert measures.composition_error(m_ab, m_a, m_b, white) == pytest.approx(plain, rel=1e-10)


@pytest.mark.parametrize("variance", [0.5, 0.9, 0.99])
def test_principal_subspace_matches_sklearn_pca(variance: float) -> None:
    features = _rng(11).normal(size=(300, 10)) * np.geomspace(5.0, 0.1, 10) + 3.0
    basis = measures.principal_subspace(features, variance)
    pca = PCA(n_components=variance, svd_solver="full").fit(features)
    assert basis.shape == (10, pca.n_components_)
    np.testing.assert_allclose(basis @ basis.T, pca.components_.T @ pca.components_, atol=1e-8)
    assert measures.principal_subspace(features, 1.0).shape == (10, 10)


def _rotation_3d(axis: int, angle: float) -> np.ndarray:
    generator = np.zeros((3, 3))
    i, j = [k for k in range(3) if k != axis]
    generator[i, j], generator[j, i] = -angle, angle
    return scipy.linalg.expm(generator)


def _known_generator() -> np.ndarray:
    """Frequencies 1 and 2 of a rotation (per degree) and a decaying direction."""
    a = np.zeros((5, 5))
    a[0, 1], a[1, 0] = -1.0, 1.0
    a[2, 3], a[3, 2] = -2.0, 2.0
    a[4, 4] = -0.5
    return a * math.pi / 180.0


def test_generator_fit_recovers_a_known_generator() -> None:
    truth = _known_generator()
    maps = {t: scipy.linalg.expm(t * truth) for t in (-30.0, -15.0, 15.0, 45.0, 90.0)}
    fitted = measures.fit_generator(maps)
    assert fitted.anchor == 15.0
    np.testing.assert_allclose(fitted.generator, truth, atol=1e-10)
    assert max(fitted.errors.values()) < 1e-10
    assert fitted.discarded_imaginary < 1e-10


def test_generator_fit_reports_large_errors_for_maps_that_are_no_one_parameter_group() -> None:
    rng = _rng(8)
    maps = {t: np.eye(4) + 0.3 * rng.normal(size=(4, 4)) for t in (1.0, 2.0, 3.0)}
    fitted = measures.fit_generator(maps)
    assert fitted.errors[1.0] < 1e-8  # the anchor is fitted exactly by construction
    assert min(fitted.errors[2.0], fitted.errors[3.0]) > 0.1


def test_generator_fit_keeps_the_real_part_of_a_complex_logarithm() -> None:
    flip = np.diag([1.0, -1.0])  # eigenvalue -1: principal log is diag(0, i pi)
    fitted = measures.fit_generator({1.0: flip})
    np.testing.assert_allclose(fitted.generator, np.zeros((2, 2)), atol=1e-12)
    assert fitted.discarded_imaginary == pytest.approx(1.0)
    assert fitted.errors[1.0] == pytest.approx(2.0 / (2.0 * math.sqrt(2.0)))  # ||I - M|| / (||I|| + ||M||)


def test_recoverability_of_a_linear_and_of_an_absent_parameter() -> None:
    rng = _rng(9)
    pairs = rng.normal(size=(600, 6))
    fit, test = np.arange(400), np.arange(400, 600)
    linear = pairs @ np.array([1.0, -2.0, 0.5, 0.0, 0.0, 0.0])
    assert measures.regression_recoverability(pairs, linear, fit, test) > 0.999
    assert measures.regression_recoverability(pairs, rng.normal(size=600), fit, test) < 0.05
    labels = (pairs[:, 0] > 0).astype(int)
    assert measures.classification_recoverability(pairs, labels, fit, test) > 0.95
    assert measures.classification_recoverability(pairs, rng.integers(0, 2, 600), fit, test) < 0.62
