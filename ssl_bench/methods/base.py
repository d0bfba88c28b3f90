"""What every SSL method is: a backbone, a projector (and optionally a predictor and a momentum target) and a loss.

A method module in this package registers one :class:`MethodSpec` in :data:`METHODS`; nothing else in the library
names it. The spec says which of two shapes the method has:

- **symmetric** (no ``predictor_hidden``): ``loss(z_a, z_b, **loss_params)`` of the two views' projections
  (SimCLR, VICReg, BarlowTwins);
- **predictor** (``predictor_hidden`` set): ``loss(p_a, p_b, t_a, t_b, **loss_params)``, where ``p = predictor(z)``
  is the online branch and ``t`` the target branch, computed without gradient: the momentum (EMA) copy of
  backbone + projector when ``momentum`` is set (BYOL, MoCo v3), else the online projection itself under a
  stop-gradient (SimSiam).

The only hook around a step is :meth:`SSLModel.after_optimizer_step`, which moves the momentum target towards the
online network with the spec's schedule; the training loop calls it after every optimiser step without knowing
which method it trains.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ssl_bench.core.distributed import gather
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.validation import check_positive_ints, check_value

Loss = Callable[..., Tensor]
MLPBuilder = Callable[[int, tuple[int, ...]], nn.Module]


def mlp(in_dim: int, dims: tuple[int, ...]) -> nn.Sequential:
    """Linear-BN-ReLU for every hidden width in ``dims[:-1]``, then a Linear to ``dims[-1]``: (B, in_dim) -> (B, dims[-1])."""
    layers: list[nn.Module] = []
    width = in_dim
    for hidden in dims[:-1]:
        layers += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, dims[-1]))
    return nn.Sequential(*layers)


def mlp_with_output_bn(in_dim: int, dims: tuple[int, ...]) -> nn.Sequential:
    """:func:`mlp` whose last Linear (no bias) is followed by BatchNorm1d(affine=False), as SimCLR v2, SimSiam and
    MoCo v3 end their projectors: (B, in_dim) -> (B, dims[-1])."""
    layers = list(mlp(in_dim, dims))
    layers[-1] = nn.Linear(layers[-1].in_features, dims[-1], bias=False)
    return nn.Sequential(*layers, nn.BatchNorm1d(dims[-1], affine=False))


@dataclass(frozen=True)
class MomentumSchedule:
    """EMA momentum tau(k) = final - (final - base) (cos(pi k / K) + 1) / 2 after step k of K (BYOL, eq. in sec. 3.2).

    The target moves as xi <- tau xi + (1 - tau) theta; tau rises from ``base`` at k = 0 to ``final`` at k = K.
    """

    base: float
    final: float = 1.0

    def __call__(self, step: int, total_steps: int) -> float:
        progress = min(step, total_steps) / max(1, total_steps)
        return self.final - (self.final - self.base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@dataclass(frozen=True)
class MethodSpec:
    """Everything a method is: its loss and its published settings (each overridable), with their source.

    ``augment``: the name of its augmentation recipe (:data:`ssl_bench.data.augment.RECIPES`).
    ``optimizer``: ``{"name", "lr" (for batch 256), "weight_decay"}``.
    ``projector`` / ``predictor``: builders ``(in_dim, dims) -> module``; :func:`mlp` unless the method's
    paper uses another head. ``predictor_hidden``: the predictor's hidden widths (its output is the projection's
    width). ``momentum``: the EMA schedule of a target network, or None for none.
    """

    name: str
    loss: Loss
    projector_dims: tuple[int, ...]
    loss_params: dict[str, float]
    reference: str
    optimizer: dict[str, Any]
    augment: str
    predictor_hidden: tuple[int, ...] | None = None
    momentum: MomentumSchedule | None = None
    projector: MLPBuilder = mlp
    predictor: MLPBuilder = mlp
    positive_params: tuple[str, ...] = ()
    hyperparameters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        widths = ("projector_dims",) + (("predictor_hidden",) if self.predictor_hidden else ())
        object.__setattr__(self, "hyperparameters", (*sorted(self.loss_params), *widths))


METHODS: Registry[MethodSpec] = Registry("method", package="ssl_bench.methods")


def resolve_hyperparameters(spec: MethodSpec, overrides: dict[str, Any]) -> tuple[dict[str, float], tuple[int, ...],
                                                                                    tuple[int, ...] | None]:
    """(loss parameters, projector widths, predictor hidden widths): the spec's defaults with ``overrides`` on top,
    each override checked (name, type, range); a mistake is one :class:`UserError` line."""
    overrides = dict(overrides)
    params = dict(spec.loss_params)
    projector_dims = check_positive_ints("projector_dims", overrides.pop("projector_dims", spec.projector_dims))
    predictor_hidden = None
    if spec.predictor_hidden is not None:  # a method without a predictor lists predictor_hidden as unknown below
        predictor_hidden = check_positive_ints("predictor_hidden", overrides.pop("predictor_hidden", spec.predictor_hidden))
    unknown = set(overrides) - set(params)
    if unknown:
        raise UserError(f"unknown {spec.name} parameter(s) {sorted(unknown)}; valid: {list(spec.hyperparameters)}")
    for key, value in overrides.items():
        check_value(key, value, float, minimum=0, exclusive=key in spec.positive_params)
        params[key] = float(value)
    return params, projector_dims, predictor_hidden


class SSLModel(nn.Module):
    """backbone -> projector (-> predictor) -> loss. ``forward(v_a, v_b)`` returns the scalar loss.

    v_a, v_b: (B, C, H, W) views; projections (B, projector_dims[-1]). Each view goes through the network on its
    own (own BatchNorm statistics), as in the papers; under DDP every branch's outputs are gathered so the loss
    sees the global batch.
    """

    def __init__(self, spec: MethodSpec, backbone: nn.Module, feature_dim: int, **overrides: Any) -> None:
        super().__init__()
        params, projector_dims, predictor_hidden = resolve_hyperparameters(spec, overrides)
        self.spec = spec
        self.loss_params = params
        self.backbone = backbone
        self.projector = spec.projector(feature_dim, projector_dims)
        self.predictor: nn.Module | None = None
        self.target: nn.Sequential | None = None
        if spec.predictor_hidden is not None:
            width = projector_dims[-1]
            self.predictor = spec.predictor(width, (*predictor_hidden, width))
        if spec.momentum is not None:
            self.target = copy.deepcopy(nn.Sequential(backbone, self.projector)).requires_grad_(False)

    def embed(self, views: Tensor) -> Tensor:
        """The projection z = projector(backbone(views)): (B, C, H, W) -> (B, projector_dims[-1])."""
        return self.projector(self.backbone(views))

    def forward(self, v_a: Tensor, v_b: Tensor) -> Tensor:
        z_a, z_b = self.embed(v_a), self.embed(v_b)
        if self.predictor is None:
            return self.spec.loss(gather(_at_least_fp32(z_a)), gather(_at_least_fp32(z_b)), **self.loss_params)
        p_a, p_b = gather(_at_least_fp32(self.predictor(z_a))), gather(_at_least_fp32(self.predictor(z_b)))
        with torch.no_grad():
            if self.target is not None:
                t_a, t_b = self.target(v_a), self.target(v_b)
            else:
                t_a, t_b = z_a.detach(), z_b.detach()
            t_a, t_b = gather(_at_least_fp32(t_a)), gather(_at_least_fp32(t_b))
        return self.spec.loss(p_a, p_b, t_a, t_b, **self.loss_params)

    @torch.no_grad()
    def after_optimizer_step(self, step: int, total_steps: int) -> None:
        """After optimiser step ``step`` (1-based) of ``total_steps``: xi <- tau xi + (1 - tau) theta for the
        momentum target's parameters, tau = spec.momentum(step, total_steps). The target's BatchNorm layers keep
        their own running statistics (it runs in training mode, on batch statistics, as in BYOL and MoCo v3).
        No-op without a target."""
        if self.target is None or self.spec.momentum is None:
            return
        tau = self.spec.momentum(step, total_steps)
        online = nn.Sequential(self.backbone, self.projector)
        target_params = list(self.target.parameters())
        torch._foreach_mul_(target_params, tau)
        torch._foreach_add_(target_params, list(online.parameters()), alpha=1.0 - tau)


def _at_least_fp32(z: Tensor) -> Tensor:
    """Losses in float32 (or float64) even when the network runs in bf16 autocast."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def build_method(name: str, backbone: nn.Module, feature_dim: int, **overrides: Any) -> SSLModel:
    """The method's model with its published defaults; ``overrides`` replace loss parameters or head widths."""
    return SSLModel(METHODS.get(name), backbone, feature_dim, **overrides)
