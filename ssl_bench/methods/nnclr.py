"""NNCLR (Dwibedi et al., ICCV 2021): contrast each view's prediction with the nearest neighbour of the other view's
projection in a support set (a FIFO queue of past projections).

Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/nnclr.yaml`` and ``solo/methods/nnclr.py``):
projector 2048 -> 2048 -> 256 ending in BatchNorm, predictor 4096 -> 256, temperature 0.2, support set of 65536
projections, LARS lr 0.4 (batch 256), weight decay 1e-5, BYOL's asymmetric augmentations (``asymmetric.yaml``, as
the NNCLR paper); each view through the network on its own (its own BatchNorm statistics). The loss is solo-learn's: cross-entropy over the other view's predictions of the global
batch, symmetrised. The support set starts as random unit vectors (as solo-learn and lightly start theirs) and is
a buffer of the model, so the checkpoint holds it and every DDP rank enqueues the same gathered batch.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.distributed import gather
from ssl_bench.methods.base import METHODS, MethodSpec, SSLModel, at_least_fp32, mlp_with_output_bn


def nearest_neighbours(z: Tensor, support: Tensor) -> Tensor:
    """Row by row, the support row of largest cosine similarity with the row of ``z: (B, D)``; ``support: (Q, D)``
    l2-normalised. (B, D)."""
    return support[(F.normalize(z, dim=1) @ support.T).argmax(dim=1)]


def nnclr_loss(nn_a: Tensor, nn_b: Tensor, p_a: Tensor, p_b: Tensor, temperature: float) -> Tensor:
    """(1/2) [CE(nn_a, p_b) + CE(nn_b, p_a)] with CE(n, p) = -(1/B) sum_i log softmax_j(n̄_i . p̄_j / tau)_i,
    x̄ = x / ||x||; nn_*: (B, D) nearest neighbours of each view's projection, p_*: (B, D) predictions."""
    def cross_entropy(neighbours: Tensor, predictions: Tensor) -> Tensor:
        logits = F.normalize(neighbours, dim=1) @ F.normalize(predictions, dim=1).T / temperature
        return F.cross_entropy(logits, torch.arange(len(logits), device=logits.device))

    return (cross_entropy(nn_a, p_b) + cross_entropy(nn_b, p_a)) / 2


class NNCLRModel(SSLModel):
    """Two views -> projections z (-> predictions p); the support set ``support`` (Q, D) and its write position
    ``support_position`` are buffers, enqueued with view a's normalised projections after each forward."""

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        width = next(layer.out_features for layer in reversed(self.projector) if isinstance(layer, nn.Linear))
        self.register_buffer("support", F.normalize(torch.randn(int(self.loss_params["queue_size"]), width), dim=1))
        self.register_buffer("support_position", torch.zeros((), dtype=torch.long))

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        if len(views) != 2:
            raise ValueError(f"nnclr takes exactly two views, got {len(views)}")
        z_a, z_b = (self.embed(view) for view in views)
        p_a, p_b = (gather(at_least_fp32(self.predictor(z))) for z in (z_a, z_b))
        z_a, z_b = gather(z_a), gather(z_b)
        with torch.no_grad():
            nn_a, nn_b = nearest_neighbours(z_a, self.support), nearest_neighbours(z_b, self.support)
        loss = nnclr_loss(nn_a, nn_b, p_a, p_b, self.loss_params["temperature"])
        if self.training:
            self.enqueue(F.normalize(z_a.detach(), dim=1))
        return {"loss": loss}

    @torch.no_grad()
    def enqueue(self, z: Tensor) -> None:
        """Write ``z: (N, D)`` at the queue's position, wrapping around (the oldest rows are overwritten)."""
        z = z[-len(self.support):]
        rows = (self.support_position + torch.arange(len(z), device=z.device)) % len(self.support)
        self.support[rows] = z.to(self.support.dtype)
        self.support_position.copy_((self.support_position + len(z)) % len(self.support))


METHODS.register("nnclr")(
    MethodSpec(
        name="nnclr",
        loss=nnclr_loss,
        projector_dims=(2048, 2048, 256),
        predictor_hidden=(4096,),
        loss_params={"temperature": 0.2, "queue_size": 65536},
        positive_params=("temperature", "queue_size"),
        reference="Dwibedi et al. 2021, arXiv:2104.14548; solo-learn scripts/pretrain/cifar/nnclr.yaml",
        augment="byol",
        family="contrastive",
        optimizer={"name": "lars", "lr": 0.4, "weight_decay": 1e-5},
        projector=mlp_with_output_bn,
        model=NNCLRModel,
    )
)
