"""alpha-ReQ (Agrawal, Mondal, Ghosh & Richards, NeurIPS 2022): the power-law decay of a representation's
eigenspectrum, no labels needed.

For the train-split features Z: (N, F), centred, the eigenvalues lambda_1 >= lambda_2 >= ... of the covariance
Z_c^T Z_c / (N - 1) are fitted by lambda_i ~ c i^(-alpha) with least squares on (log i, log lambda_i) over the ranks
i = FIRST_RANK .. r (r: the last eigenvalue above 1e-10 lambda_1; the first ranks are left out, as the paper fits
the tail of the spectrum). alpha near 1 is what the paper finds for good representations; a much smaller alpha
means a flat (whiter, noisier) spectrum, a much larger one a collapsed, low-rank one. The fit's R^2 is reported.
Computed in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.eval.base import EVALUATIONS, Evaluation, EvaluationOutput, FeatureSplits, MetricColumn, metric_value

FIRST_RANK = 3
RELATIVE_FLOOR = 1e-10


def eigenspectrum(features: Tensor) -> Tensor:
    """Eigenvalues of the covariance of ``features: (N, F)``, descending, float64: (min(N - 1, F),)."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"alpha-ReQ needs an (N, F) matrix with N >= 2, got shape {tuple(features.shape)}")
    z = features.detach().double().cpu()
    singular = torch.linalg.svdvals(z - z.mean(dim=0))
    return singular[: min(z.shape[0] - 1, z.shape[1])] ** 2 / (z.shape[0] - 1)


def alpha_req(features: Tensor, first_rank: int = FIRST_RANK) -> tuple[float, float, int]:
    """(alpha, R^2 of the log-log fit, last rank fitted) of ``features: (N, F)`` (see the module docstring)."""
    spectrum = eigenspectrum(features)
    if not torch.isfinite(spectrum).all() or spectrum[0] <= 0:
        raise ValueError("alpha-ReQ of a constant or non-finite matrix is undefined")
    last = int((spectrum > RELATIVE_FLOOR * spectrum[0]).sum())
    if last - first_rank + 1 < 2:
        raise ValueError(f"alpha-ReQ needs at least two eigenvalues from rank {first_rank} on; only {last} are non-zero")
    ranks = torch.arange(first_rank, last + 1, dtype=torch.float64)
    x, y = torch.log(ranks), torch.log(spectrum[first_rank - 1 : last])
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    residual = y - (y.mean() + slope * (x - x.mean()))
    r2 = 1.0 - float((residual**2).sum() / ((y - y.mean()) ** 2).sum().clamp_min(1e-300))
    return -float(slope), r2, last


def evaluate_alpha_req(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """The registry entry: alpha-ReQ of the train split's features."""
    alpha, r2, last = alpha_req(splits.train)
    return EvaluationOutput(
        {"alpha_req": alpha, "alpha_req_fit": {"r2": r2, "ranks": [FIRST_RANK, last]}},
        {"features": f"train split ({splits.train.shape[0]} x {splits.train.shape[1]})", "centred": True,
         "fit": "least squares of log eigenvalue on log rank", "first_rank": FIRST_RANK,
         "relative_floor": RELATIVE_FLOOR, "reference": "Agrawal et al. 2022, NeurIPS"},
    )


EVALUATIONS.register("alpha-req")(Evaluation(
    name="alpha-req", needs="features", evaluate=evaluate_alpha_req, metric_keys=("alpha_req", "alpha_req_fit"),
    columns=(MetricColumn("alpha_req", "α-ReQ", False, 2, metric_value("alpha_req"), ranked=False),),
    description="alpha-ReQ power-law decay of the train features' eigenspectrum (label-free)",
    order=40,
))
