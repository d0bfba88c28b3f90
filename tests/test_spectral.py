"""Spectral estimators against independent references (scikit-learn, dense scipy, transcriptions of the equations).

Embeddings are compared up to the symmetries of each problem: per column up to sign where the spectrum is
simple, by principal angles between column spaces, by Gram matrices, or after orthogonal Procrustes.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from sklearn.cross_decomposition import CCA
from sklearn.datasets import make_swiss_roll
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.manifold import ClassicalMDS as SklearnClassicalMDS
from sklearn.manifold import Isomap as SklearnIsomap
from sklearn.manifold import spectral_embedding
from sklearn.neighbors import NearestNeighbors

from ssl_bench.cli import main
from ssl_bench.core.errors import UserError
from ssl_bench.data.graph import knn_graph
from ssl_bench.spectral import (
    SPECTRAL_METHODS,
    ClassicalMDS,
    Isomap,
    LandmarkMDS,
    LaplacianEigenmaps,
    LinearCCA,
    LocalityPreservingProjections,
)
from ssl_bench.spectral.embed import spectral_embed


def max_angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.max(scipy.linalg.subspace_angles(a, b))))


def assert_columns_equal_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    signs = np.sign(np.sum(a * b, axis=0))
    np.testing.assert_allclose(a * signs, b, atol=atol)


def procrustes_error(a: np.ndarray, b: np.ndarray) -> float:
    """min_R ||a R - b||_F / ||b||_F over orthogonal R, both centred."""
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    rotation, _ = scipy.linalg.orthogonal_procrustes(a, b)
    return float(np.linalg.norm(a @ rotation - b) / np.linalg.norm(b))


def dense_generalised_laplacian(graph: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Bottom k + 1 solutions of L u = lambda D u by dense scipy, trivial one dropped."""
    w = graph.toarray()
    d = np.diag(w.sum(axis=1))
    values, vectors = scipy.linalg.eigh(d - w, d, subset_by_index=[0, k])
    return values[1:], vectors[:, 1:]


@pytest.fixture(scope="module")
def blob_2d() -> np.ndarray:
    """An anisotropic 2-D cloud: well separated bottom Laplacian eigenvalues."""
    return np.random.default_rng(0).normal(size=(300, 2)) * np.array([3.0, 1.0])


@pytest.fixture(scope="module")
def swiss_roll() -> np.ndarray:
    return make_swiss_roll(500, noise=0.05, random_state=0)[0]


# ----------------------------------------------------------------------------------- Laplacian eigenmaps
def test_normalised_eigenmaps_match_sklearn_spectral_embedding(blob_2d: np.ndarray) -> None:
    graph = knn_graph(blob_2d, 10)
    model = LaplacianEigenmaps(n_components=4, affinity="precomputed").fit(graph)
    reference = spectral_embedding(graph, n_components=5, drop_first=True, random_state=0)[:, :4]
    values, _ = dense_generalised_laplacian(graph, 5)
    assert np.min(np.diff(values)) > 1e-3  # simple spectrum: columns are defined up to sign
    assert_columns_equal_up_to_sign(model.embedding_, reference, atol=1e-6)
    np.testing.assert_allclose(model.eigenvalues_, values[:4], atol=1e-10)


def test_lanczos_path_matches_dense_generalised_eigh() -> None:
    x = np.random.default_rng(1).normal(size=(1500, 2)) * np.array([3.0, 1.0])
    graph = knn_graph(x, 10)
    model = LaplacianEigenmaps(n_components=3, affinity="precomputed").fit(graph)
    values, vectors = dense_generalised_laplacian(graph, 4)
    np.testing.assert_allclose(model.eigenvalues_, values[:3], rtol=1e-8, atol=1e-10)
    assert max_angle_degrees(model.embedding_, vectors[:, :3]) < 1e-4


def test_unnormalised_eigenmaps_match_sklearn(blob_2d: np.ndarray) -> None:
    graph = knn_graph(blob_2d, 10)
    model = LaplacianEigenmaps(n_components=3, normalized=False, affinity="precomputed").fit(graph)
    reference = spectral_embedding(graph, n_components=4, norm_laplacian=False, drop_first=True, random_state=0)[:, :3]
    laplacian = sp.diags(np.asarray(graph.sum(axis=1)).ravel()) - graph
    values = scipy.linalg.eigvalsh(laplacian.toarray(), subset_by_index=[1, 3])
    assert max_angle_degrees(model.embedding_, reference) < 1e-4
    np.testing.assert_allclose(model.eigenvalues_, values, atol=1e-9)


