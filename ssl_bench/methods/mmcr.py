"""MMCR (Yerxa et al., NeurIPS 2023): maximise the nuclear norm of the per-image centroids of K views.

Each image's K views are projected onto the unit sphere; the centroid matrix C (one row per image) of a
well-spread, view-invariant embedding has a large nuclear norm (its manifold capacity). Loss as in lightly 1.6.0's
``MMCRLoss`` (its local term included). Defaults: lambda 5e-3 (lightly's), K = 4 global views (the paper uses up to
40 on CIFAR; the cost grows with K), no momentum branch. Projector and optimiser are SimCLR's here, not the
paper's: chosen by us so that MMCR trains with the same head and schedule as the other methods.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.core.distributed import gather
from ssl_bench.methods.base import METHODS, MethodSpec, SSLModel


def mmcr_loss(z: Tensor, local_weight: float) -> tuple[Tensor, Tensor]:
    """(centroid term, local term) of MMCR for ``z: (B, K, D)``, K views of B images; the loss is their sum.

    With z̄ = z / ||z|| per view and C = (1/K) sum_k z̄_k (B, D):
        centroid = -||C||_*,   local = (lambda / B) sum_b ||z̄_b||_*   (z̄_b: the (K, D) views of image b),
    ||.||_* the nuclear norm (sum of singular values).
    """
    if z.ndim != 3 or z.shape[1] < 2:
        raise ValueError(f"mmcr_loss expects (B, K, D) with K >= 2 views, got {tuple(z.shape)}")
    z = F.normalize(z, dim=-1)
    centroid = -torch.linalg.svdvals(z.mean(dim=1)).sum()
    local = local_weight * torch.linalg.svdvals(z).sum() / z.shape[0] if local_weight else z.new_zeros(())
    return centroid, local


class MMCRModel(SSLModel):
    """K views -> backbone -> projector -> (B, K, D) -> :func:`mmcr_loss` over the global batch."""

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        z = gather(torch.stack(self.embed_views(views), dim=1).flatten(1)).unflatten(1, (len(views), -1))
        centroid, local = mmcr_loss(z, self.loss_params["local_weight"])
        return {"loss": centroid + local, "centroid": centroid, "local": local}


METHODS.register("mmcr")(
    MethodSpec(
        name="mmcr",
        loss=mmcr_loss,
        projector_dims=(2048, 128),
        loss_params={"local_weight": 5e-3},
        reference="Yerxa et al. 2023, arXiv:2303.03307; loss as lightly 1.6.0 MMCRLoss (lmda 5e-3)",
        augment="simclr",
        family="redundancy reduction",
        optimizer={"name": "lars", "lr": 0.4, "weight_decay": 1e-5},
        model=MMCRModel,
        augment_defaults={"global_views": 4},
        views_fixed=False,
    )
)
