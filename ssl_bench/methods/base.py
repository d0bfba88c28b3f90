"""What every SSL method is: a backbone, a projector (and optionally a predictor and a momentum target) and a loss.

A method module in this package registers one :class:`MethodSpec` in :data:`METHODS`; nothing else in the library
names it. Every method's model is an :class:`SSLModel`: ``model(views)`` takes the list of augmented views of a
batch (``global_views`` crops at the training size, then ``local_views`` smaller crops; each (B, C, H, W)) and
returns its losses as a dict: ``"loss"``, the total that is minimised, and any named parts (logged per epoch).
Masked-image methods also draw token masks for the batch (:meth:`SSLModel.draw_masks`, from the seeded
augmentation generator) and receive them as ``model(views, masks)``.

Two-view methods keep a declarative one-spec form (:class:`TwoViewModel`, the default ``model``):

- **symmetric** (no ``predictor_hidden``): ``loss(z_a, z_b, **loss_params)`` of the two views' projections
  (SimCLR, VICReg, BarlowTwins);
- **predictor** (``predictor_hidden`` set): ``loss(p_a, p_b, t_a, t_b, **loss_params)``, where ``p = predictor(z)``
  is the online branch and ``t`` the target branch, computed without gradient: the momentum (EMA) copy of
  backbone + projector when ``momentum`` is set (BYOL, MoCo v3), else the online projection itself under a
  stop-gradient (SimSiam).

Methods of other shapes (multi-crop, prototypes, queues) subclass :class:`SSLModel` in their own module and name
the class in their spec's ``model``. Hooks around a step, each given the :class:`Progress` of training:
:meth:`SSLModel.before_step` (schedules: teacher temperature, prototype normalisation),
:meth:`SSLModel.before_optimizer_step` (gradient surgery: frozen prototypes) and
:meth:`SSLModel.after_optimizer_step` (the momentum target's EMA). State that outlives a step (centres, queues,
prototypes) lives in buffers or parameters, so the checkpoint holds it and ``--resume`` is exact; schedules are
functions of the step alone. The training loop calls the hooks without knowing which method it trains.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from ssl_bench.core.distributed import gather
from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.validation import check_positive_ints, check_value

Loss = Callable[..., Tensor]
MLPBuilder = Callable[[int, tuple[int, ...]], nn.Module]
FAMILIES = ("contrastive", "redundancy reduction", "distillation / clustering", "masked / predictive")


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
    linear: bool = False  # tau(k) = base + (final - base) k / K instead (I-JEPA's schedule)

    def __call__(self, step: int, total_steps: int) -> float:
        progress = min(step, total_steps) / max(1, total_steps)
        if self.linear:
            return self.base + (self.final - self.base) * progress
        return self.final - (self.final - self.base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@dataclass(frozen=True)
class MethodSpec:
    """Everything a method is: its loss and its published settings (each overridable), with their source.

    ``augment``: the name of its augmentation recipe (:data:`ssl_bench.data.recipes.RECIPES`).
    ``optimizer``: ``{"name", "lr" (for batch 256), "weight_decay"}``.
    ``projector`` / ``predictor``: builders ``(in_dim, dims) -> module``; :func:`mlp` unless the method's
    paper uses another head; ``projector_dims`` None: no projector (the identity; masked-image methods). ``predictor_hidden``: the predictor's hidden widths (its output is the projection's
    width). ``momentum``: the EMA schedule of a target network, or None for none. ``family``: one of
    :data:`FAMILIES`. ``model``: the :class:`SSLModel` class that trains it (None: :class:`TwoViewModel`, the
    two-view shapes above, ``loss`` the function they call). ``augment_defaults``: the method's own changes to
    its recipe (multi-crop: ``global_views``, ``local_views``, crop scales; :mod:`ssl_bench.data.augment`), under
    the user's ``--augment``. ``views_fixed``: the method is defined for two global views only (two-view
    methods), so other view counts are refused. ``loss_params``: float settings, or int ones (sizes, counts)
    where the default is an int. ``closed_form``: the registered spectral method that solves the method's loss
    in closed form on the graph of its augmented views (Balestriero & LeCun 2022), None where none is derived.
    ``not_implemented``: a part of the method's reference implementation that ssl-bench's lacks (a recipe field,
    so parity tables name it), None where nothing is left out.
    """

    name: str
    loss: Loss
    projector_dims: tuple[int, ...] | None
    loss_params: dict[str, float]
    reference: str
    optimizer: dict[str, Any]
    augment: str
    family: str
    predictor_hidden: tuple[int, ...] | None = None
    momentum: MomentumSchedule | None = None
    projector: MLPBuilder = mlp
    predictor: MLPBuilder = mlp
    positive_params: tuple[str, ...] = ()
    model: type[SSLModel] | None = None
    augment_defaults: dict[str, Any] = field(default_factory=dict)
    views_fixed: bool = True
    vit_only: bool = False
    closed_form: str | None = None
    not_implemented: str | None = None
    hyperparameters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}, got {self.family!r}")
        widths = (("projector_dims",) if self.projector_dims else ()) + (("predictor_hidden",) if self.predictor_hidden else ())
        object.__setattr__(self, "hyperparameters", (*sorted(self.loss_params), *widths))


METHODS: Registry[MethodSpec] = Registry("method", package="ssl_bench.methods")


def resolve_hyperparameters(spec: MethodSpec, overrides: dict[str, Any]) -> tuple[
        dict[str, float], tuple[int, ...] | None, tuple[int, ...] | None]:
    """(loss parameters, projector widths, predictor hidden widths): the spec's defaults with ``overrides`` on top,
    each override checked (name, type, range); a mistake is one :class:`UserError` line."""
    overrides = dict(overrides)
    params = dict(spec.loss_params)
    projector_dims = None
    if spec.projector_dims is not None:  # a method without a projector lists projector_dims as unknown below
        projector_dims = check_positive_ints("projector_dims", overrides.pop("projector_dims", spec.projector_dims))
    predictor_hidden = None
    if spec.predictor_hidden is not None:  # a method without a predictor lists predictor_hidden as unknown below
        predictor_hidden = check_positive_ints("predictor_hidden", overrides.pop("predictor_hidden", spec.predictor_hidden))
    unknown = set(overrides) - set(params)
    if unknown:
        raise UserError(f"unknown {spec.name} parameter(s) {sorted(unknown)}; valid: {list(spec.hyperparameters)}")
    for key, value in overrides.items():
        kind = int if isinstance(spec.loss_params[key], int) else float
        check_value(key, value, kind, minimum=0, exclusive=key in spec.positive_params)
        params[key] = kind(value)
    return params, projector_dims, predictor_hidden


@dataclass(frozen=True)
class Progress:
    """Where training stands: ``step`` optimiser steps done of ``total_steps``, ``steps_per_epoch`` to an epoch."""

    step: int
    total_steps: int
    steps_per_epoch: int

    @property
    def epoch(self) -> float:
        """Epochs done, fractional: step / steps_per_epoch."""
        return self.step / self.steps_per_epoch


class SSLModel(nn.Module):
    """backbone -> projector (-> predictor) and a loss; ``forward(views)`` returns ``{"loss": total, part: value}``.

    views: a list of (B, C, H, W) tensors (global crops first, then local crops at their own size); projections
    (B, projector_dims[-1]). Subclasses implement :meth:`forward`; under DDP they gather what the loss needs so
    it sees the global batch, as :class:`TwoViewModel` does.
    """

    def __init__(self, spec: MethodSpec, backbone: nn.Module, feature_dim: int, **overrides: Any) -> None:
        super().__init__()
        params, projector_dims, predictor_hidden = resolve_hyperparameters(spec, overrides)
        if spec.vit_only:
            from ssl_bench.models.vit_tokens import require_vit

            require_vit(backbone, spec.name).fc_norm.requires_grad_(False)  # the pooled features' norm: unused
        self.spec = spec
        self.loss_params = params
        self.backbone = backbone
        self.projector = nn.Identity() if projector_dims is None else spec.projector(feature_dim, projector_dims)
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

    def embed_views(self, views: Sequence[Tensor], network: nn.Module | None = None) -> list[Tensor]:
        """``network(view)`` for each view (default backbone + projector), consecutive views of one size run as
        one batch (as DINO's and SwAV's multi-crop wrappers do: one BatchNorm statistic per resolution): a list
        of (B, D), one per view, in float32 or wider."""
        network = network or nn.Sequential(self.backbone, self.projector)
        outputs: list[Tensor] = []
        start = 0
        while start < len(views):
            end = start + 1
            while end < len(views) and views[end].shape == views[start].shape:
                end += 1
            batch = views[start].shape[0]
            outputs.extend(at_least_fp32(network(torch.cat(list(views[start:end])))).split(batch))
            start = end
        return outputs

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        raise NotImplementedError

    def draw_masks(self, views: Sequence[Tensor], generator: torch.Generator) -> tuple[Tensor, ...]:
        """The token masks of this batch (index tensors, on the views' device), drawn from the augmentation's
        ``generator``; masked-image methods override it. None by default (and ``generator`` is not touched)."""
        return ()

    def before_step(self, progress: Progress) -> None:
        """Before the forward pass of step ``progress.step + 1`` (schedules). No-op by default."""

    def before_optimizer_step(self, progress: Progress) -> None:
        """After the backward pass, before the optimiser moves the weights (gradient surgery). No-op by default."""

    @torch.no_grad()
    def after_optimizer_step(self, progress: Progress) -> None:
        """After optimiser step ``progress.step`` (1-based) of ``progress.total_steps``: xi <- tau xi + (1 - tau)
        theta for the momentum target's parameters, tau = spec.momentum(step, total_steps). The target's
        BatchNorm layers keep their own running statistics (it runs in training mode, on batch statistics, as in
        BYOL and MoCo v3). No-op without a target."""
        if self.target is None or self.spec.momentum is None:
            return
        tau = self.spec.momentum(progress.step, progress.total_steps)
        online = nn.Sequential(self.backbone, self.projector)
        target_params = list(self.target.parameters())
        torch._foreach_mul_(target_params, tau)
        torch._foreach_add_(target_params, list(online.parameters()), alpha=1.0 - tau)


class TwoViewModel(SSLModel):
    """The two-view shapes (symmetric or predictor, see the module docstring): ``views`` = [v_a, v_b].

    Each view goes through the network on its own (own BatchNorm statistics), as in the papers; under DDP every
    branch's outputs are gathered so the loss sees the global batch.
    """

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        if len(views) != 2:
            raise ValueError(f"{self.spec.name} takes exactly two views, got {len(views)}")
        v_a, v_b = views
        z_a, z_b = self.embed(v_a), self.embed(v_b)
        if self.predictor is None:
            return {"loss": self.spec.loss(gather(at_least_fp32(z_a)), gather(at_least_fp32(z_b)), **self.loss_params)}
        p_a, p_b = gather(at_least_fp32(self.predictor(z_a))), gather(at_least_fp32(self.predictor(z_b)))
        with torch.no_grad():
            if self.target is not None:
                t_a, t_b = self.target(v_a), self.target(v_b)
            else:
                t_a, t_b = z_a.detach(), z_b.detach()
            t_a, t_b = gather(at_least_fp32(t_a)), gather(at_least_fp32(t_b))
        return {"loss": self.spec.loss(p_a, p_b, t_a, t_b, **self.loss_params)}


def global_view_count(views: Sequence[Tensor]) -> int:
    """How many of ``views`` are global: those of the first view's size (local crops are smaller, as
    :class:`~ssl_bench.data.augment.BatchAugment` requires, and come after the global ones)."""
    return sum(view.shape[-1] == views[0].shape[-1] for view in views)


def at_least_fp32(z: Tensor) -> Tensor:
    """Losses in float32 (or float64) even when the network runs in bf16 autocast."""
    return z.to(torch.promote_types(z.dtype, torch.float32))


def build_method(name: str, backbone: nn.Module, feature_dim: int, **overrides: Any) -> SSLModel:
    """The method's model with its published defaults; ``overrides`` replace loss parameters or head widths."""
    spec = METHODS.get(name)
    return (spec.model or TwoViewModel)(spec, backbone, feature_dim, **overrides)