def test_nystroem_extension_reproduces_training_rows_and_follows_the_formula(blob_2d: np.ndarray) -> None:
    k = 10
    model = LaplacianEigenmaps(n_components=3, n_neighbors=k).fit(blob_2d)
    graph = knn_graph(blob_2d, k)
    np.testing.assert_allclose(model.extend(graph), model.embedding_, atol=1e-10)
    new = blob_2d[:20] + np.random.default_rng(2).normal(scale=0.05, size=(20, 2))
    neighbours = NearestNeighbors(n_neighbors=k).fit(blob_2d).kneighbors(new, return_distance=False)
    expected = model.embedding_[neighbours].mean(axis=1) / (1 - model.eigenvalues_)
    np.testing.assert_allclose(model.transform(new), expected, atol=1e-10)


# -------------------------------------------------------------------------------------------------- MDS
def test_classical_mds_matches_sklearn_and_pca(blob_2d: np.ndarray) -> None:
    x = np.random.default_rng(3).normal(size=(200, 6)) * np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5])
    distances = np.sqrt(np.sum((x[:, None] - x[None]) ** 2, axis=-1))
    precomputed = ClassicalMDS(n_components=3, metric="precomputed").fit(distances)
    reference = SklearnClassicalMDS(n_components=3, metric="precomputed").fit(distances)
    assert_columns_equal_up_to_sign(precomputed.embedding_, reference.embedding_, atol=1e-8)
    np.testing.assert_allclose(precomputed.eigenvalues_, reference.eigenvalues_, rtol=1e-10)
    euclidean = ClassicalMDS(n_components=3).fit(x)
    assert_columns_equal_up_to_sign(euclidean.embedding_, reference.embedding_, atol=1e-8)
    new = np.random.default_rng(4).normal(size=(5, 6))
    new_distances = np.sqrt(np.sum((new[:, None] - x[None]) ** 2, axis=-1))
    np.testing.assert_allclose(precomputed.transform(distances), precomputed.embedding_, atol=1e-8)
    assert_columns_equal_up_to_sign(precomputed.transform(new_distances), euclidean.transform(new) * np.sign(np.sum(precomputed.embedding_ * euclidean.embedding_, axis=0)), atol=1e-8)


@pytest.mark.parametrize("shape", [(300, 12), (40, 90)], ids=["scatter F<=N", "gram N<F"])
def test_euclidean_classical_mds_is_pca_on_both_paths(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(size=shape) * np.linspace(3.0, 0.1, shape[1]) + 2.0
    new = rng.normal(size=(7, shape[1]))
    model = ClassicalMDS(n_components=5).fit(x)
    reference = PCA(n_components=5, svd_solver="full").fit(x)
    signs = np.sign(np.sum(model.embedding_ * reference.transform(x), axis=0))
    np.testing.assert_allclose(model.embedding_, reference.transform(x) * signs, atol=1e-8)
    np.testing.assert_allclose(model.transform(new), reference.transform(new) * signs, atol=1e-8)
    np.testing.assert_allclose(model.eigenvalues_, reference.singular_values_**2, rtol=1e-9)


def test_landmark_mds_is_exact_on_low_rank_euclidean_data() -> None:
    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.normal(size=(10, 3)))[0]
    latent = rng.normal(size=(400, 3)) * np.array([3.0, 2.0, 1.0])
    x = latent @ basis.T + 7.0
    model = LandmarkMDS(n_components=3, n_landmarks=20, landmarks="maxmin").fit(x)
    assert procrustes_error(model.embedding_, latent) < 1e-8
    new_latent = rng.normal(size=(30, 3))
    assert procrustes_error(np.vstack([model.embedding_, model.transform(new_latent @ basis.T + 7.0)]), np.vstack([latent, new_latent])) < 1e-8


@pytest.mark.parametrize("landmarks", ["random", "maxmin"])
def test_landmark_mds_approximates_classical_mds_on_noisy_data(landmarks: str) -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2000, 20)) * np.r_[5.0, 4.0, 3.0, np.full(17, 0.3)]
    exact = ClassicalMDS(n_components=3).fit_transform(x)
    approximate = LandmarkMDS(n_components=3, n_landmarks=200, landmarks=landmarks).fit_transform(x)
    assert procrustes_error(approximate, exact) < 0.05


# ----------------------------------------------------------------------------------------------- Isomap
def test_isomap_matches_sklearn_including_out_of_sample(swiss_roll: np.ndarray) -> None:
    train, new = swiss_roll[:450], swiss_roll[450:]
    ours = Isomap(n_components=2, n_neighbors=10).fit(train)
    reference = SklearnIsomap(n_components=2, n_neighbors=10, eigen_solver="dense").fit(train)
    assert procrustes_error(ours.embedding_, reference.embedding_) < 1e-8
    rotation, _ = scipy.linalg.orthogonal_procrustes(ours.embedding_, reference.embedding_)
    np.testing.assert_allclose(ours.transform(new) @ rotation, reference.transform(new), atol=1e-6 * np.abs(reference.embedding_).max())


