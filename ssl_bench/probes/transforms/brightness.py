"""``brightness``: Add ``delta`` (a fraction of the full range) to every pixel: x' = x + delta."""

from __future__ import annotations

from torch import Tensor

from ssl_bench.probes.transforms.base import ADD, TRANSFORMS, Transform, like, to_unit_float


def brightness(images: Tensor, delta: float) -> Tensor:
    """Add ``delta`` (a fraction of the full range) to every pixel: x' = x + delta."""
    return like(to_unit_float(images) + delta, images)


TRANSFORMS.register("brightness")(Transform("brightness", brightness, ADD, (-0.2, -0.1, -0.05, 0.05, 0.1, 0.2), "fraction of range"))
