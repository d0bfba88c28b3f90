"""``random-backbone``: a frozen, randomly initialised convnet (seeded; BatchNorm at its initial statistics) behind the training
images' normalisation: F = 128."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ssl_bench.spectral.feature_maps.base import FEATURE_MAPS, FeatureMap

BACKBONE = "convnet"


@FEATURE_MAPS.register("random-backbone")
class RandomBackboneMap(FeatureMap):
    def _fit(self, images: Tensor, x: np.ndarray) -> None:
        from ssl_bench.models.backbones import build_backbone
        from ssl_bench.models.encoder import NormalisedEncoder

        channels, size = images.shape[1], images.shape[2]
        per_channel = x.reshape(x.shape[0], channels, -1).astype(np.float64)
        mean = tuple(float(m) for m in per_channel.mean(axis=(0, 2)))
        std = tuple(float(s) for s in per_channel.std(axis=(0, 2)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network, _ = build_backbone(BACKBONE, channels, size)
        self.encoder_ = NormalisedEncoder(network, mean, std).eval()

    def _map(self, images: Tensor) -> np.ndarray:
        from ssl_bench.models.features import extract_features

        return extract_features(self.encoder_, torch.as_tensor(images)).numpy()

    @property
    def description(self) -> str:
        return f"frozen randomly initialised {BACKBONE} (seed {self.seed}, 128 dims)"
