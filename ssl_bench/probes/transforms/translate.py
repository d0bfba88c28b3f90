"""``translate``: Move the content right by ``dx`` and down by ``dy`` pixels: out(u, v) = in(u - dx, v - dy)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.probes.transforms.base import ADD, TRANSFORMS, Transform, resample


def translate(images: Tensor, dx: float, dy: float = 0.0, padding: str = "zeros") -> Tensor:
    """Move the content right by ``dx`` and down by ``dy`` pixels: out(u, v) = in(u - dx, v - dy)."""
    return resample(images, torch.eye(2), (-dx, -dy), padding)


TRANSFORMS.register("translate")(Transform("translate", translate, ADD, (-4.0, -2.0, -1.0, 1.0, 2.0, 4.0), "pixels along x"))
