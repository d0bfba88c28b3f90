"""SwAV (Caron et al., NeurIPS 2020): predict the code of one view from another, codes from Sinkhorn-Knopp.

Projections are l2-normalised and scored against K prototypes (a bias-free linear layer, its rows renormalised
to unit length before every step); each global view's scores, through 3 Sinkhorn-Knopp iterations
(epsilon 0.05) over the global batch, give soft codes q that the other crops predict (softmax of scores / 0.1).
The prototypes do not move during the first 2 epochs. Defaults from solo-learn's CIFAR recipe
(``scripts/pretrain/cifar/swav.yaml``: projector 2048 -> 128, 3000 prototypes, temperature 0.1, LARS lr 0.6,
weight decay 1e-6) and the paper (multi-crop 2 global + 6 local views). Left out: the queue of past
projections that SwAV adds for small batches (solo-learn starts it at epoch 50 of its CIFAR runs).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.distributed import gather
from ssl_bench.methods.base import METHODS, MethodSpec, Progress, SSLModel, global_view_count


@torch.no_grad()
def sinkhorn(scores: Tensor, epsilon: float, iterations: int) -> Tensor:
    """Soft codes (B, K) of ``scores: (B, K)``: Q = exp(scores / epsilon)^T scaled to total mass 1, then
    ``iterations`` times: rows (prototypes) to sum 1/K, columns (images) to sum 1/B; returned as B Q^T, so
    each image's code sums to 1 (SwAV's ``distributed_sinkhorn``, on the gathered global batch)."""
    q = torch.exp(scores / epsilon).T
    q /= q.sum()
    prototypes, images = q.shape
    for _ in range(iterations):
        q /= q.sum(dim=1, keepdim=True) * prototypes
        q /= q.sum(dim=0, keepdim=True) * images
    return (q * images).T


def swav_loss(scores: Tensor, n_global: int, temperature: float, epsilon: float, iterations: int) -> Tensor:
    """``scores: (V, B, K)`` of V views (the first ``n_global`` global): with q_i = sinkhorn(scores_i) for each
    global view i and log p_v = log_softmax(scores_v / tau),
        L = (1 / n_global) sum_i (1 / (V - 1)) sum_{v != i} -(1/B) sum_b q_i,b . log p_v,b.
    """
    log_p = F.log_softmax(scores / temperature, dim=-1)
    total = scores.new_zeros(())
    for i in range(n_global):
        q = sinkhorn(scores[i].detach(), epsilon, iterations)
        others = [v for v in range(len(scores)) if v != i]
        total = total + sum(-(q * log_p[v]).sum(dim=1).mean() for v in others) / len(others)
    return total / n_global


class SwAVModel(SSLModel):
    """Backbone -> projector -> l2-normalise -> ``prototypes`` (a bias-free (K, D) linear layer)."""

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        width = self.projector[-1].out_features
        self.prototypes = nn.Linear(width, int(self.loss_params["prototypes"]), bias=False)

    def before_step(self, progress: Progress) -> None:
        """Prototypes back on the unit sphere before each step (SwAV normalises them every iteration)."""
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))

    def before_optimizer_step(self, progress: Progress) -> None:
        """No gradient for the prototypes during the first ``freeze_prototype_epochs`` epochs."""
        if progress.epoch < self.loss_params["freeze_prototype_epochs"]:
            self.prototypes.weight.grad = None

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        n_global = global_view_count(views)
        scores = torch.stack([gather(self.prototypes(F.normalize(z, dim=1))) for z in self.embed_views(views)])
        params = self.loss_params
        loss = swav_loss(scores, n_global, params["temperature"], params["sinkhorn_epsilon"],
                         int(params["sinkhorn_iterations"]))
        return {"loss": loss}


METHODS.register("swav")(
    MethodSpec(
        name="swav",
        loss=swav_loss,
        projector_dims=(2048, 128),
        loss_params={"temperature": 0.1, "prototypes": 3000, "sinkhorn_epsilon": 0.05, "sinkhorn_iterations": 3,
                     "freeze_prototype_epochs": 2},
        positive_params=("temperature", "prototypes", "sinkhorn_epsilon", "sinkhorn_iterations"),
        reference="Caron et al. 2020, arXiv:2006.09882; solo-learn scripts/pretrain/cifar/swav.yaml",
        augment="simclr",
        family="distillation / clustering",
        optimizer={"name": "lars", "lr": 0.6, "weight_decay": 1e-6},
        model=SwAVModel,
        augment_defaults={"global_views": 2, "local_views": 6, "crop_scale": (0.14, 1.0),
                          "local_crop_scale": (0.05, 0.14)},
        views_fixed=False,
        not_implemented="the queue of past projections added to Sinkhorn's batch (SwAV's small-batch queue)",
    )
)