def test_landmark_isomap_approximates_exact_isomap(swiss_roll: np.ndarray) -> None:
    exact = Isomap(n_components=2, n_neighbors=10).fit_transform(swiss_roll)
    errors = [procrustes_error(Isomap(n_components=2, n_neighbors=10, n_landmarks=m).fit_transform(swiss_roll), exact) for m in (50, 300)]
    assert errors[1] < 0.03 and errors[1] < errors[0]


# ------------------------------------------------------------------------------------------------- LPP
def test_lpp_matches_a_dense_transcription_of_the_objective() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(150, 5)) @ rng.normal(size=(5, 5))
    graph = knn_graph(x, 8)
    w = graph.toarray()
    d = w.sum(axis=1)
    centred = x - d @ x / d.sum()
    # X^T L X = 1/2 sum_ij W_ij (x_i - x_j)(x_i - x_j)^T, X^T D X = sum_i d_i x_i x_i^T.
    differences = centred[:, None, :] - centred[None, :, :]
    a = 0.5 * np.einsum("ij,ijf,ijg->fg", w, differences, differences)
    b = np.einsum("i,if,ig->fg", d, centred, centred)
    values, vectors = np.linalg.eig(np.linalg.solve(b, a))
    order = np.argsort(values.real)[:2]
    model = LocalityPreservingProjections(n_components=2).fit(x, graph=graph)
    np.testing.assert_allclose(model.eigenvalues_, values.real[order], rtol=1e-8)
    assert max_angle_degrees(model.components_, vectors.real[:, order]) < 1e-5


def test_lpp_on_identity_features_is_laplacian_eigenmaps(blob_2d: np.ndarray) -> None:
    graph = knn_graph(blob_2d[:150], 10)
    model = LocalityPreservingProjections(n_components=3).fit(np.eye(150), graph=graph)
    reference = spectral_embedding(graph, n_components=4, drop_first=True, random_state=0)[:, :3]
    assert_columns_equal_up_to_sign(model.transform(np.eye(150)), reference, atol=1e-6)


