"""LARS (You et al. 2017) as in SimCLR/BarlowTwins/VICReg: for weights (not biases or norm parameters) the update
d = g + wd * w is rescaled by the trust ratio eta * ||w|| / ||d||, then SGD momentum."""

from __future__ import annotations

from typing import Any, Iterable

import torch

from ssl_bench.training.optimizers.base import OPTIMIZERS, OptimizerSpec

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


def build_lars(groups: list[dict[str, Any]], lr: float, weight_decay: float, on_cuda: bool) -> torch.optim.Optimizer:
    return LARS(groups, lr=lr, weight_decay=weight_decay)


OPTIMIZERS.register("lars")(OptimizerSpec("lars", build_lars, reference="You et al. 2017; eta 0.02 as solo-learn"))
