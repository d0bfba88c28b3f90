"""BYOL (Grill et al., NeurIPS 2020): an online network with a predictor regresses a momentum (EMA) target network.

Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/byol.yaml``): projector 4096 -> 256, predictor
4096 -> 256, target momentum 0.99 -> 1.0 on a cosine schedule over all steps, LARS lr 1.0 (batch 256) with weight
decay 1e-5, BYOL's asymmetric augmentations (blur and solarisation dropped at 32 px and below, as solo-learn's
CIFAR setting does for blur).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule


def byol_loss(p_a: Tensor, p_b: Tensor, t_a: Tensor, t_b: Tensor) -> Tensor:
    """Symmetrised normalised regression of the other view's target projection (BYOL, eq. 2):

        L = (1/B) sum_b [ ||p̄_a,b - t̄_b,b||^2 + ||p̄_b,b - t̄_a,b||^2 ],   ||x̄ - ȳ||^2 = 2 - 2 cos(x, y),

    with x̄ = x / ||x||. p_a, p_b: (B, D) online predictions of views a and b; t_a, t_b: (B, D) target projections
    (no gradient flows into them).
    """
    _check_four(p_a, p_b, t_a, t_b)
    return (2 - 2 * F.cosine_similarity(p_a, t_b.detach(), dim=1)).mean() + (
        2 - 2 * F.cosine_similarity(p_b, t_a.detach(), dim=1)
    ).mean()


def _check_four(*tensors: Tensor) -> None:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1 or tensors[0].ndim != 2:
        raise ValueError(f"expected four (B, D) tensors of one shape, got {[tuple(t.shape) for t in tensors]}")


METHODS.register("byol")(
    MethodSpec(
        name="byol",
        loss=byol_loss,
        projector_dims=(4096, 256),
        predictor_hidden=(4096,),
        loss_params={},
        momentum=MomentumSchedule(base=0.99, final=1.0),
        reference="Grill et al. 2020, arXiv:2006.07733; solo-learn scripts/pretrain/cifar/byol.yaml",
        augment="byol",
        family="distillation / clustering",
        optimizer={"name": "lars", "lr": 1.0, "weight_decay": 1e-5},
    )
)