# ------------------------------------------------------------------------------------------------- CCA
def test_cca_matches_sklearn_and_the_eigen_equation() -> None:
    rng = np.random.default_rng(8)
    latent = rng.normal(size=(500, 3)) * np.array([3.0, 1.5, 0.7])
    x = latent @ rng.normal(size=(3, 6)) + 0.5 * rng.normal(size=(500, 6))
    y = latent @ rng.normal(size=(3, 5)) + 0.5 * rng.normal(size=(500, 5))
    ours = LinearCCA(n_components=3).fit(x, y)
    x_scores, y_scores = ours.transform(x, y)
    reference_x, reference_y = CCA(n_components=3, max_iter=5000, tol=1e-12, scale=False).fit(x, y).transform(x, y)
    reference_correlations = [np.corrcoef(reference_x[:, k], reference_y[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(ours.correlations_, reference_correlations, atol=1e-6)
    assert max_angle_degrees(x_scores, reference_x) < 1e-3
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    rho_squared = np.sort(np.linalg.eigvals(np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)).real)[::-1][:3]
    np.testing.assert_allclose(ours.correlations_**2, rho_squared, rtol=1e-8)
    np.testing.assert_allclose(np.corrcoef(x_scores.T, y_scores.T)[:3, 3:], np.diag(ours.correlations_), atol=1e-10)


# ----------------------------------------------------------------------------------------- spectral_embed
def test_spectral_embed_takes_uint8_images_and_matches_pca() -> None:
    images = np.random.default_rng(9).integers(0, 256, size=(120, 1, 6, 6), dtype=np.uint8)
    train, test = spectral_embed("classical-mds", images[:100], images[100:], dim=3)
    pca = PCA(n_components=3).fit(images[:100].reshape(100, -1) / 255.0)
    pca_train, pca_test = pca.transform(images[:100].reshape(100, -1) / 255.0), pca.transform(images[100:].reshape(20, -1) / 255.0)
    signs = np.sign(np.sum(train * pca_train, axis=0))
    np.testing.assert_allclose(train, pca_train * signs, atol=1e-4)
    np.testing.assert_allclose(test, pca_test * signs, atol=1e-4)
    with pytest.raises(UserError):
        spectral_embed("classical-mds", images[:100], images[100:], graph=knn_graph(images[:100].reshape(100, -1), 3))


# ------------------------------------------------------------------------------------------- user errors
def test_misuse_raises_scikit_learns_errors_and_the_cli_turns_them_into_one_line(blob_2d: np.ndarray, capsys) -> None:
    with pytest.raises(UserError):
        SPECTRAL_METHODS.get("spectral-clustering")
    with pytest.raises(ValueError, match="n_components must be between 1 and"):
        LaplacianEigenmaps(n_components=500).fit(blob_2d)
    with pytest.raises(NotFittedError):
        ClassicalMDS().transform(blob_2d)
    with pytest.raises(ValueError, match="precomputed graph cannot embed new points"):
        LaplacianEigenmaps(affinity="precomputed").fit(knn_graph(blob_2d, 5)).transform(blob_2d)
    with pytest.raises(ValueError, match="same rows"):
        LinearCCA().fit(blob_2d, blob_2d[:10])
    with pytest.raises(ValueError, match="disconnected"):
        Isomap(n_neighbors=1).fit(np.vstack([blob_2d[:5], blob_2d[:5] + 100.0]))
    with pytest.raises(ValueError, match="NaN"):
        ClassicalMDS().fit(np.full((5, 2), np.nan))
    assert main(["spectral", "--method", "classical-mds", "--dataset", "synthetic", "--subset", "20",
                 "--dim", "500"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: classical-mds: n_components must be between 1 and")
    assert main(["spectral", "--method", "laplacian-eigenmaps", "--dataset", "synthetic", "--subset", "20",
                 "--n-neighbors", "20"]) == 2  # 20 images have 19 neighbours each (once: "k must be between 1 and 19")
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: laplacian-eigenmaps: --n-neighbors 20 needs more than 20 training rows, this run has 20; "
                   "pass a smaller --n-neighbors or a larger --subset"]


def test_landmark_isomap_is_exact_with_all_points_and_close_with_few():
    """de Silva & Tenenbaum's landmarks: m = N reproduces exact Isomap; m = 100 of 1,500 points on a Swiss roll is
    within 1e-4 Procrustes disparity of it (scipy's procrustes: shapes standardised, then the residual)."""
    from scipy.spatial import procrustes

    from ssl_bench.spectral.methods.isomap import Isomap

    x, _ = make_swiss_roll(1500, random_state=0)
    exact = Isomap(n_components=2, n_neighbors=10, n_landmarks=0).fit_transform(x)
    np.testing.assert_array_equal(Isomap(n_components=2, n_neighbors=10, n_landmarks=1500).fit_transform(x), exact)
    assert procrustes(exact, Isomap(n_components=2, n_neighbors=10, n_landmarks=100).fit_transform(x))[2] < 1e-4
    assert procrustes(exact, np.random.default_rng(0).normal(size=exact.shape))[2] > 0.5  # the measure has teeth


def test_exact_isomap_that_cannot_fit_is_refused_before_any_work():
    from ssl_bench.spectral.embed import spectral_embed

    points = np.zeros((200_000, 2), dtype=np.float32)  # 200,000^2 geodesics would be ~900 GiB
    with pytest.raises(UserError, match=r"exact isomap on 200000 points needs about \d+ GiB.*--n-landmarks 1000") as err:
        spectral_embed("isomap", points, points[:3], dim=2, n_landmarks=0)
    assert "\n" not in str(err.value)


def test_a_spectral_result_says_where_its_seconds_and_memory_go():
    import time

    from ssl_bench.sources.spectral import evaluate_spectral
    from ssl_bench.spectral.settings import SpectralSettings

    started = time.perf_counter()
    result = evaluate_spectral("lpp", "synthetic", SpectralSettings(dim=8), subset=300, evaluations=["knn"])
    total = time.perf_counter() - started
    stages = {name: stage for name, stage in result["stages"].items() if "/" not in name}
    parts = {name: stage for name, stage in result["stages"].items() if "/" in name}
    assert list(stages) == ["data", "features", "fit", "out_of_sample", "evaluation"]
    assert sorted(parts) == ["evaluation/knn", "fit/eigensolve", "fit/graph"]  # LPP: its kNN graph, one eigensolve
    assert all(stage["seconds"] >= 0 for stage in result["stages"].values())
    assert sum(stage["seconds"] for stage in stages.values()) <= total
    for name in ("fit", "evaluation"):  # the parts of a stage take no more than the stage
        assert sum(part["seconds"] for key, part in parts.items() if key.startswith(name + "/")) <= stages[name]["seconds"] + 2e-3
    peaks = [stage["peak_memory_mb"] for stage in stages.values()]
    assert peaks == sorted(peaks) and peaks[-1] <= result["peak_memory_mb"] + 1  # a running peak, stage by stage
