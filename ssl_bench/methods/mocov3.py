"""MoCo v3 (Chen, Xie & He, ICCV 2021): InfoNCE between an online query (with a predictor) and the keys of a
momentum (EMA) encoder, the other images of the (global) batch as negatives.

Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/mocov3.yaml``) with its ResNet heads: projector
4096 -> 256 ending in BatchNorm, predictor 4096 -> 256, temperature 0.2, key-encoder momentum 0.99 -> 1.0 on a
cosine schedule, LARS lr 0.3 (batch 256) with weight decay 1e-6, BYOL's asymmetric augmentations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule, mlp_with_output_bn


def mocov3_contrastive(q: Tensor, k: Tensor, temperature: float) -> Tensor:
    """ctr(q, k) = 2 tau * (1/B) sum_i -log( exp(q̄_i . k̄_i / tau) / sum_j exp(q̄_i . k̄_j / tau) ),  x̄ = x / ||x||.

    q: (B, D) queries, k: (B, D) keys (no gradient); the 2 tau factor is the paper's (Algorithm 1)."""
    logits = F.normalize(q, dim=1) @ F.normalize(k.detach(), dim=1).T / temperature
    labels = torch.arange(q.shape[0], device=q.device)
    return 2 * temperature * F.cross_entropy(logits, labels)


def mocov3_loss(q_a: Tensor, q_b: Tensor, k_a: Tensor, k_b: Tensor, temperature: float) -> Tensor:
    """Symmetrised MoCo v3 loss L = ctr(q_a, k_b) + ctr(q_b, k_a) (:func:`mocov3_contrastive`).

    q_a, q_b: (B, D) online predictions of views a and b; k_a, k_b: (B, D) momentum-encoder projections."""
    if len({tuple(t.shape) for t in (q_a, q_b, k_a, k_b)}) != 1 or q_a.ndim != 2:
        raise ValueError(f"expected four (B, D) tensors of one shape, got {[tuple(t.shape) for t in (q_a, q_b, k_a, k_b)]}")
    return mocov3_contrastive(q_a, k_b, temperature) + mocov3_contrastive(q_b, k_a, temperature)


METHODS.register("mocov3")(
    MethodSpec(
        name="mocov3",
        loss=mocov3_loss,
        projector_dims=(4096, 256),
        projector=mlp_with_output_bn,
        predictor_hidden=(4096,),
        loss_params={"temperature": 0.2},
        positive_params=("temperature",),
        momentum=MomentumSchedule(base=0.99, final=1.0),
        reference="Chen, Xie & He 2021, arXiv:2104.02057; solo-learn scripts/pretrain/cifar/mocov3.yaml",
        augment="byol",
        family="contrastive",
        optimizer={"name": "lars", "lr": 0.3, "weight_decay": 1e-6},
    )
)
