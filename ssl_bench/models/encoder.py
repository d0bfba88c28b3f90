"""The encoder every evaluation sees: uint8 images in, features out, normalised as the network was trained."""

from __future__ import annotations

from torch import Tensor, nn

from ssl_bench.data.augment import normalize


class NormalisedEncoder(nn.Module):
    """uint8 images (N, C, H, W) -> features (N, F): normalise with the training statistics, then the network."""

    def __init__(self, network: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.mean, self.std = mean, std

    def forward(self, images: Tensor) -> Tensor:
        return self.network(normalize(images, self.mean, self.std)).flatten(1)
