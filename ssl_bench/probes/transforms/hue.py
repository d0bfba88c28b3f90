"""``hue``: Turn every RGB pixel about the grey axis (Rodrigues' rotation of the colour cube)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms.base import ADD_DEGREES, TRANSFORMS, Transform, like, to_unit_float


def hue_matrix(degrees: float) -> Tensor:
    """The 3x3 rotation by ``degrees`` about k = (1, 1, 1) / sqrt 3.

    Rodrigues: R = cos t I + sin t [k]x + (1 - cos t) k k^T, [k]x the cross-product matrix (k x v = [k]x v).
    """
    t = math.radians(degrees)
    k = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=torch.float64)
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], dtype=torch.float64)
    return math.cos(t) * torch.eye(3, dtype=torch.float64) + math.sin(t) * cross + (1 - math.cos(t)) * torch.outer(k, k)


def hue(images: Tensor, degrees: float) -> Tensor:
    """Turn every RGB pixel about the grey axis: x' = R(degrees) x (see :func:`hue_matrix`); needs 3 channels.

    Grey pixels and each pixel's channel mean are unchanged; hue(120) cyclically permutes R -> G -> B.
    """
    x = to_unit_float(images)
    if x.shape[1] != 3:
        raise UserError(f"hue needs RGB images (3 channels), got {x.shape[1]}; leave hue out for grayscale data")
    rotation = hue_matrix(degrees).to(device=x.device, dtype=x.dtype)
    return like(torch.einsum("oc,nchw->nohw", rotation, x), images)


TRANSFORMS.register("hue")(Transform("hue", hue, ADD_DEGREES, (-120.0, -60.0, 60.0, 120.0, 180.0), "degrees", needs_rgb=True))
