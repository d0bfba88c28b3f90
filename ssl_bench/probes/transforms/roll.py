"""``roll``: Exact circular shift of the content right by k pixels (``torch.roll`` along the width)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.probes.transforms.base import ADD, TRANSFORMS, Transform, check_images, whole_number


def roll(images: Tensor, k: float) -> Tensor:
    """Exact circular shift of the content right by k pixels (``torch.roll`` along the width)."""
    check_images(images)
    return torch.roll(images, whole_number(k, "roll"), dims=3)


TRANSFORMS.register("roll")(Transform("roll", roll, ADD, (1.0, 2.0, 3.0, 4.0), "pixels along x (circular)"))
