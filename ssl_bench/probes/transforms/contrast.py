"""``contrast``: Scale each image about its mean luminance m: x' = m + factor (x - m)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms.base import LUMA, MULTIPLY, QUARTER_OCTAVES, TRANSFORMS, Transform, like, to_unit_float


def contrast(images: Tensor, factor: float) -> Tensor:
    """Scale each image about its mean luminance m: x' = m + factor (x - m).

    m is the mean of 0.299 R + 0.587 G + 0.114 B (of the single channel for grayscale) per image; it is left
    unchanged, so contrast(a) then contrast(b) is contrast(a b) on float images.
    """
    if factor <= 0:
        raise UserError(f"contrast factor must be positive, got {factor}")
    x = to_unit_float(images)
    if x.shape[1] == 3:
        luma = torch.tensor(LUMA, dtype=x.dtype, device=x.device)
        mean = (x * luma[None, :, None, None]).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    else:
        mean = x.mean((1, 2, 3), keepdim=True)
    return like(mean + factor * (x - mean), images)


TRANSFORMS.register("contrast")(Transform("contrast", contrast, MULTIPLY, QUARTER_OCTAVES, "factor"))
