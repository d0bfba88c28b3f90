"""my-method: BYOL's symmetric cosine loss between online predictions and momentum targets."""

import torch.nn.functional as F

from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule


def my_loss(p_a, p_b, t_a, t_b):
    """L = 2 - cos(p_a, t_b) - cos(p_b, t_a); p: (B, D) online predictions, t: (B, D) target projections."""
    return 2 - F.cosine_similarity(p_a, t_b, dim=1).mean() - F.cosine_similarity(p_b, t_a, dim=1).mean()


METHODS.register("my-method")(MethodSpec(
    name="my-method", loss=my_loss, projector_dims=(2048, 256), predictor_hidden=(2048,), loss_params={},
    momentum=MomentumSchedule(base=0.99), augment="byol", family="distillation / clustering",
    reference="BYOL (Grill et al. 2020) defaults",
    optimizer={"name": "lars", "lr": 1.0, "weight_decay": 1e-5}))
