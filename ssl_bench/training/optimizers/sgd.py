"""SGD with momentum 0.9 and coupled weight decay."""

from __future__ import annotations

from typing import Any

import torch

from ssl_bench.training.optimizers.base import OPTIMIZERS, OptimizerSpec, without_lars_flags


def build_sgd(groups: list[dict[str, Any]], lr: float, weight_decay: float, on_cuda: bool) -> torch.optim.Optimizer:
    return torch.optim.SGD(without_lars_flags(groups), lr=lr, momentum=0.9, weight_decay=weight_decay)


OPTIMIZERS.register("sgd")(OptimizerSpec("sgd", build_sgd, reference="momentum 0.9"))
