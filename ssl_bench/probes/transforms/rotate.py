"""``rotate``: Rotate counter-clockwise (as displayed) by ``degrees`` about the image centre."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ssl_bench.probes.transforms.base import ADD_DEGREES, TRANSFORMS, Transform, resample


def rotate(images: Tensor, degrees: float, padding: str = "zeros") -> Tensor:
    """Rotate counter-clockwise (as displayed) by ``degrees`` about the image centre.

    Output pixel at centre offset (u, v) reads the input at R (u, v), R = [[cos t, -sin t], [sin t, cos t]].
    """
    t = math.radians(degrees)
    inverse = torch.tensor([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return resample(images, inverse, (0.0, 0.0), padding)


TRANSFORMS.register("rotate")(Transform("rotate", rotate, ADD_DEGREES, (-90.0, -60.0, -30.0, -15.0, 15.0, 30.0, 60.0, 90.0), "degrees"))
