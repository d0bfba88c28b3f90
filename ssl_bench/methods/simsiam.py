"""SimSiam (Chen & He, CVPR 2021): a predictor and a stop-gradient, no negatives and no momentum target.

Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/simsiam.yaml``): projector 2048-2048-2048 ending
in BatchNorm (the paper's), predictor 512 -> 2048, SGD lr 0.5 (batch 256, momentum 0.9) with weight decay 1e-5,
the SimCLR augmentations (solo-learn's ``symmetric_weak``; ours drop the blur at 32 px and below).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ssl_bench.methods.base import METHODS, MethodSpec, mlp_with_output_bn


def simsiam_loss(p_a: Tensor, p_b: Tensor, z_a: Tensor, z_b: Tensor) -> Tensor:
    """Symmetrised negative cosine similarity with a stop-gradient (SimSiam, eq. 3-4):

        L = D(p_a, sg(z_b)) / 2 + D(p_b, sg(z_a)) / 2,    D(p, z) = -(1/B) sum_b cos(p_b, z_b),

    p_a, p_b: (B, D) predictions; z_a, z_b: (B, D) projections of the same network (detached here).
    """
    if len({tuple(t.shape) for t in (p_a, p_b, z_a, z_b)}) != 1 or p_a.ndim != 2:
        raise ValueError(f"expected four (B, D) tensors of one shape, got {[tuple(t.shape) for t in (p_a, p_b, z_a, z_b)]}")
    return -(F.cosine_similarity(p_a, z_b.detach(), dim=1).mean() + F.cosine_similarity(p_b, z_a.detach(), dim=1).mean()) / 2


METHODS.register("simsiam")(
    MethodSpec(
        name="simsiam",
        loss=simsiam_loss,
        projector_dims=(2048, 2048, 2048),
        projector=mlp_with_output_bn,
        predictor_hidden=(512,),
        loss_params={},
        reference="Chen & He 2021, arXiv:2011.10566; solo-learn scripts/pretrain/cifar/simsiam.yaml",
        augment="simclr",
        family="distillation / clustering",
        optimizer={"name": "sgd", "lr": 0.5, "weight_decay": 1e-5},
    )
)
