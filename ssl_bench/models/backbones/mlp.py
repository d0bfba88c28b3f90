"""``mlp``: a two-layer perceptron on the flattened pixels."""

from __future__ import annotations

from torch import nn

from ssl_bench.models.backbones.base import BACKBONES


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
