"""``resnet50``: torchvision's ResNet-50, with the small-image stem up to 64 px."""

from __future__ import annotations

from torch import nn

from ssl_bench.models.backbones.base import BACKBONES, small_image_resnet


@BACKBONES.register("resnet50")
def resnet50(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    from torchvision.models import resnet50 as factory

    return small_image_resnet(factory, in_channels, image_size)
