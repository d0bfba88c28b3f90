"""AdamW (decoupled weight decay; Loshchilov & Hutter 2019), torch's fused CUDA kernel when the model is on a GPU."""

from __future__ import annotations

from typing import Any

import torch

from ssl_bench.training.optimizers.base import OPTIMIZERS, OptimizerSpec, without_lars_flags


def build_adamw(groups: list[dict[str, Any]], lr: float, weight_decay: float, on_cuda: bool) -> torch.optim.Optimizer:
    return torch.optim.AdamW(without_lars_flags(groups), lr=lr, weight_decay=weight_decay, fused=on_cuda or None)


OPTIMIZERS.register("adamw")(OptimizerSpec("adamw", build_adamw, reference="Loshchilov & Hutter 2019"))
