"""One PNG per probed run: invariance and equivariance R^2 against theta, one curve per transform.

Transforms have different units, so the x axis is the Lie coordinate t(theta) (theta, or log theta for scale and
contrast; the parameter itself for finite groups) divided by the largest |t| of that transform's grid: every curve
spans [-1, 1] and the legend gives the largest theta with its unit.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ssl_bench.probes.equivariance import ProbeResult
from ssl_bench.probes.transforms import TRANSFORMS

PANELS = (("invariance", "invariance (1 = invariant, 0 = random pair)"), ("equivariance_r2", "equivariance R$^2$"))


def plot_probe(result: ProbeResult, path: Path | str, title: str = "") -> Path:
    """Write the two-panel plot of ``result`` to ``path`` (PNG) and return the path."""
    path = Path(path)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for axis, (metric, label) in zip(axes, PANELS):
        for name in result.protocol["transforms"]:
            xs, ys, largest = _curve(result, name, metric)
            unit = TRANSFORMS.get(name).unit
            axis.plot(xs, ys, marker="o", markersize=4, label=f"{name} (max {largest:.3g} {unit})")
        axis.axhline(0.0, color="grey", linewidth=0.6)
        axis.axhline(1.0, color="grey", linewidth=0.6, linestyle=":")
        axis.set_xlabel("relative magnitude t(theta) / max |t|")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    figure.suptitle(title or f"symmetry probe (n={result.protocol['n']}, F={result.feature_dim})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _curve(result: ProbeResult, name: str, metric: str) -> tuple[list[float], list[float], float]:
    """(x, y, largest |theta|) for one transform, x = t(theta) / max |t| sorted ascending."""
    law = TRANSFORMS.get(name).law
    to_coordinate = law.coordinate or float
    points = sorted(
        (to_coordinate(row.theta), row.value, row.theta)
        for row in result.rows
        if row.transform == name and row.metric == metric and row.theta is not None
    )
    scale = max(abs(t) for t, _, _ in points)
    largest = max(abs(theta) for _, _, theta in points)
    return [t / scale for t, _, _ in points], [value for _, value, _ in points], largest
