"""``vit-tiny``: timm's ViT-Tiny (12 blocks, width 192, 3 heads) sized for the image: patch 4 for images of at
most 32 px (64 tokens at 32 px, 49 at 28 px), 8 up to 96 px, 16 above (ImageNet's ViT-Ti/16). Global average
pooling of the tokens is its feature (no class token), and positional embeddings are interpolated for other input
sizes (``dynamic_img_size``, padded to whole patches), so the smaller local crops of multi-crop methods go
through the same network. Random initialisation (timm's), no weights downloaded."""

from __future__ import annotations

from torch import nn

from ssl_bench.models.backbones.base import BACKBONES


def patch_size_for(image_size: int) -> int:
    """4 up to 32 px, 8 up to 96 px, else 16."""
    return 4 if image_size <= 32 else 8 if image_size <= 96 else 16


@BACKBONES.register("vit-tiny")
def vit_tiny(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    import timm

    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=image_size, in_chans=in_channels,
        patch_size=patch_size_for(image_size), global_pool="avg", class_token=False, dynamic_img_size=True,
        dynamic_img_pad=True,
    )
    return model, int(model.num_features)
