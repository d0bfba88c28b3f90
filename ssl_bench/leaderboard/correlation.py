"""Rank correlations between a predictor and a target over runs, with bootstrap confidence intervals.

Spearman's rho: Pearson's correlation of the ranks (ties get their average rank). Kendall's tau-b:
(C - D) / sqrt((n0 - n1)(n0 - n2)) over the n0 = n(n - 1)/2 pairs, C concordant, D discordant, n1 and n2 the pairs
tied in x and in y. A constant predictor or target has no rank correlation: the result says so (``note``) instead
of returning NaN. The interval is the percentile bootstrap: runs resampled with replacement, or whole groups of
runs (a configuration's seeds) when ``groups`` is given, resamples where either side is constant skipped and
counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("spearman", "kendall")


@dataclass(frozen=True)
class Correlation:
    """``value`` in [-1, 1] with its bootstrap interval [``low``, ``high``] over ``n`` runs; None and a ``note``
    where the data cannot say (a constant side, fewer than 3 runs)."""

    method: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    resamples: int = 0
    skipped: int = 0
    note: str = ""


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the average of their ranks: (n,) -> (n,)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of (n,) and (n,); both must vary."""
    rx, ry = average_ranks(x) - (len(x) + 1) / 2, average_ranks(y) - (len(y) + 1) / 2
    return float(rx @ ry / math.sqrt((rx @ rx) * (ry @ ry)))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of (n,) and (n,) by counting pairs (O(n^2)); both must vary."""
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), k=1)
    dx, dy = dx[upper], dy[upper]
    pairs = len(dx)
    concordant_minus_discordant = float(np.sum(dx * dy))
    tied_x, tied_y = float(np.sum(dx == 0)), float(np.sum(dy == 0))
    return concordant_minus_discordant / math.sqrt((pairs - tied_x) * (pairs - tied_y))


def _varies(values: np.ndarray) -> bool:
    return bool(np.any(values != values[0]))


def rank_correlation(predictor: Sequence[float], target: Sequence[float], method: str = "spearman",
                     groups: Sequence[object] | None = None, resamples: int = 2000, confidence: float = 0.95,
                     seed: int = 0) -> Correlation:
    """The rank correlation of ``predictor`` and ``target`` (one value each per run) and its bootstrap interval."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x, y = np.asarray(predictor, dtype=float), np.asarray(target, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"predictor and target need one value per run, got shapes {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("predictor and target must be finite")
    statistic = spearman if method == "spearman" else kendall_tau_b
    n = len(x)
    if n < 3:
        return Correlation(method, None, None, None, n, note=f"{n} runs: a rank correlation needs at least 3")
    constant = [name for name, values in (("predictor", x), ("target", y)) if not _varies(values)]
    if constant:
        return Correlation(method, None, None, None, n, note=f"the {' and the '.join(constant)} is constant over "
                                                              "these runs: no ranking to compare")
    value = statistic(x, y)
    labels = np.arange(n) if groups is None else np.unique(np.asarray(groups, dtype=object), return_inverse=True)[1]
    members = [np.flatnonzero(labels == g) for g in range(labels.max() + 1)]
    generator = np.random.default_rng(seed)
    draws, skipped = [], 0
    for _ in range(resamples):
        chosen = np.concatenate([members[g] for g in generator.integers(0, len(members), len(members))])
        if len(chosen) < 3 or not (_varies(x[chosen]) and _varies(y[chosen])):
            skipped += 1
            continue
        draws.append(statistic(x[chosen], y[chosen]))
    if not draws:
        return Correlation(method, value, None, None, n, resamples, skipped, "every resample was constant")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Correlation(method, value, float(low), float(high), n, resamples, skipped)
