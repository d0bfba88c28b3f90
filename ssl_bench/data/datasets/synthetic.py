"""``synthetic``: a small generated, learnable set for tests (see :func:`make_synthetic`)."""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_bench.data.datasets.base import DATASETS, DatasetSpec, ImageDataset, nothing_to_download

SYNTHETIC_SIZE = 16
SYNTHETIC_PATCH = 8


def _synthetic_patterns() -> Tensor:
    """Ten 8x8 binary patterns, one per class: bars, diagonals, crosses, squares, dots, corner, ring."""
    p = torch.zeros(10, SYNTHETIC_PATCH, SYNTHETIC_PATCH)
    i = torch.arange(SYNTHETIC_PATCH)
    p[0, 3:5, :] = 1  # horizontal bar
    p[1, :, 3:5] = 1  # vertical bar
    p[2, i, i] = 1  # diagonal
    p[3, i, 7 - i] = 1  # anti-diagonal
    p[4, 3:5, :] = 1  # plus
    p[4, :, 3:5] = 1
    p[5, i, i] = 1  # X
    p[5, i, 7 - i] = 1
    p[6, [0, 7], :] = 1  # square outline
    p[6, :, [0, 7]] = 1
    p[7, 2:6, 2:6] = 1  # filled square
    p[8, 0:2, 0:2] = 1  # two dots
    p[8, 6:8, 6:8] = 1
    p[9, :, 0:2] = 1  # corner (L)
    p[9, 6:8, :] = 1
    return p


def make_synthetic(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` 1x16x16 uint8 images of 10 classes (n/10 each when divisible, labels cycling 0..9).

    x = clip(a * P_y placed at a random offset (0..8, 0..8) + noise, 0, 1) * 255, with intensity
    a ~ U(0.4, 1), background noise N(0, 0.25^2): shapes are clear to a learner, but the position jitter
    makes raw-pixel nearest neighbours imperfect.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    patterns = _synthetic_patterns()[labels]
    room = SYNTHETIC_SIZE - SYNTHETIC_PATCH + 1
    offsets = torch.randint(0, room, (n, 2), generator=generator)
    canvas = torch.zeros(n, SYNTHETIC_SIZE, SYNTHETIC_SIZE)
    rows = offsets[:, 0, None, None] + torch.arange(SYNTHETIC_PATCH)[None, :, None]
    cols = offsets[:, 1, None, None] + torch.arange(SYNTHETIC_PATCH)[None, None, :]
    canvas[torch.arange(n)[:, None, None], rows, cols] = patterns
    intensity = 0.4 + 0.6 * torch.rand(n, 1, 1, generator=generator)
    noise = 0.25 * torch.randn(n, SYNTHETIC_SIZE, SYNTHETIC_SIZE, generator=generator)
    images = ((canvas * intensity + noise).clamp(0, 1) * 255).round().to(torch.uint8)
    return images.unsqueeze(1), labels


def _load_synthetic(arg: str, split: str) -> ImageDataset:
    n, seed = (1000, 0) if split == "train" else (500, 1)
    images, labels = make_synthetic(n, seed)
    return ImageDataset(images, labels, 10, "synthetic")


DATASETS.register("synthetic")(
    DatasetSpec("synthetic", 1000, 500, 1, SYNTHETIC_SIZE, 10, _load_synthetic, lambda arg: True, nothing_to_download))
