"""Optimisers and the learning-rate schedule used by the training loop.

- LARS (You et al. 2017) as in SimCLR/BarlowTwins/VICReg: for weights (not biases or norm parameters)
  the update d = g + wd * w is rescaled by the trust ratio eta * ||w|| / ||d||, then SGD momentum.
- AdamW (decoupled weight decay).
- Biases and normalisation parameters get no weight decay and no LARS adaptation.
- Schedule: linear warm-up then cosine decay to zero, per step:
  lr(t) = lr * t / T_w for t < T_w, else lr * (1 + cos(pi (t - T_w) / (T - T_w))) / 2.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from ssl_bench.core.errors import UserError

OPTIMIZERS = ("lars", "adamw", "sgd")
LARS_ETA = 0.02  # trust coefficient, as solo-learn's and VICReg's LARS


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratio; groups with ``lars_exclude=True`` skip wd and adaptation."""

    def __init__(
        self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = LARS_ETA
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, lars_exclude=False)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        """One update of every parameter with a gradient, as a few multi-tensor (foreach) kernels per group."""
        for group in self.param_groups:
            params = [param for param in group["params"] if param.grad is not None]
            if not params:
                continue
            updates = [param.grad for param in params]
            if not group["lars_exclude"]:
                updates = torch._foreach_add(updates, params, alpha=group["weight_decay"])
                param_norms = torch.stack(torch._foreach_norm(params))
                update_norms = torch.stack(torch._foreach_norm(updates))
                trust = torch.where(
                    (param_norms > 0) & (update_norms > 0), group["eta"] * param_norms / update_norms, 1.0
                )
                torch._foreach_mul_(updates, list(trust.unbind()))
            buffers, continued, continued_updates = [], [], []
            for param, update in zip(params, updates):
                state = self.state[param]
                if "momentum_buffer" not in state:  # the first step: m = d
                    state["momentum_buffer"] = torch.clone(update).detach()
                else:
                    continued.append(state["momentum_buffer"])
                    continued_updates.append(update)
                buffers.append(state["momentum_buffer"])
            if continued:  # m <- mu m + d
                torch._foreach_mul_(continued, group["momentum"])
                torch._foreach_add_(continued, continued_updates)
            torch._foreach_add_(params, buffers, alpha=-group["lr"])
        return None


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights (decayed) and biases/normalisation parameters (1-D tensors; not decayed)."""
    decayed = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    excluded = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": excluded, "weight_decay": 0.0, "lars_exclude": True},
    ]


def build_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    groups = parameter_groups(model, weight_decay)
    if name == "lars":
        return LARS(groups, lr=lr, weight_decay=weight_decay)
    for group in groups:
        group.pop("lars_exclude", None)
    on_cuda = all(p.is_cuda for p in model.parameters())
    if name == "adamw":  # the fused CUDA kernel when the model is on a GPU
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=on_cuda or None)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise UserError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")


def warmup_cosine(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
