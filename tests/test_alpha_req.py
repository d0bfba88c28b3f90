"""alpha-ReQ against matrices whose covariance eigenvalues are known by construction, scipy's linregress and
scikit-learn's PCA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import linregress
from sklearn.decomposition import PCA

from ssl_bench.eval import FeatureSplits, evaluate_features
from ssl_bench.eval.alpha_req import FIRST_RANK, alpha_req, eigenspectrum


def with_covariance_spectrum(eigenvalues: np.ndarray, n: int = 200, seed: int = 0) -> torch.Tensor:
    """Centred Z: (n, F) with Z^T Z / (n - 1) having exactly ``eigenvalues``, plus an arbitrary row offset."""
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((n, len(eigenvalues)))
    u, _ = np.linalg.qr(raw - raw.mean(axis=0))  # orthonormal columns, each orthogonal to the ones vector
    v, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    z = np.sqrt(n - 1) * u @ np.diag(np.sqrt(eigenvalues)) @ v.T
    return torch.from_numpy(z + rng.standard_normal(len(eigenvalues)))  # the mean is removed by the measure


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_an_exact_power_law_gives_its_exponent(alpha):
    ranks = np.arange(1, 33)
    found, r2, last = alpha_req(with_covariance_spectrum(3.0 * ranks ** -alpha))
    assert found == pytest.approx(alpha, abs=1e-9) and r2 == pytest.approx(1.0, abs=1e-12) and last == 32


def test_other_spectra_match_linregress_over_the_same_ranks():
    eigenvalues = np.exp(-np.arange(1, 25) / 6.0)
    found, r2, last = alpha_req(with_covariance_spectrum(eigenvalues, seed=3))
    ranks = np.arange(FIRST_RANK, last + 1)
    reference = linregress(np.log(ranks), np.log(eigenvalues[FIRST_RANK - 1 : last]))
    assert found == pytest.approx(-reference.slope, rel=1e-9) and r2 == pytest.approx(reference.rvalue**2, rel=1e-9)


def test_eigenspectrum_equals_sklearn_pca():
    z = torch.from_numpy(np.random.default_rng(4).standard_normal((60, 12)) @ np.diag(np.arange(1, 13)))
    expected = PCA().fit(z.numpy()).explained_variance_
    np.testing.assert_allclose(eigenspectrum(z).numpy(), expected, rtol=1e-10)


def test_rank_deficient_features_fit_only_their_non_zero_eigenvalues_and_degenerate_ones_are_refused():
    eigenvalues = np.concatenate([np.arange(1, 11, dtype=float) ** -1.5, np.zeros(6)])
    found, _, last = alpha_req(with_covariance_spectrum(eigenvalues, seed=5))
    assert last == 10 and found == pytest.approx(1.5, abs=1e-8)
    with pytest.raises(ValueError, match="constant"):
        alpha_req(torch.ones(10, 4))
    with pytest.raises(ValueError, match="at least two eigenvalues"):
        alpha_req(with_covariance_spectrum(np.array([2.0, 1.0, 0.5, 0.0]), seed=6))


def test_registry_entry_reports_alpha_and_its_fit():
    train = with_covariance_spectrum(np.arange(1, 21, dtype=float) ** -1.0, seed=7).float()
    labels = torch.arange(200) % 2
    result = evaluate_features(FeatureSplits(train, labels, train[:10], labels[:10], 2), ["alpha-req"])
    assert result["alpha_req"] == pytest.approx(1.0, abs=1e-3)
    assert result["alpha_req_fit"]["ranks"] == [FIRST_RANK, 20] and result["alpha_req_fit"]["r2"] > 0.999
