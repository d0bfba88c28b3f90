"""Summaries over seeds and the confidence interval of a difference between two configurations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Summary:
    """Values of one metric over seeds: mean m = sum(x) / n and sample std s = sqrt(sum((x - m)^2) / (n - 1))."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n

    @property
    def std(self) -> float | None:
        """Sample standard deviation (ddof = 1); None for a single value."""
        if self.n < 2:
            return None
        mean = self.mean
        return math.sqrt(math.fsum((x - mean) ** 2 for x in self.values) / (self.n - 1))


@dataclass(frozen=True)
class Difference:
    """mean(A) - mean(B) with a two-sided t confidence interval (``low``/``high`` None when n is too small)."""

    estimate: float
    low: float | None
    high: float | None
    test: str
    df: float | None
    confidence: float
    note: str


def difference_ci(a: Mapping[int, float], b: Mapping[int, float], confidence: float = 0.95) -> Difference:
    """Confidence interval for mean(A) - mean(B); ``a``/``b`` map seed -> value.

    Same seeds on both sides: paired t over the per-seed differences d_s = a_s - b_s,
    mean(d) +- t_{(1+c)/2, n-1} sd(d) / sqrt(n). Otherwise Welch's t: se^2 = s_a^2/n_a + s_b^2/n_b,
    df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)), mean(a) - mean(b) +- t_{(1+c)/2, df} se.
    """
    if not a or not b:
        raise ValueError("both sides need at least one value")
    if set(a) == set(b):
        seeds = sorted(a)
        differences = Summary(tuple(a[seed] - b[seed] for seed in seeds))
        test = f"paired t over seeds {', '.join(map(str, seeds))}"
        if differences.n < 2:
            return Difference(differences.mean, None, None, test, None, confidence,
                              "one seed on each side: no interval; run more seeds")
        df: float = differences.n - 1
        return _interval(differences.mean, differences.std / math.sqrt(differences.n), df, test, confidence)
    side_a, side_b = Summary(tuple(a.values())), Summary(tuple(b.values()))
    estimate = side_a.mean - side_b.mean
    test = "Welch t (the seeds differ, so no pairing)"
    if side_a.n < 2 or side_b.n < 2:
        return Difference(estimate, None, None, test, None, confidence,
                          "fewer than two seeds on a side: no interval; run more seeds")
    var_a, var_b = side_a.std**2 / side_a.n, side_b.std**2 / side_b.n
    se = math.sqrt(var_a + var_b)
    df = (var_a + var_b) ** 2 / (var_a**2 / (side_a.n - 1) + var_b**2 / (side_b.n - 1)) if se > 0 else math.inf
    return _interval(estimate, se, df, test, confidence)


def _interval(estimate: float, se: float, df: float, test: str, confidence: float) -> Difference:
    from scipy import stats

    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se if se > 0 else 0.0
    return Difference(estimate, estimate - half, estimate + half, test, df if math.isfinite(df) else None,
                      confidence, "")
