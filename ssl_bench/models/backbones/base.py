"""Backbones: images (B, C, H, W) float -> features (B, F); one module each in this package, registered in
:data:`BACKBONES` under the name of its file.

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
BACKBONES: Registry[BackboneFactory] = Registry("backbone", package="ssl_bench.models.backbones")


def build_backbone(name: str, in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    """Return ``(module, feature_dim)`` for a backbone name; ``timm:NAME`` for any timm model."""
    if name.startswith("timm:"):
        return _timm_backbone(name.removeprefix("timm:"), in_channels)
    return BACKBONES.get(name)(in_channels, image_size)


SMALL_IMAGE_MAX = 64


def small_image_resnet(factory: Callable[[], nn.Module], in_channels: int, image_size: int) -> tuple[nn.Module, int]:
    model = factory()
    if image_size <= SMALL_IMAGE_MAX:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    feature_dim = model.fc.in_features
    model.fc = nn.Identity()
    return model, feature_dim


def _timm_backbone(model_name: str, in_channels: int) -> tuple[nn.Module, int]:
    import timm

    if model_name not in timm.list_models():
        raise UserError(f"unknown timm model {model_name!r}; see timm.list_models() for valid names")
    model = timm.create_model(model_name, pretrained=False, num_classes=0, in_chans=in_channels)
    return model, int(model.num_features)
