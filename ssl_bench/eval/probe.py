"""The symmetry-equivariance probe as an evaluation of trained runs (:mod:`ssl_bench.probes`): invariance and
fitted linear equivariance maps per transformation; the leaderboard shows their means over transformations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from ssl_bench.eval.base import EVALUATIONS, Evaluation, MetricColumn


def probe_rows(metrics: dict[str, Any], measure: str) -> list[dict[str, Any]]:
    """The rows of the equivariance probe (``metrics["probe"]["rows"]``, as :func:`ssl_bench.probes.runs.probe_run`
    stores them: transform, metric, theta, theta_b, value) of one measure at one theta, with a finite value."""
    probe = metrics.get("probe")
    rows = probe.get("rows") if isinstance(probe, dict) else None
    return [row for row in rows or [] if isinstance(row, dict) and row.get("metric") == measure
            and isinstance(row.get("theta"), (int, float)) and row.get("theta_b") is None
            and isinstance(row.get("value"), (int, float)) and math.isfinite(row["value"])]


def probe_mean(measure: str) -> Callable[[dict[str, Any]], float | None]:
    """(1/|T|) sum_t mean_theta value(t, theta): the probe's ``measure`` averaged over each transformation's theta
    grid (identity excluded by the probe), then over transformations."""

    def extract(metrics: dict[str, Any]) -> float | None:
        by_transform: dict[str, list[float]] = {}
        for row in probe_rows(metrics, measure):
            by_transform.setdefault(str(row["transform"]), []).append(float(row["value"]))
        means = [math.fsum(values) / len(values) for values in by_transform.values()]
        return math.fsum(means) / len(means) if means else None

    return extract


def evaluate_probe(run_dir: str | Path, **settings: Any) -> dict[str, Any]:
    """Probe ``run_dir`` (writes probe.json and probe.png there) and return the stored result."""
    from ssl_bench.probes.runs import probe_run

    return probe_run(run_dir, **settings)


EVALUATIONS.register("probe")(Evaluation(
    name="probe", needs="run", evaluate=evaluate_probe, metric_keys=("probe",),
    columns=(MetricColumn("probe_invariance", "invariance (probe mean)", False, 2, probe_mean("invariance"),
                          ranked=False),
             MetricColumn("probe_equivariance_r2", "equivariance R² (probe mean)", False, 2,
                          probe_mean("equivariance_r2"), ranked=False)),
    description="symmetry-equivariance probe of a trained encoder on the test split (ssl-bench probe)",
    order=50, settings=("transforms", "n", "seed", "features"),
))
