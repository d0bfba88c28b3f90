"""``hflip``: Mirror left-right when ``flip`` is 1, identity when 0."""

from __future__ import annotations

from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms.base import TRANSFORMS, XOR, Transform, check_images


def hflip(images: Tensor, flip: float) -> Tensor:
    """Mirror left-right when ``flip`` is 1, identity when 0."""
    check_images(images)
    if flip not in (0, 1):
        raise UserError(f"hflip takes 0 or 1, got {flip}")
    return images.flip(3) if flip else images.clone()


TRANSFORMS.register("hflip")(Transform("hflip", hflip, XOR, (1.0,), "flip"))
