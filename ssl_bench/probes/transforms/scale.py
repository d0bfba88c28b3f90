"""``scale``: Zoom about the centre by ``factor`` (> 1 enlarges): out(u, v) = in(u / factor, v / factor)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms.base import MULTIPLY, QUARTER_OCTAVES, TRANSFORMS, Transform, resample


def scale(images: Tensor, factor: float, padding: str = "zeros") -> Tensor:
    """Zoom about the centre by ``factor`` (> 1 enlarges): out(u, v) = in(u / factor, v / factor)."""
    if factor <= 0:
        raise UserError(f"scale factor must be positive, got {factor}")
    return resample(images, torch.eye(2) / factor, (0.0, 0.0), padding)


TRANSFORMS.register("scale")(Transform("scale", scale, MULTIPLY, QUARTER_OCTAVES, "zoom factor"))
