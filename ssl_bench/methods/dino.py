"""DINO (Caron et al., ICCV 2021): a student matches the centred, sharpened output of a momentum teacher across crops.

The teacher sees the global crops, the student every crop (global and local); the loss is the cross-entropy of
the student's softmax (temperature 0.1) against the teacher's softmax of centred outputs (temperature warmed up
linearly from 0.04 to 0.07 over the first 30 epochs, per epoch), over all (teacher view, other student view)
pairs. The centre is an EMA (momentum 0.9) of the teacher's batch mean, a buffer of the model (in the checkpoint;
computed from the gathered global batch, so every DDP rank holds the same). Head: 3-layer MLP (GELU) to a
256-d bottleneck, l2-normalised, then a weight-normalised linear layer to 4096 prototypes with its norms fixed at 1
(``norm_last_layer`` 1, DINO's and solo-learn's default; 0 learns the norms, as solo-learn's ViT recipe) whose
gradients are cancelled during the first epoch.
Defaults from solo-learn's CIFAR recipe (``scripts/pretrain/cifar/dino.yaml`` and ``solo/methods/dino.py`` at
9187ea3: LARS lr 0.3, weight decay 1e-6, teacher momentum 0.9995 -> 1.0, 2048-wide head, 4096 prototypes) and
DINO's paper and code (temperatures, centre, a 30-epoch teacher-temperature warm-up where solo-learn's CIFAR
recipe has none); multi-crop 2 global + 6 local views (solo-learn's CIFAR recipe trains 2 crops, the paper 2 + 10
for ViTs; 6 here to keep CPU runs short). Not in the default (solo-learn's CIFAR recipe uses neither): DINO's
cosine weight-decay schedule (``--weight-decay-end``, e.g. 0.04 -> 0.4) and gradient clipping (left out).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.distributed import gather
from ssl_bench.core.errors import UserError
from ssl_bench.methods.base import METHODS, MethodSpec, MomentumSchedule, Progress, SSLModel, global_view_count


class DINOHead(nn.Module):
    """(B, in_dim) -> MLP (Linear-GELU for each hidden width) -> bottleneck, l2-normalised -> (B, prototypes)
    scores against the prototypes v_k / ||v_k|| (weight normalisation with the norms g_k fixed at 1)."""

    def __init__(self, in_dim: int, dims: tuple[int, ...]) -> None:
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"a DINO head needs at least (bottleneck, prototypes) widths, got {dims}")
        layers: list[nn.Module] = []
        width = in_dim
        for hidden in dims[:-2]:
            layers += [nn.Linear(width, hidden), nn.GELU()]
            width = hidden
        layers.append(nn.Linear(width, dims[-2]))
        self.mlp = nn.Sequential(*layers)
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.prototype_directions = nn.Parameter(nn.init.trunc_normal_(torch.empty(dims[-1], dims[-2]), std=0.02))
        self.prototype_norms: nn.Parameter | None = None  # g_k, learnt when norm_last_layer is 0 (else fixed at 1)
        self.out_features = dims[-1]

    def learn_prototype_norms(self) -> None:
        """Make the norms g_k (K,) of weight normalisation a parameter, initialised at 1 (``norm_last_layer`` off)."""
        self.prototype_norms = nn.Parameter(torch.ones(self.out_features))

    def forward(self, x: Tensor) -> Tensor:
        scores = F.normalize(self.mlp(x), dim=1) @ F.normalize(self.prototype_directions, dim=1).T
        return scores if self.prototype_norms is None else scores * self.prototype_norms


def teacher_temperature(epoch: int, warmup: float, final: float, warmup_epochs: int) -> float:
    """warmup + (final - warmup) e / (W - 1) during the first W = ``warmup_epochs`` epochs e, then final."""
    if epoch >= warmup_epochs:
        return final
    return warmup + (final - warmup) * epoch / max(1, warmup_epochs - 1)


def dino_loss(teacher: Tensor, student: Tensor, center: Tensor, teacher_temperature: float,
              student_temperature: float) -> Tensor:
    """Cross-entropy of each student view against each other teacher view, averaged over pairs and images.

    ``teacher: (T, B, K)`` outputs of the T global views, ``student: (S, B, K)`` of all S >= T views (globals
    first), ``center: (K,)``. With q_t = softmax((teacher_t - center) / tau_t) and log p_s =
    log_softmax(student_s / tau_s):  L = (1 / (B (T S - T))) sum_{t, s != t} sum_b -q_t,b . log p_s,b.
    """
    q = F.softmax((teacher - center) / teacher_temperature, dim=-1)
    log_p = F.log_softmax(student / student_temperature, dim=-1)
    pairs = -torch.einsum("tbk,sbk->ts", q, log_p)
    same_view = torch.eye(*pairs.shape, dtype=torch.bool, device=pairs.device)  # not a pair: (t, s = t)
    return pairs.masked_fill(same_view, 0.0).sum() / (teacher.shape[1] * (teacher.shape[0] * student.shape[0] - teacher.shape[0]))


class DINOModel(SSLModel):
    """Student (backbone + :class:`DINOHead`) and its EMA teacher; the centre is the buffer ``center`` (K,)."""

    epoch = 0  # whole epochs done before this forward (set by before_step): the teacher temperature's clock

    def __init__(self, *args: Any, **overrides: Any) -> None:
        super().__init__(*args, **overrides)
        if self.loss_params["center_momentum"] > 1:
            raise UserError(f"dino center_momentum must lie in [0, 1], got {self.loss_params['center_momentum']}")
        if self.loss_params["norm_last_layer"] not in (0, 1):
            raise UserError(f"dino norm_last_layer must be 1 (prototype norms fixed at 1) or 0 (learnt), got "
                            f"{self.loss_params['norm_last_layer']}")
        if not self.loss_params["norm_last_layer"]:  # student and teacher heads alike, so the EMA pairs them
            self.projector.learn_prototype_norms()
            self.target[1].learn_prototype_norms()
            self.target.requires_grad_(False)
        self.register_buffer("center", torch.zeros(self.projector.out_features))

    def before_step(self, progress: Progress) -> None:
        self.epoch = math.floor(progress.epoch)

    def before_optimizer_step(self, progress: Progress) -> None:
        """Cancel the prototypes' gradients during the first ``freeze_prototype_epochs`` epochs (DINO's
        ``cancel_gradients_last_layer``)."""
        if progress.epoch < self.loss_params["freeze_prototype_epochs"]:
            self.projector.prototype_directions.grad = None
            if self.projector.prototype_norms is not None:
                self.projector.prototype_norms.grad = None

    def forward(self, views: Sequence[Tensor], masks: Sequence[Tensor] = ()) -> dict[str, Tensor]:
        n_global = global_view_count(views)
        student = torch.stack([gather(out) for out in self.embed_views(views)])
        with torch.no_grad():
            teacher = torch.stack([gather(out) for out in self.embed_views(views[:n_global], self.target)])
        params = self.loss_params
        temperature = teacher_temperature(self.epoch, params["warmup_teacher_temperature"],
                                          params["teacher_temperature"], int(params["warmup_teacher_epochs"]))
        loss = dino_loss(teacher, student, self.center, temperature, params["student_temperature"])
        if self.training:
            with torch.no_grad():
                momentum = params["center_momentum"]
                self.center.mul_(momentum).add_(teacher.mean(dim=(0, 1)), alpha=1 - momentum)
        return {"loss": loss}


METHODS.register("dino")(
    MethodSpec(
        name="dino",
        loss=dino_loss,
        projector_dims=(2048, 2048, 256, 4096),
        loss_params={"student_temperature": 0.1, "teacher_temperature": 0.07, "warmup_teacher_temperature": 0.04,
                     "warmup_teacher_epochs": 30, "center_momentum": 0.9, "freeze_prototype_epochs": 1,
                     "norm_last_layer": 1},
        positive_params=("student_temperature", "teacher_temperature", "warmup_teacher_temperature"),
        reference="Caron et al. 2021, arXiv:2104.14294; solo-learn scripts/pretrain/cifar/dino.yaml",
        augment="byol",
        family="distillation / clustering",
        optimizer={"name": "lars", "lr": 0.3, "weight_decay": 1e-6},
        momentum=MomentumSchedule(base=0.9995, final=1.0),
        projector=DINOHead,
        model=DINOModel,
        augment_defaults={"global_views": 2, "local_views": 6, "crop_scale": (0.4, 1.0),
                          "local_crop_scale": (0.05, 0.4)},
        views_fixed=False,
    )
)
