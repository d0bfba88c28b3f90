"""Common corruptions of a clean split, generated deterministically (as ImageNet-C and MNIST-C do): six kinds at
five severities, uint8 ``(N, C, H, W)`` in and out, random draws from a ``torch.Generator`` seeded by the caller.

With x in [0, 1] and s = 1..5:

- ``gaussian_noise``: x + sigma_s * N(0, 1), sigma = (0.08, 0.12, 0.18, 0.26, 0.38) (ImageNet-C's).
- ``gaussian_blur``: a Gaussian of std (0.5, 0.75, 1.0, 1.25, 1.5) px (for 16-32 px images), kernel 2 ceil(3 std) + 1,
  reflected borders (torchvision's ``gaussian_blur``).
- ``contrast``: c (x - m) + m, m the image's mean per channel, c = (0.6, 0.5, 0.4, 0.3, 0.2).
- ``pixelate``: bilinear (antialiased) down to round(f H) pixels, nearest back up, f = (0.8, 0.65, 0.5, 0.4, 0.3).
- ``rotate``: by (10, 20, 30, 40, 50) degrees counter-clockwise about the centre, bilinear, black outside
  (torchvision's ``rotate``).
- ``elastic``: torchvision's elastic transform with alpha = (0.5, 0.75, 1.0, 1.25, 1.5) * H px and sigma = 3 px:
  a displacement field of uniform noise in [-1, 1] smoothed by that Gaussian, times alpha / H, bilinear, black
  outside.

Results are rounded back to uint8.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError

SEVERITIES = (1, 2, 3, 4, 5)
NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)
BLUR_SIGMA = (0.5, 0.75, 1.0, 1.25, 1.5)
CONTRAST = (0.6, 0.5, 0.4, 0.3, 0.2)
PIXELATE = (0.8, 0.65, 0.5, 0.4, 0.3)
ROTATE_DEGREES = (10.0, 20.0, 30.0, 40.0, 50.0)
ELASTIC_ALPHA = (0.5, 0.75, 1.0, 1.25, 1.5)
ELASTIC_SIGMA = 3.0


def _to_uint8(x: Tensor) -> Tensor:
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


def gaussian_noise(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    x = images.float() / 255
    noise = torch.randn(x.shape, generator=generator)
    return _to_uint8(x + NOISE_SIGMA[severity - 1] * noise)


def gaussian_blur(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    from torchvision.transforms.v2 import functional as TF

    sigma = BLUR_SIGMA[severity - 1]
    size = 2 * math.ceil(3 * sigma) + 1
    return _to_uint8(TF.gaussian_blur(images.float() / 255, [size, size], [sigma, sigma]))


def contrast(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    x = images.float() / 255
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return _to_uint8(CONTRAST[severity - 1] * (x - mean) + mean)


def pixelate(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    import torch.nn.functional as F

    height, width = images.shape[-2:]
    small = (max(1, round(PIXELATE[severity - 1] * height)), max(1, round(PIXELATE[severity - 1] * width)))
    down = F.interpolate(images.float(), size=small, mode="bilinear", antialias=True, align_corners=False)
    down = down.round().clamp(0, 255)
    return F.interpolate(down, size=(height, width), mode="nearest-exact").to(torch.uint8)


def rotate(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    return _to_uint8(TF.rotate(images.float() / 255, ROTATE_DEGREES[severity - 1],
                               interpolation=InterpolationMode.BILINEAR, fill=0.0))


def elastic_displacement(n: int, height: int, width: int, severity: int, generator: torch.Generator) -> Tensor:
    """One torchvision-style ElasticTransform field per image, (n, H, W, 2) in grid units: uniform [-1, 1] noise
    smoothed by a Gaussian of std :data:`ELASTIC_SIGMA`, times alpha / size per axis (x, then y)."""
    from torchvision.transforms.v2 import functional as TF

    alpha = ELASTIC_ALPHA[severity - 1] * height
    size = int(8 * ELASTIC_SIGMA + 1)
    size += 1 - size % 2
    noise = torch.rand(n, 2, height, width, generator=generator) * 2 - 1
    smooth = TF.gaussian_blur(noise, [size, size], [ELASTIC_SIGMA, ELASTIC_SIGMA])
    return torch.stack([smooth[:, 0] * alpha / width, smooth[:, 1] * alpha / height], dim=-1)


def elastic(images: Tensor, severity: int, generator: torch.Generator) -> Tensor:
    """Each image resampled (bilinear, zeros outside) at the identity grid plus its own field, as torchvision's
    ``elastic_transform`` does for one field (``grid_sample``, ``align_corners=False``)."""
    import torch.nn.functional as F

    n, _, height, width = images.shape
    ys = (torch.arange(height, dtype=torch.float32) * 2 + 1) / height - 1
    xs = (torch.arange(width, dtype=torch.float32) * 2 + 1) / width - 1
    identity = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2): x, y
    grid = identity + elastic_displacement(n, height, width, severity, generator)
    out = F.grid_sample(images.float() / 255, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return _to_uint8(out)


CORRUPTIONS: dict[str, Callable[[Tensor, int, torch.Generator], Tensor]] = {
    "gaussian_noise": gaussian_noise, "gaussian_blur": gaussian_blur, "contrast": contrast, "pixelate": pixelate,
    "rotate": rotate, "elastic": elastic}


def corrupt(images: Tensor, name: str, severity: int, seed: int) -> Tensor:
    """``images`` (uint8 (N, C, H, W)) under corruption ``name`` at ``severity`` (1-5), drawn with ``seed``."""
    if name not in CORRUPTIONS:
        raise UserError(f"unknown corruption {name!r}; choose one of: {', '.join(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise UserError(f"corruption severity must be 1 to 5, got {severity!r}")
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise UserError(f"corruptions take uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    return CORRUPTIONS[name](images.cpu(), severity, torch.Generator().manual_seed(seed))
