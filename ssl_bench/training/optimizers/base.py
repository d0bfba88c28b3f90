"""What an optimiser is: a registered builder of a torch optimiser from parameter groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ssl_bench.core.registry import Registry


@dataclass(frozen=True)
class OptimizerSpec:
    """``build(groups, lr, weight_decay, on_cuda)``: the optimiser over ``groups`` (dicts with ``params``,
    ``weight_decay`` and ``lars_exclude``); ``on_cuda``: every parameter lives on a GPU."""

    name: str
    build: Callable[[list[dict[str, Any]], float, float, bool], torch.optim.Optimizer]
    reference: str


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer", package="ssl_bench.training.optimizers")


def without_lars_flags(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups without LARS's ``lars_exclude`` key, for torch's own optimisers."""
    return [{key: value for key, value in group.items() if key != "lars_exclude"} for group in groups]
