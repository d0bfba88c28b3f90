"""A timm Vision Transformer at the level of its patch tokens, for masked-image methods (MAE, I-JEPA).

A ViT backbone maps images (B, C, H, W) to patch tokens (B, N, D), N = (H / p) (W / p) in raster order (token
i*W/p + j is patch row i, column j), runs its blocks on any subset of them and pools; these functions expose the
steps so a method can encode only the visible tokens, and :class:`TokenTransformer` is the small transformer
(MAE's decoder, I-JEPA's predictor) that works on a grid of tokens with fixed 2-D sine-cosine positions.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_bench.core.errors import UserError


def require_vit(backbone: nn.Module, method: str) -> nn.Module:
    """``backbone`` if it is a timm VisionTransformer without class or register tokens, else one line that says
    which backbone to choose."""
    from timm.models.vision_transformer import VisionTransformer

    if not isinstance(backbone, VisionTransformer) or backbone.num_prefix_tokens:
        raise UserError(f"{method} trains a Vision Transformer on its patch tokens; choose --backbone vit-tiny")
    return backbone


def patch_size(vit: nn.Module) -> int:
    return int(vit.patch_embed.patch_size[0])


def grid_size(vit: nn.Module, image_size: int) -> int:
    """Patches per side of an ``image_size`` image (padded to whole patches, as the ViT pads)."""
    return -(-image_size // patch_size(vit))


def patch_tokens(vit: nn.Module, images: Tensor) -> Tensor:
    """Patch embeddings plus (interpolated) positional embeddings, before the blocks: (B, C, H, W) -> (B, N, D)."""
    return vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(images))))


def encode_tokens(vit: nn.Module, tokens: Tensor) -> Tensor:
    """The ViT's blocks and final norm on (B, K, D) tokens (any subset of an image's patches) -> (B, K, D)."""
    return vit.norm(vit.blocks(tokens))


def take(tokens: Tensor, index: Tensor) -> Tensor:
    """tokens[b, index[b, k]]: (B, N, D) and (B, K) -> (B, K, D)."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def patchify(images: Tensor, size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, size * size * C) pixel patches in raster order, each flattened (row, column,
    channel), the image zero-padded on the right and bottom to whole patches as the ViT's patch embedding pads."""
    batch, channels, height, width = images.shape
    images = F.pad(images, (0, -width % size, 0, -height % size))
    rows, columns = images.shape[2] // size, images.shape[3] // size
    patches = images.reshape(batch, channels, rows, size, columns, size).permute(0, 2, 4, 3, 5, 1)
    return patches.reshape(batch, rows * columns, size * size * channels)


def sincos_positions(grid: int, dim: int) -> Tensor:
    """MAE's fixed 2-D positional embedding (grid * grid, dim): for the token of row i, column j, the first half
    is the 1-D embedding of j and the second of i, each [sin(x w_k), cos(x w_k)] with w_k = 10000^(-k / (dim / 4)),
    k < dim / 4."""
    if dim % 4:
        raise UserError(f"a 2-D sine-cosine embedding needs a width divisible by 4, got {dim}")
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    rows, columns = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64),
                                   indexing="ij")

    def one_axis(positions: Tensor) -> Tensor:
        angles = positions.reshape(-1, 1) * frequencies
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([one_axis(columns), one_axis(rows)], dim=1).float()


class TokenTransformer(nn.Module):
    """``depth`` timm transformer blocks of width ``dim`` (``heads`` heads, MLP ratio 4) and a LayerNorm over a
    grid of ``grid * grid`` token positions, with fixed sine-cosine positions (:func:`sincos_positions`, buffer
    ``positions`` (N, dim)) and a learnt mask token (1, 1, dim), zero-initialised.

    MAE's decoder and I-JEPA's predictor: tokens in from an encoder of width ``in_dim`` (a Linear), mask tokens at
    the positions to predict, out to ``out_dim`` per token (a Linear)."""

    def __init__(self, in_dim: int, dim: int, depth: int, heads: int, out_dim: int, grid: int) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        if dim % heads:
            raise UserError(f"the token transformer's width {dim} must be a multiple of its {heads} heads")
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("positions", sincos_positions(grid, dim), persistent=False)
        norm = functools.partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio=4.0, qkv_bias=True, norm_layer=norm)
                                      for _ in range(depth)))
        self.norm = norm(dim)
        self.head = nn.Linear(dim, out_dim)

    def forward(self, tokens: Tensor, known: Tensor, wanted: Tensor) -> Tensor:
        """Predictions (B, Q, out_dim) at the positions ``wanted`` (B, Q) from encoder ``tokens`` (B, K, in_dim) at
        the positions ``known`` (B, K): [embed(tokens) + pos(known); mask_token + pos(wanted)] through the blocks
        and norm, the last Q outputs through the head."""
        positions = self.positions.to(tokens.dtype).expand(tokens.shape[0], -1, -1)
        known_tokens = self.embed(tokens) + take(positions, known)
        queries = self.mask_token + take(positions, wanted)
        out = self.norm(self.blocks(torch.cat([known_tokens, queries], dim=1)))
        return self.head(out[:, known.shape[1]:])
