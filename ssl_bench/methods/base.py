"""What every SSL method is: a backbone, a projector MLP and a loss of two views' embeddings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ssl_bench.distributed import gather
from ssl_bench.errors import UserError
from ssl_bench.registry import Registry

Loss = Callable[..., Tensor]


@dataclass(frozen=True)
class MethodSpec:
    """A method's loss, its projector widths and its published hyper-parameters (overridable)."""

    name: str
    loss: Loss
    projector_dims: tuple[int, ...]
    loss_params: dict[str, float]
    reference: str
    optimizer: dict[str, Any] = field(default_factory=dict)


METHODS: Registry[MethodSpec] = Registry("method")


def projector(in_dim: int, dims: tuple[int, ...]) -> nn.Sequential:
    """Linear-BN-ReLU for every hidden width in ``dims[:-1]``, then a Linear to ``dims[-1]``."""
    layers: list[nn.Module] = []
    width = in_dim
    for hidden in dims[:-1]:
        layers += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, dims[-1]))
    return nn.Sequential(*layers)


class SSLModel(nn.Module):
    """backbone -> projector -> loss(z_a, z_b). ``forward(v_a, v_b)`` returns the scalar loss.

    v_a, v_b: (B, C, H, W) views; z_a, z_b: (B, projector_dims[-1]).
    """

    def __init__(self, spec: MethodSpec, backbone: nn.Module, feature_dim: int, **overrides: Any) -> None:
        super().__init__()
        params = dict(spec.loss_params)
        projector_dims = tuple(overrides.pop("projector_dims", spec.projector_dims))
        unknown = set(overrides) - set(params)
        if unknown:
            raise UserError(
                f"unknown {spec.name} parameter(s) {sorted(unknown)}; valid: "
                f"{sorted(params) + ['projector_dims']}"
            )
        params.update({k: float(v) for k, v in overrides.items()})
        self.spec = spec
        self.loss_params = params
        self.backbone = backbone
        self.projector = projector(feature_dim, projector_dims)

    def embed(self, views: Tensor) -> Tensor:
        return self.projector(self.backbone(views))

    def forward(self, v_a: Tensor, v_b: Tensor) -> Tensor:
        """Each view goes through the network on its own (own BatchNorm statistics), as in the papers;
        under DDP the embeddings of all ranks are gathered so the loss sees the global batch."""
        z_a, z_b = gather(_at_least_fp32(self.embed(v_a))), gather(_at_least_fp32(self.embed(v_b)))
        return self.spec.loss(z_a, z_b, **self.loss_params)


def _at_least_fp32(z: Tensor) -> Tensor:
    """Losses in float32 (or float64) even when the network runs in bf16 autocast."""
    return z.to(torch.promote_types(z.dtype, torch.float32))
