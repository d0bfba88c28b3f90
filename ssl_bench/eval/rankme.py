"""RankMe (Garrido, Balestriero, Najman & LeCun, ICML 2023): the smooth rank of a representation, no labels needed.

For the train-split features Z: (N, F) with singular values sigma_1 >= ... >= sigma_min(N,F) (not centred, as in
the paper),

    p_k = sigma_k / ||sigma||_1 + eps,        RankMe(Z) = exp(-sum_k p_k log p_k),     eps = 1e-7,

the exponential of the entropy of the normalised singular values: min(N, F) for a flat spectrum, 1 for rank one.
Computed in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.eval.base import EVALUATIONS, Evaluation, EvaluationOutput, FeatureSplits, MetricColumn, metric_value

EPSILON = 1e-7


def rankme(features: Tensor, epsilon: float = EPSILON) -> float:
    """RankMe of ``features: (N, F)`` (see the module docstring)."""
    if features.ndim != 2 or min(features.shape) < 1:
        raise ValueError(f"RankMe needs a non-empty (N, F) matrix, got shape {tuple(features.shape)}")
    singular = torch.linalg.svdvals(features.detach().double().cpu())
    total = singular.sum()
    if not torch.isfinite(total) or total <= 0:
        raise ValueError("RankMe of an all-zero or non-finite matrix is undefined")
    p = singular / total + epsilon
    return float(torch.exp(-(p * torch.log(p)).sum()))


def evaluate_rankme(splits: FeatureSplits, seed: int = 0) -> EvaluationOutput:
    """The registry entry: RankMe of the train split's features (the data the representation was learned on)."""
    return EvaluationOutput(
        {"rankme": rankme(splits.train)},
        {"features": f"train split ({splits.train.shape[0]} x {splits.train.shape[1]})", "epsilon": EPSILON,
         "centred": False, "reference": "Garrido et al. 2023, arXiv:2210.02885"},
    )


EVALUATIONS.register("rankme")(Evaluation(
    name="rankme", needs="features", evaluate=evaluate_rankme, metric_keys=("rankme",),
    columns=(MetricColumn("rankme", "RankMe", False, 1, metric_value("rankme"), ranked=False),),
    description="RankMe smooth rank of the train features (label-free)",
    order=30,
))
