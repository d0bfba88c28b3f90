"""The parameter groups, the registered optimisers (:mod:`ssl_bench.training.optimizers`: lars, adamw, sgd) and the
learning-rate schedule used by the training loop.

- Biases and normalisation parameters get no weight decay and no LARS adaptation.
- Schedule: linear warm-up then cosine decay to zero, per step:
  lr(t) = lr * t / T_w for t < T_w, else lr * (1 + cos(pi (t - T_w) / (T - T_w))) / 2.
- Weight decay: constant, or (``--weight-decay-end``) a cosine from wd to wd_end over the steps, as DINO and
  I-JEPA train: wd(t) = wd_end + (wd - wd_end) (1 + cos(pi t / T)) / 2, on the decayed group only.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights (decayed) and biases/normalisation parameters (1-D tensors; not decayed)."""
    decayed = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    excluded = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": excluded, "weight_decay": 0.0, "lars_exclude": True},
    ]


def build_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The registered optimiser ``name`` (:mod:`ssl_bench.training.optimizers`) over ``model``'s two groups."""
    from ssl_bench.training.optimizers import OPTIMIZERS

    on_cuda = all(p.is_cuda for p in model.parameters())
    return OPTIMIZERS.get(name).build(parameter_groups(model, weight_decay), lr, weight_decay, on_cuda)


def cosine_weight_decay(step: int, total_steps: int, start: float, end: float) -> float:
    """Weight decay at ``step`` (0-based) of ``total_steps``: ``start`` at step 0, cosine to ``end`` (DINO's
    ``cosine_scheduler``, I-JEPA's ``CosineWDSchedule``)."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / max(1, total_steps))))


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
