"""Token masks for masked-image methods, batched and seeded like the augmentations (:mod:`ssl_bench.data.augment`).

A mask is a pair of index tensors over the ``grid x grid`` patch tokens of an image (raster order): the tokens an
encoder sees and the tokens a method predicts, the same count for every image of the batch so they stack. All
randomness comes from the ``generator`` passed in, on the device the indices are made on, so a seeded generator
gives the same masks on every run (and the checkpointed generator state makes ``--resume`` exact).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def random_patch_masks(batch: int, tokens: int, mask_ratio: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """MAE's per-image random masking: (visible (B, K), masked (B, N - K)) indices, K = int(N (1 - mask_ratio)),
    the visible ones the first K of a uniformly random permutation of each image's N tokens (argsort of uniform
    noise, as MAE's ``random_masking``)."""
    keep = int(tokens * (1 - mask_ratio))
    order = torch.rand(batch, tokens, generator=generator, device=generator.device).argsort(dim=1)
    return order[:, :keep], order[:, keep:]


def _block_size(grid: int, scale: tuple[float, float], aspect: tuple[float, float], draw: float) -> tuple[int, int]:
    """(height, width) of a block of about ``grid**2 * s`` tokens and aspect ratio r, s and r at the fraction
    ``draw`` of their ranges (one draw for both, as I-JEPA's collator), each side < grid."""
    area = int(grid * grid * (scale[0] + draw * (scale[1] - scale[0])))
    ratio = aspect[0] + draw * (aspect[1] - aspect[0])
    height, width = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
    return max(1, min(height, grid - 1)), max(1, min(width, grid - 1))


def _blocks(batch: int, count: int, size: tuple[int, int], grid: int, generator: torch.Generator) -> Tensor:
    """(batch, count, grid * grid) boolean masks of ``count`` blocks of ``size`` per image at uniform positions."""
    height, width = size
    device = generator.device
    top = torch.randint(0, grid - height + 1, (batch, count, 1, 1), generator=generator, device=device)
    left = torch.randint(0, grid - width + 1, (batch, count, 1, 1), generator=generator, device=device)
    rows = torch.arange(grid, device=device).view(1, 1, grid, 1)
    columns = torch.arange(grid, device=device).view(1, 1, 1, grid)
    inside = (rows >= top) & (rows < top + height) & (columns >= left) & (columns < left + width)
    return inside.flatten(2)


def _first_true(mask: Tensor, count: int) -> Tensor:
    """Indices of the first ``count`` True entries of each row of ``mask`` (B, N), in raster order: (B, count)."""
    return (~mask).to(torch.uint8).argsort(dim=1, stable=True)[:, :count]


def multi_block_masks(
    batch: int, grid: int, generator: torch.Generator, targets: int = 4,
    target_scale: tuple[float, float] = (0.15, 0.2), target_aspect: tuple[float, float] = (0.75, 1.5),
    context_scale: tuple[float, float] = (0.85, 1.0), min_context: int = 10, tries: int = 20,
) -> tuple[Tensor, Tensor]:
    """I-JEPA's multi-block masks (Assran et al. 2023, sec. 3; ``MaskCollator`` of facebookresearch/ijepa).

    One target size (scale and aspect drawn once per batch) and one context size (aspect 1) for the batch; per
    image ``targets`` target blocks, and a context block with every target token removed. An image whose context
    keeps fewer than ``min_context`` tokens redraws its context block (up to ``tries`` times; then it keeps the
    context block whole, as the collator lets the context overlap the targets when it runs out of tries). The
    contexts are cut to the batch's smallest count, keeping each image's first tokens in raster order.

    Returns (context (B, K), targets (B, T, h w)) token indices, each target block in raster order.
    """
    device = generator.device
    target_size = _block_size(grid, target_scale, target_aspect, torch.rand(1, generator=generator, device=device).item())
    context_size = _block_size(grid, context_scale, (1.0, 1.0), torch.rand(1, generator=generator, device=device).item())
    target_masks = _blocks(batch, targets, target_size, grid, generator)
    covered = target_masks.any(dim=1)
    context = torch.zeros(batch, grid * grid, dtype=torch.bool, device=device)
    todo = torch.ones(batch, dtype=torch.bool, device=device)
    for _ in range(tries):
        drawn = _blocks(batch, 1, context_size, grid, generator)[:, 0]
        candidate = drawn & ~covered
        accept = todo & (candidate.sum(dim=1) >= min_context)
        context[accept] = candidate[accept]
        todo &= ~accept
        if not todo.any():
            break
    else:
        context[todo] = drawn[todo]
    keep = int(context.sum(dim=1).min())
    area = target_size[0] * target_size[1]
    return _first_true(context, keep), _first_true(target_masks.flatten(0, 1), area).view(batch, targets, area)
