"""``rff``: random Fourier features of the pixels (Rahimi & Recht 2007), phi(x).phi(y) ~ exp(-gamma ||x - y||^2), gamma
by the median heuristic (d = ``dim``, default 2048)."""

from __future__ import annotations

import numpy as np

from ssl_bench.spectral.feature_maps.base import FEATURE_MAPS, KernelMap


@FEATURE_MAPS.register("rff")
class RandomFourierMap(KernelMap):
    default_dim = 2048

    def _kernel_map(self, x: np.ndarray):
        from sklearn.kernel_approximation import RBFSampler

        return RBFSampler(gamma=self.gamma_, n_components=self.dim, random_state=self.seed).fit(x)

    @property
    def description(self) -> str:
        return f"random Fourier features of the pixels (RBF, gamma = 1/median sq. distance, {self.dim} dims)"
