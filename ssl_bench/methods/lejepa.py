"""LeJEPA (Balestriero & LeCun 2025, arXiv:2511.08544): view invariance plus SIGReg, a sketched test that the
embeddings are an isotropic Gaussian.

Every view's projection is pulled towards the mean of the global views' projections; SIGReg compares, along M
random unit directions, the empirical characteristic function of the projected embeddings with the standard
normal one (Epps-Pulley statistic, trapezoidal rule on [0, t_max]). Defaults as lightly 1.6.0's ``LeJEPALoss``
and the reference code (galilai-group/lejepa): lambda 0.05, 17 knots, t_max 3, 1024 directions; 2 global + 6
local views (LeJEPA's multi-crop). The directions are drawn from a generator seeded with the step, so every DDP
rank draws the same ones without a broadcast and a resumed run draws what the uninterrupted one did. Projector
and optimiser are SimCLR's here (our choice, so every method shares a head and a schedule).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from ssl_bench.core.distributed import gather
from ssl_bench.core.errors import UserError
from ssl_bench.methods.base import METHODS, MethodSpec, Progress, SSLModel, global_view_count


def random_directions(dim: int, count: int, seed: int, device: torch.device) -> Tensor:
    """``count`` unit vectors in R^dim as the columns of a (dim, count) matrix, from a generator seeded ``seed``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    directions = torch.randn(dim, count, generator=generator, device=device)
    return directions / directions.norm(dim=0)


def sigreg(z: Tensor, directions: Tensor, knots: int = 17, t_max: float = 3.0) -> Tensor:
    """SIGReg of ``z: (..., N, D)`` along the columns a_m of ``directions: (D, M)``, averaged over m (and ...).

    With x_n = z_n . a_m and phi(t) = exp(-t^2 / 2) on t_j = j t_max / (knots - 1):
        E_m = N sum_j w_j phi(t_j) [ (mean_n cos(t_j x_n) - phi(t_j))^2 + (mean_n sin(t_j x_n))^2 ],
    w = (dt, 2 dt, ..., 2 dt, dt): the trapezoidal rule on [-t_max, t_max] of an even integrand.
    """
    t = torch.linspace(0, t_max, knots, device=z.device, dtype=z.dtype)
    dt = t_max / (knots - 1)
    weights = torch.full((knots,), 2 * dt, device=z.device, dtype=z.dtype)
    weights[[0, -1]] = dt
    phi = torch.exp(-t.square() / 2)
    x_t = (z @ directions.to(z.dtype)).unsqueeze(-1) * t  # (..., N, M, knots)
    error = (x_t.cos().mean(dim=-3) - phi).square() + x_t.sin().mean(dim=-3).square()
    return (error @ (weights * phi) * z.shape[-2]).mean()


def lejepa_loss(global_z: Tensor, local_z: Tensor, directions: Tensor, sigreg_weight: float,
                knots: int = 17, t_max: float = 3.0) -> tuple[Tensor, Tensor]:
    """(SIGReg term, invariance term) for ``global_z: (Vg, B, D)`` and ``local_z: (Vl, B, D)`` (Vl may be 0);
    the loss is lambda SIGReg(all) + (1 - lambda) mean ||mean_g z_g - z_v||^2 / D over every view v."""
    all_z = torch.cat([global_z, local_z])
    invariance = (global_z.mean(dim=0) - all_z).square().mean()
    return sigreg_weight * sigreg(all_z, directions, knots, t_max), (1 - sigreg_weight) * invariance


class LeJEPAModel(SSLModel):
    """Global and local views -> backbone -> projector -> :func:`lejepa_loss` over the global batch."""

    step = 0  # optimiser steps done before this forward (set by before_step); seeds the SIGReg directions

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        if self.loss_params["sigreg_weight"] > 1:
            raise UserError(f"lejepa sigreg_weight must lie in [0, 1], got {self.loss_params['sigreg_weight']}")

    def before_step(self, progress: Progress) -> None:
        self.step = progress.step

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        n_global = global_view_count(views)
        z = [gather(projection) for projection in self.embed_views(views)]
        global_z = torch.stack(z[:n_global])
        local_z = torch.stack(z[n_global:]) if len(z) > n_global else global_z[:0]
        directions = random_directions(global_z.shape[-1], self.loss_params["directions"], self.step, global_z.device)
        regulariser, invariance = lejepa_loss(global_z, local_z, directions, self.loss_params["sigreg_weight"])
        return {"loss": regulariser + invariance, "sigreg": regulariser, "invariance": invariance}


METHODS.register("lejepa")(
    MethodSpec(
        name="lejepa",
        loss=lejepa_loss,
        projector_dims=(2048, 128),
        loss_params={"sigreg_weight": 0.05, "directions": 1024},
        positive_params=("directions",),
        reference="Balestriero & LeCun 2025, arXiv:2511.08544; defaults as lightly 1.6.0 LeJEPALoss",
        augment="simclr",
        family="redundancy reduction",
        optimizer={"name": "lars", "lr": 0.4, "weight_decay": 1e-5},
        model=LeJEPAModel,
        augment_defaults={"global_views": 2, "local_views": 6},
        views_fixed=False,
    )
)
