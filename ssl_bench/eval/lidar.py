"""LiDAR (Thilak et al., ICLR 2024, arXiv:2312.04000): the smooth rank of the linear discriminant matrix of
augmentation surrogate classes, no labels needed.

n images of the test split are the surrogate classes; each is augmented q times, giving backbone features e_ij
(i < n, j < q, dimension d). The augmentation (setting ``recipe``): "run", the run's own training recipe (the
paper's choice), or a named recipe of :mod:`ssl_bench.data.augment` at its published defaults, the same for every
run, so that runs trained with different augmentations are measured alike. With class means mu_i and grand mean mu,

    S_b = 1/(n - 1) sum_i (mu_i - mu)(mu_i - mu)^T,
    S_w = 1/(n (q - 1)) sum_i sum_j (e_ij - mu_i)(e_ij - mu_i)^T + delta I_d,
    S_lidar = S_w^(-1/2) S_b S_w^(-1/2),     lambda = eigenvalues of S_lidar,
    p_k = (lambda_k + eps) / sum_l (lambda_l + eps),     LiDAR = exp(-sum_k p_k log p_k),

with delta = 1e-4 and eps = 1e-8 as in the paper; computed in float64. It lies between 1 and min(d, n - 1) (plus
what eps adds): how many directions of the representation tell images apart more than augmentations move them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.eval.base import EVALUATIONS, EncoderTarget, Evaluation, MetricColumn, nested_value

DELTA = 1e-4
EPSILON = 1e-8
N_IMAGES = 500
N_VIEWS = 8
RUN_RECIPE = "run"  # the recipe setting's default: each run's own training augmentation


def lidar(embeddings: Tensor, delta: float = DELTA, epsilon: float = EPSILON) -> float:
    """LiDAR of ``embeddings: (n, q, d)``, q views of each of n surrogate classes (see the module docstring)."""
    if embeddings.ndim != 3 or embeddings.shape[0] < 2 or embeddings.shape[1] < 2:
        raise UserError(f"LiDAR needs (n >= 2 images, q >= 2 views, d) features, got {tuple(embeddings.shape)}")
    e = embeddings.detach().double().cpu()
    n, q, d = e.shape
    means = e.mean(dim=1)
    between = means - means.mean(dim=0)
    scatter_between = between.T @ between / (n - 1)
    within = (e - means[:, None]).reshape(-1, d)
    scatter_within = within.T @ within / (n * (q - 1)) + delta * torch.eye(d, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(scatter_within)
    inverse_root = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    discriminant = inverse_root @ scatter_between @ inverse_root
    eigenvalues = torch.linalg.eigvalsh((discriminant + discriminant.T) / 2).clamp(min=0)
    if not torch.isfinite(eigenvalues).all():
        raise UserError("LiDAR of non-finite features is undefined; the run's network outputs NaN or inf")
    p = (eigenvalues + epsilon) / (eigenvalues + epsilon).sum()
    return float(torch.exp(-(p * torch.log(p)).sum()))


def evaluate_lidar(target: EncoderTarget, n: int = N_IMAGES, views: int = N_VIEWS, seed: int = 0,
                   recipe: str = RUN_RECIPE) -> dict[str, Any]:
    """The registry entry: LiDAR of ``n`` test images (a seeded draw), ``views`` augmentations each by ``recipe``."""
    _check_recipe(recipe)
    if target.augmented_views is None:
        raise UserError("LiDAR needs augmented views of the row's images (a trained run or an encoder row); drop it "
                        "for this row")
    images = target.test.images
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[: min(n, len(images))]
    features = target.augmented_views(images[chosen.sort().values], views, seed,
                                      None if recipe == RUN_RECIPE else recipe)
    augmentation = (target.own_recipe if recipe == RUN_RECIPE
                    else f"the {recipe} recipe at its published defaults (the same for every run)")
    return {"value": lidar(features), "protocol": {
        "images": f"{len(chosen)} test images (seeded draw, seed {seed})", "views": views,
        "augmentation": augmentation, "features": "backbone", "delta": DELTA, "epsilon": EPSILON,
        "reference": "Thilak et al. 2024, arXiv:2312.04000"}}


def _check_recipe(recipe: object) -> None:
    from ssl_bench.data.recipes import RECIPES

    if recipe != RUN_RECIPE and recipe not in RECIPES:
        raise UserError(f"lidar recipe must be {RUN_RECIPE!r} (the run's own) or one of {', '.join(RECIPES)}, got "
                        f"{recipe!r}")


def _check_settings(dataset: str, settings: dict[str, Any]) -> None:
    _check_recipe(settings.get("recipe", RUN_RECIPE))



EVALUATIONS.register("lidar")(Evaluation(
    name="lidar", needs="encoder", evaluate=evaluate_lidar, metric_keys=("lidar",),
    columns=(MetricColumn("lidar", "LiDAR", False, 1, nested_value("lidar", "value"), ranked=False),),
    description="LiDAR: smooth rank of the LDA matrix of augmentation surrogate classes (label-free; trained runs, "
                "encoder rows)",
    order=35, settings=("n", "views", "seed", "recipe"), check_settings=_check_settings,
))
