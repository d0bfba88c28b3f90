"""``convnet``: a small convolutional network that trains quickly on a CPU."""

from __future__ import annotations

from torch import nn

from ssl_bench.models.backbones.base import BACKBONES


def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@BACKBONES.register("convnet")
def convnet(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """Four 3x3 conv-BN-ReLU blocks (32, 64, 64, 128 channels, two stride-2) and global average pooling."""
    model = nn.Sequential(
        _conv_block(in_channels, 32, 1),
        _conv_block(32, 64, 2),
        _conv_block(64, 64, 1),
        _conv_block(64, 128, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return model, 128
