"""Backbones: images (B, C, H, W) float -> features (B, F).

``resnet18`` / ``resnet50`` use the small-image stem of SimCLR's CIFAR experiments (3x3 stride-1 first conv,
no max-pool) for images of at most :data:`SMALL_IMAGE_MAX` pixels (MNIST, CIFAR), and torchvision's ImageNet stem
(7x7 stride-2 conv, 3x3 max-pool) above (STL-10 at 96 px, ImageNet at 224 px), as solo-learn chooses them; ``timm:NAME`` builds any timm model without pretrained weights; ``convnet`` and ``mlp`` are small
models that train quickly on a CPU. All take ``in_channels`` so grayscale images stay one channel.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry

BackboneFactory = Callable[[int, int], tuple[nn.Module, int]]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")


def build_backbone(name: str, in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """Return ``(module, feature_dim)`` for a backbone name; ``timm:NAME`` for any timm model."""
    if name.startswith("timm:"):
        return _timm_backbone(name.removeprefix("timm:"), in_channels)
    return BACKBONES.get(name)(in_channels, image_size)


SMALL_IMAGE_MAX = 64


def _resnet(factory: Callable[[], nn.Module], in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    model = factory()
    if image_size <= SMALL_IMAGE_MAX:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, feature_dim


@BACKBONES.register("resnet18")
def resnet18(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    from torchvision.models import resnet18 as factory

    return _resnet(factory, in_channels, image_size)


@BACKBONES.register("resnet50")
def resnet50(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    from torchvision.models import resnet50 as factory

    return _resnet(factory, in_channels, image_size)


def _timm_backbone(model_name: str, in_channels: int) -> tuple[nn.Module, int]:
    import timm

    if model_name not in timm.list_models():
        raise UserError(f"unknown timm model {model_name!r}; see timm.list_models() for valid names")
    model = timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=in_channels)
    return model, int(model.num_features)


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


@BACKBONES.register("mlp")
def mlp(in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """Flatten, then two Linear-BN-ReLU layers of width 512."""
    width = 512
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * image_size * image_size, width),
        nn.BatchNorm1d(width),
        nn.ReLU(inplace=True),
        nn.Linear(width, width),
        nn.BatchNorm1d(width),
        nn.ReLU(inplace=True),
    )
    return model, width
