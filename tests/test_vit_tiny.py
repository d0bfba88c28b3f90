"""The vit-tiny backbone: timm's ViT-Tiny shape (width 192, 12 blocks, 3 heads), patch sized for the image, and
inputs of other sizes (local crops) through the same weights."""

from __future__ import annotations

import pytest
import timm
import torch

from ssl_bench.models.backbones import build_backbone
from ssl_bench.models.backbones.vit_tiny import patch_size_for


@pytest.mark.parametrize(("size", "patch"), [(28, 4), (32, 4), (96, 8), (224, 16)])
def test_patch_size_follows_the_image(size, patch):
    assert patch_size_for(size) == patch


def test_vit_tiny_is_timms_vit_tiny_with_small_patches():
    model, dim = build_backbone("vit-tiny", 1, 28)
    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0)
    assert dim == 192 and len(model.blocks) == len(reference.blocks) == 12
    assert model.blocks[0].attn.num_heads == 3
    assert model.patch_embed.proj.kernel_size == (4, 4) and model.patch_embed.proj.in_channels == 1
    # The transformer blocks have timm's ViT-Tiny parameter count; only the patch embedding and positions differ.
    blocks = sum(p.numel() for p in model.blocks.parameters())
    assert blocks == sum(p.numel() for p in reference.blocks.parameters())


def test_vit_tiny_takes_global_and_local_crops_and_pools_tokens():
    torch.manual_seed(0)
    model, _ = build_backbone("vit-tiny", 1, 28)
    model.eval()
    for size in (28, 12, 13):  # 13 px is padded to whole patches
        assert model(torch.randn(2, 1, size, size)).shape == (2, 192)
    assert model.cls_token is None and model.global_pool == "avg"
    tokens = model.forward_features(torch.randn(1, 1, 28, 28))
    assert tokens.shape == (1, 49, 192)  # 7 x 7 patches of 4 px, no class token
