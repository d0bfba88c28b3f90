"""``pca``: PCA-whitened pixels, phi(x) = Lambda_d^{-1/2} V_d^T (x - m); each feature has unit variance on the training
images (d = ``dim``, default 64)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.spectral.feature_maps.base import FEATURE_MAPS, FeatureMap, pixels


@FEATURE_MAPS.register("pca")
class PCAMap(FeatureMap):
    default_dim = 64

    def _fit(self, images: Tensor, x: np.ndarray) -> None:
        from ssl_bench.spectral.methods.classical_mds import principal_axes

        if self.dim > min(x.shape):
            raise UserError(f"pca feature_dim must be at most min(N, F) = {min(x.shape)}, got {self.dim}")
        self.mean_ = x.mean(axis=0, dtype=np.float64)
        axes, scatter = principal_axes(x - self.mean_, self.dim)
        if np.any(scatter <= 1e-12 * scatter[0]):
            raise UserError(f"the pixels have fewer than {self.dim} directions of non-zero variance; lower feature_dim")
        self.projection_ = axes / np.sqrt(scatter / (x.shape[0] - 1))
        self.mean_ = self.mean_.astype(np.float32)

    def _map(self, images: Tensor) -> np.ndarray:
        return ((pixels(images) - self.mean_) @ self.projection_).astype(np.float32)

    @property
    def description(self) -> str:
        return f"PCA-whitened pixels ({self.dim} dims)"
