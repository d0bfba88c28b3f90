"""Fixed input feature maps phi for the linear and kernel regimes of the closed forms: Z = phi(X) W; one module
each in this package, registered in :data:`FEATURE_MAPS` under the name of its file.

A feature map is an encoder in the sense of ARCHITECTURE.md (uint8 images (N, C, H, W) -> float32 (N, F)),
fitted once on the clean training images (no labels) and then applied to augmented views, train and test alike:

- ``pixels``: x / 255 flattened, F = C H W (the linear regime proper).
- ``pca``: PCA-whitened pixels, phi(x) = Lambda_d^{-1/2} V_d^T (x - m) with (Lambda_d, V_d) the top d eigenpairs of
  the pixel covariance; d = ``dim`` (default 64). Each feature has unit variance on the training images.
- ``rff``: random Fourier features of the pixels (Rahimi & Recht 2007, ``sklearn.kernel_approximation.RBFSampler``),
  phi(x) = sqrt(2 / d) cos(Omega^T x + b), Omega ~ N(0, 2 gamma I), so phi(x).phi(y) ~ exp(-gamma ||x - y||^2);
  d = ``dim`` (default 2048), gamma = 1 / median ||x_i - x_j||^2 over 1,000 training images (median heuristic).
- ``nystroem``: Nystroem features of the same RBF kernel (Williams & Seeger 2001, ``sklearn``'s ``Nystroem``) from
  d = ``dim`` random training images (default 1000): phi(x) = K_dd^{-1/2} k_d(x).
- ``random-backbone``: a frozen, randomly initialised ``convnet`` (``ssl_bench.models.backbones``, seeded; BatchNorm at
  its initial statistics) behind :class:`ssl_bench.models.encoder.NormalisedEncoder` with the training images' mean and
  std: F = 128.

With an explicit phi the linear closed forms are their kernel versions for k(x, y) = phi(x).phi(y) (kernel
Laplacian eigenmaps / kernel CCA in the primal).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry

MEDIAN_SAMPLE = 1000


def pixels(images: Tensor | np.ndarray) -> np.ndarray:
    """uint8 images (N, C, H, W) -> pixels in [0, 1] flattened, float32 (N, C H W)."""
    array = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if array.ndim != 4 or array.dtype != np.uint8:
        raise UserError(f"feature maps take uint8 images (N, C, H, W), got {array.dtype} {array.shape}")
    return array.reshape(array.shape[0], -1).astype(np.float32) / np.float32(255.0)


def median_gamma(x: np.ndarray, seed: int) -> float:
    """gamma = 1 / median of ||x_i - x_j||^2 (i < j) over up to 1,000 seeded rows of x (N, F)."""
    rows = x[np.random.default_rng(seed).choice(x.shape[0], size=min(MEDIAN_SAMPLE, x.shape[0]), replace=False)].astype(np.float64)
    squared = np.sum(rows**2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * rows @ rows.T
    median = float(np.median(distances[np.triu_indices(rows.shape[0], 1)]))
    if median <= 0:
        raise UserError("the training images are all identical; a kernel bandwidth cannot be chosen")
    return 1.0 / median


class FeatureMap:
    """Base of the registered maps: ``fit(train_images)`` (uint8 (N, C, H, W), no labels), then
    ``map(images) -> (N, F)`` float32. ``default_dim``: None for maps whose dimension is fixed by the data."""

    default_dim: ClassVar[int | None] = None

    def __init__(self, name: str, dim: int | None, seed: int) -> None:
        self.name, self.seed = name, seed
        self.dim = dim if dim is not None else self.default_dim

    def fit(self, images: Tensor) -> FeatureMap:
        self._fit(images, pixels(images))
        self.fitted_ = True
        return self

    def __call__(self, images: Tensor) -> np.ndarray:
        if not hasattr(self, "fitted_"):
            raise UserError("the feature map is not fitted yet; call fit(train_images) first")
        return self._map(images)

    def _fit(self, images: Tensor, x: np.ndarray) -> None:
        """Nothing to learn by default."""

    def _map(self, images: Tensor) -> np.ndarray:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """One line for the protocol."""
        raise NotImplementedError


FEATURE_MAPS: Registry[type[FeatureMap]] = Registry("feature map", package="ssl_bench.spectral.feature_maps")


def feature_map(name: str, dim: int | None = None, seed: int = 0) -> FeatureMap:
    """The registered map ``name`` (unfitted); ``dim`` only for maps with a free dimension (pca, rff, nystroem)."""
    cls = FEATURE_MAPS.get(name)
    if dim is not None and cls.default_dim is None:
        free = [n for n in FEATURE_MAPS.names() if FEATURE_MAPS.get(n).default_dim is not None]
        raise UserError(f"feature map {name!r} has a fixed dimension; drop feature_dim (it applies to {', '.join(free)})")
    if dim is not None and dim < 1:
        raise UserError(f"feature_dim must be a positive integer, got {dim}")
    return cls(name, dim, seed)


class KernelMap(FeatureMap):
    """An RBF kernel approximation of the pixels with the median-heuristic bandwidth."""

    def _fit(self, images: Tensor, x: np.ndarray) -> None:
        self.gamma_ = median_gamma(x, self.seed)
        self.kernel_map_ = self._kernel_map(x)

    def _kernel_map(self, x: np.ndarray):
        raise NotImplementedError

    def _map(self, images: Tensor) -> np.ndarray:
        return self.kernel_map_.transform(pixels(images)).astype(np.float32)
