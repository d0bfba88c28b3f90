"""The closed forms of the SSL losses against gradient descent on the training losses themselves.

Small float64 problems (N' <= 50 images, 2 views). Where the theory is exact the minimised loss must reach
the closed-form value (relative gap < 1e-3) and its column space; where it is not (published VICReg weights,
SimCLR with K < N' - 1 or a richer graph, BarlowTwins' basis) the measured gap direction is asserted.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import spectral_embedding

from ssl_bench.spectral.closed_forms import centred_laplacian_eigenpairs, vicreg_decorrelated, vicreg_hard_constrained
from ssl_bench.spectral.verification import (
    max_angle,
    synthetic_graphs,
    verify_barlow_twins_linear,
    verify_simclr,
    verify_vicreg_hard,
    verify_vicreg_hard_linear,
    verify_vicreg_soft,
)


@pytest.fixture(scope="module")
def graphs() -> dict:
    return synthetic_graphs(n_images=50, n_views=2, k=5)


@pytest.fixture(scope="module")
def small_graphs() -> dict:
    return synthetic_graphs(n_images=12, n_views=2, k=3)


@pytest.fixture(scope="module")
def two_views() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 3)) * np.array([2.0, 1.0, 0.5])
    view_a = latent @ rng.normal(size=(3, 6)) + 0.7 * rng.normal(size=(200, 6))
    view_b = latent @ rng.normal(size=(3, 5)) + 0.7 * rng.normal(size=(200, 5))
    return view_a, view_b


def test_hard_vicreg_closed_form_is_unnormalised_laplacian_eigenmaps(graphs: dict) -> None:
    closed = vicreg_hard_constrained(graphs["richer"], 6)
    reference = spectral_embedding(graphs["richer"], n_components=7, norm_laplacian=False, drop_first=True, random_state=0)[:, :6]
    assert max_angle(closed.solution, reference) < 1e-4
    np.testing.assert_allclose(np.cov(closed.solution.T), np.eye(6), atol=1e-10)


def test_hard_vicreg_reaches_laplacian_eigenmaps_on_the_richer_graph(graphs: dict) -> None:
    values, _ = centred_laplacian_eigenpairs(graphs["richer"], 11)
    assert values[10] - values[9] > 0.1  # spectral gap at K = 10: the subspace is well defined
    report = verify_vicreg_hard(graphs["richer"], 10)
    assert abs(report["relative_gap"]) < 1e-3
    assert report["max_angle_degrees"] < 1e-3


def test_hard_vicreg_on_the_views_graph_reaches_zero_energy(graphs: dict) -> None:
    report = verify_vicreg_hard(graphs["views"], 10)
    assert abs(report["closed_form_objective"]) < 1e-12 and abs(report["absolute_gap"]) < 1e-10


def test_linear_hard_vicreg_is_lpp_with_centring(graphs: dict) -> None:
    rng = np.random.default_rng(1)
    images = rng.normal(size=(50, 8))
    features = np.vstack([images + 0.3 * rng.normal(size=images.shape) for _ in range(2)])
    report = verify_vicreg_hard_linear(features, graphs["views"], 3)
    assert abs(report["relative_gap"]) < 1e-6
    assert report["max_angle_degrees"] < 1e-3


def test_soft_vicreg_with_strong_decorrelation_matches_the_diagonal_closed_form(graphs: dict) -> None:
    graph = graphs["richer"]
    values, _ = centred_laplacian_eigenpairs(graph, 10)
    variance_weight = 25.0
    # invariance weight putting the shrinkage threshold c = mu S / (4 a (N - 1)) at lambda_5: half the columns shrink.
    invariance_weight = variance_weight * graph.sum() / (4 * values[4] * (graph.shape[0] - 1))
    report = verify_vicreg_soft(graph, 10, invariance_weight, variance_weight, covariance_weight=1e3, starts=1)
    assert report["loss_at_closed_form"] == pytest.approx(report["closed_form_objective"], rel=1e-12)
    assert abs(report["relative_gap"]) < 1e-3
    assert report["gram_relative_error"] < 0.05


def test_soft_vicreg_depends_on_the_weights_only_through_their_ratio(graphs: dict) -> None:
    one = vicreg_decorrelated(graphs["richer"], 10, 10.0, 25.0)
    scaled = vicreg_decorrelated(graphs["richer"], 10, 30.0, 75.0)
    np.testing.assert_allclose(scaled.solution, one.solution)
    assert scaled.objective == pytest.approx(3 * one.objective)


def test_published_vicreg_weights_collapse_dimensionally(graphs: dict) -> None:
    report = verify_vicreg_soft(graphs["richer"], 10, 25.0, 25.0, 1.0, starts=1, adam_steps=2000, lbfgs_rounds=1)
    assert report["minimised_objectives"][0] < 0.7 * report["closed_form_objective"]
    assert report["rank_found"] < 10


def test_simclr_on_the_views_graph_is_classical_mds_of_g_plus_i(small_graphs: dict) -> None:
    report = verify_simclr(small_graphs["views"], 12, 2, 16, temperature=0.5, starts=2)
    assert abs(report["relative_gap"]) < 1e-6
    assert report["gram_max_abs_error"] < 1e-5


def test_simclr_below_the_simplex_dimension_is_only_a_spherical_code(small_graphs: dict) -> None:
    report = verify_simclr(small_graphs["views"], 12, 2, 4, temperature=0.5, starts=2)
    assert report["relative_gap"] > 0.05
    assert report["gram_affine_r2"] < 0.9


def test_simclr_on_a_richer_graph_is_not_mds_of_g_plus_i(small_graphs: dict) -> None:
    report = verify_simclr(small_graphs["richer"], 12, 2, 16, temperature=0.5, starts=1)
    assert report["gram_max_abs_error"] > 0.1
    assert report["gram_affine_r2"] < 0.95


def test_linear_barlow_twins_spans_the_cca_subspace_but_not_its_basis(two_views: tuple) -> None:
    report = verify_barlow_twins_linear(*two_views, 3, off_diagonal_weight=1.0, starts=1, max_iter=800)
    assert report["loss_at_closed_form"] == pytest.approx(report["closed_form_objective"], rel=1e-3)
    assert report["max_angle_degrees"] < 1e-2
    assert report["relative_gap"] < -0.05


def test_linear_barlow_twins_at_published_weight_collapses(two_views: tuple) -> None:
    report = verify_barlow_twins_linear(*two_views, 3, off_diagonal_weight=5e-3, starts=1, max_iter=800)
    assert report["rank_found"] < 3
    assert report["relative_gap"] < -0.5
