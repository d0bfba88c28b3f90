"""The symmetry-equivariance probe as an evaluation of encoders (:mod:`ssl_bench.probes`): invariance and
fitted linear equivariance maps per transformation; the leaderboard shows their means over transformations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from ssl_bench.eval.base import EVALUATIONS, EncoderTarget, Evaluation, MetricColumn


def probe_rows(metrics: dict[str, Any], measure: str) -> list[dict[str, Any]]:
    """The rows of the equivariance probe (``metrics["probe"]["rows"]``, as :func:`ssl_bench.sources.probing.probe_run`
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


def evaluate_probe(target: EncoderTarget, transforms: Sequence[str] | None = None, n: int | None = 2000,
                   seed: int = 0, features: str = "backbone", out: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Probe ``target``'s encoder of ``features`` on its test split; write ``out`` (default
    ``target.out_dir``/probe[-FEATURES].json) and its .png plot, and return the stored result."""
    from ssl_bench.probes.report import probe_paths, probe_to_files

    json_path, _ = probe_paths(target.out_dir, features, out)
    title, protocol = target.describe(features)
    return probe_to_files(target.encoder(features), target.test, json_path, title=title, protocol=protocol,
                          transforms=transforms, n=n, seed=seed, device=target.device, progress=progress)


EVALUATIONS.register("probe")(Evaluation(
    name="probe", needs="encoder", evaluate=evaluate_probe, metric_keys=("probe",),
    columns=(MetricColumn("probe_invariance", "invariance (probe mean)", False, 2, probe_mean("invariance"),
                          ranked=False),
             MetricColumn("probe_equivariance_r2", "equivariance R² (probe mean)", False, 2,
                          probe_mean("equivariance_r2"), ranked=False)),
    description="symmetry-equivariance probe of a trained encoder on the test split (ssl-bench probe)",
    order=50, settings=("transforms", "n", "seed", "features"),
))
