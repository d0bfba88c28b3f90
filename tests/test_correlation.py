"""Rank correlations of the predictivity study against scipy.stats, ties and constant sides included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ssl_bench.leaderboard.correlation import average_ranks, kendall_tau_b, rank_correlation, spearman

CASES = [
    (np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 1.0, 4.0, 3.0, 5.0])),
    (np.array([1.0, 1.0, 2.0, 3.0, 3.0, 3.0]), np.array([0.5, 0.7, 0.7, 0.9, 0.2, 0.9])),  # ties on both sides
    (np.random.default_rng(0).normal(size=40), np.random.default_rng(1).normal(size=40)),
    (np.round(np.random.default_rng(2).normal(size=30), 1), np.round(np.random.default_rng(3).normal(size=30), 1)),
]


@pytest.mark.parametrize(("x", "y"), CASES)
def test_spearman_and_kendall_tau_b_equal_scipy(x, y):
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)
    assert average_ranks(x) == pytest.approx(stats.rankdata(x))


def test_a_constant_side_or_too_few_runs_says_so_instead_of_nan():
    constant = rank_correlation([0.5, 0.5, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0])
    assert constant.value is None and "predictor is constant" in constant.note
    both = rank_correlation([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], method="kendall")
    assert both.value is None and "predictor and the target" in both.note
    assert rank_correlation([1.0, 2.0], [2.0, 1.0]).note.startswith("2 runs")


def test_the_bootstrap_interval_holds_the_estimate_and_follows_the_seed():
    x, y = CASES[2]
    y = x + 0.8 * y  # a real, imperfect relation
    result = rank_correlation(x, y, resamples=500, seed=3)
    assert result.low < result.value < result.high and result.n == 40 and result.skipped == 0
    assert rank_correlation(x, y, resamples=500, seed=3) == result
    # resampling whole groups (a configuration's seeds) gives a wider interval than resampling runs here
    grouped = rank_correlation(x, y, groups=[i // 4 for i in range(40)], resamples=500, seed=3)
    assert grouped.value == result.value


def test_a_perfect_ranking_is_one_with_a_degenerate_interval():
    result = rank_correlation([1.0, 2.0, 3.0], [10.0, 20.0, 30.0], resamples=200)
    assert result.value == pytest.approx(1.0) and result.low == pytest.approx(1.0) and result.high == pytest.approx(1.0)
    assert result.skipped > 0  # resamples of one run three times are constant: skipped and counted


@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_the_bootstrap_interval_agrees_with_scipys_percentile_bootstrap(method):
    """The same percentile bootstrap over runs as scipy.stats.bootstrap (paired resamples, method="percentile"):
    the two draw their resamples from different generators, so the endpoints agree to Monte-Carlo error only."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    ours = rank_correlation(x, y, method, resamples=4000, seed=0)
    scipy_statistic = stats.spearmanr if method == "spearman" else stats.kendalltau
    theirs = stats.bootstrap((x, y), lambda a, b: scipy_statistic(a, b).statistic, paired=True, vectorized=False,
                             n_resamples=4000, method="percentile", confidence_level=0.95, random_state=0)
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.025)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.025)
