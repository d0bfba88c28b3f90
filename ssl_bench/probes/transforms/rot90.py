"""``rot90``: Exact rotation by k quarter turns counter-clockwise (``torch.rot90``); needs square images."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms.base import ADD_MOD_4, TRANSFORMS, Transform, check_images, whole_number


def rot90(images: Tensor, k: float) -> Tensor:
    """Exact rotation by k quarter turns counter-clockwise (``torch.rot90``); needs square images."""
    check_images(images)
    if images.shape[2] != images.shape[3]:
        raise UserError(f"rot90 needs square images, got {images.shape[2]}x{images.shape[3]}; use rotate instead")
    return torch.rot90(images, whole_number(k, "rot90"), dims=(2, 3))


TRANSFORMS.register("rot90")(Transform("rot90", rot90, ADD_MOD_4, (1.0, 2.0, 3.0), "quarter turns"))
