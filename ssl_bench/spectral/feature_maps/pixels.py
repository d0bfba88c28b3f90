"""``pixels``: x / 255 flattened, F = C H W: the linear regime proper."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ssl_bench.spectral.feature_maps.base import FEATURE_MAPS, FeatureMap, pixels


@FEATURE_MAPS.register("pixels")
class PixelMap(FeatureMap):
    def _map(self, images: Tensor) -> np.ndarray:
        return pixels(images)

    @property
    def description(self) -> str:
        return "pixels in [0, 1]"
