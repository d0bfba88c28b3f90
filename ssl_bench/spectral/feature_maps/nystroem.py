"""``nystroem``: Nystroem features of the RBF kernel of the pixels (Williams & Seeger 2001) from d = ``dim`` random training
images (default 1000): phi(x) = K_dd^{-1/2} k_d(x)."""

from __future__ import annotations

import numpy as np

from ssl_bench.core.errors import UserError
from ssl_bench.spectral.feature_maps.base import FEATURE_MAPS, KernelMap


@FEATURE_MAPS.register("nystroem")
class NystroemMap(KernelMap):
    default_dim = 1000

    def _kernel_map(self, x: np.ndarray):
        from sklearn.kernel_approximation import Nystroem

        if self.dim > x.shape[0]:
            raise UserError(f"nystroem feature_dim must be at most the number of training images ({x.shape[0]}), got {self.dim}")
        return Nystroem(kernel="rbf", gamma=self.gamma_, n_components=self.dim, random_state=self.seed).fit(x)

    @property
    def description(self) -> str:
        return f"Nystroem features of the pixels (RBF, gamma = 1/median sq. distance, {self.dim} landmarks)"
