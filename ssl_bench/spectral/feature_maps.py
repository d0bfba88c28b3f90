"""Fixed input feature maps phi for the linear and kernel regimes of the closed forms: Z = phi(X) W.

A :class:`FeatureMap` is an encoder in the sense of ARCHITECTURE.md (uint8 images (N, C, H, W) -> float32 (N, F)),
fitted once on the clean training images (no labels) and then applied to augmented views, train and test alike:

- ``pixels``: x / 255 flattened, F = C H W (the linear regime proper).
- ``pca``: PCA-whitened pixels, phi(x) = Lambda_d^{-1/2} V_d^T (x - m) with (Lambda_d, V_d) the top d eigenpairs of
  the pixel covariance; d = ``dim`` (default 64). Each feature has unit variance on the training images.
- ``rff``: random Fourier features of the pixels (Rahimi & Recht 2007, ``sklearn.kernel_approximation.RBFSampler``),
  phi(x) = sqrt(2 / d) cos(Omega^T x + b), Omega ~ N(0, 2 gamma I), so phi(x).phi(y) ~ exp(-gamma ||x - y||^2);
  d = ``dim`` (default 2048), gamma = 1 / median ||x_i - x_j||^2 over 1,000 training images (median heuristic).
- ``nystroem``: Nystroem features of the same RBF kernel (Williams & Seeger 2001, ``sklearn``'s ``Nystroem``) from
  d = ``dim`` random training images (default 1000): phi(x) = K_dd^{-1/2} k_d(x).
- ``random-backbone``: a frozen, randomly initialised ``convnet`` (``ssl_bench.backbones``, seeded; BatchNorm at
  its initial statistics) behind :class:`ssl_bench.trained_run.NormalisedEncoder` with the training images' mean and
  std: F = 128.

With an explicit phi the linear closed forms are their kernel versions for k(x, y) = phi(x).phi(y) (kernel
Laplacian eigenmaps / kernel CCA in the primal).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ssl_bench.errors import UserError

FEATURE_MAPS = ("pixels", "pca", "rff", "nystroem", "random-backbone")
DEFAULT_DIMS = {"pca": 64, "rff": 2048, "nystroem": 1000}
MEDIAN_SAMPLE = 1000
BACKBONE = "convnet"


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
    """``FeatureMap(name, dim=None, seed=0).fit(train_images)``, then ``feature_map(images) -> (N, F)`` float32."""

    def __init__(self, name: str, dim: int | None = None, seed: int = 0) -> None:
        if name not in FEATURE_MAPS:
            raise UserError(f"unknown feature map {name!r}; choose one of: {', '.join(FEATURE_MAPS)}")
        if dim is not None and name in ("pixels", "random-backbone"):
            raise UserError(f"feature map {name!r} has a fixed dimension; drop feature_dim (it applies to pca, rff, nystroem)")
        if dim is not None and dim < 1:
            raise UserError(f"feature_dim must be a positive integer, got {dim}")
        self.name, self.seed = name, seed
        self.dim = dim if dim is not None else DEFAULT_DIMS.get(name)

    def fit(self, images: Tensor) -> FeatureMap:
        """Fit on the clean training images, uint8 (N, C, H, W); uses no labels."""
        x = pixels(images)
        if self.name == "pca":
            self._fit_pca(x)
        elif self.name in ("rff", "nystroem"):
            self._fit_kernel(x)
        elif self.name == "random-backbone":
            self._fit_backbone(images, x)
        self.fitted_ = True
        return self

    def __call__(self, images: Tensor) -> np.ndarray:
        if not hasattr(self, "fitted_"):
            raise UserError("the feature map is not fitted yet; call fit(train_images) first")
        if self.name == "random-backbone":
            from ssl_bench.eval.features import extract_features

            return extract_features(self.encoder_, torch.as_tensor(images)).numpy()
        x = pixels(images)
        if self.name == "pixels":
            return x
        if self.name == "pca":
            return ((x - self.mean_) @ self.projection_).astype(np.float32)
        return self.kernel_map_.transform(x).astype(np.float32)

    @property
    def description(self) -> str:
        """One line for the protocol."""
        return {
            "pixels": "pixels in [0, 1]",
            "pca": f"PCA-whitened pixels ({self.dim} dims)",
            "rff": f"random Fourier features of the pixels (RBF, gamma = 1/median sq. distance, {self.dim} dims)",
            "nystroem": f"Nystroem features of the pixels (RBF, gamma = 1/median sq. distance, {self.dim} landmarks)",
            "random-backbone": f"frozen randomly initialised {BACKBONE} (seed {self.seed}, 128 dims)",
        }[self.name]

    def _fit_pca(self, x: np.ndarray) -> None:
        from ssl_bench.spectral.classical_mds import principal_axes

        if self.dim > min(x.shape):
            raise UserError(f"pca feature_dim must be at most min(N, F) = {min(x.shape)}, got {self.dim}")
        self.mean_ = x.mean(axis=0, dtype=np.float64)
        axes, scatter = principal_axes(x - self.mean_, self.dim)
        if np.any(scatter <= 1e-12 * scatter[0]):
            raise UserError(f"the pixels have fewer than {self.dim} directions of non-zero variance; lower feature_dim")
        self.projection_ = axes / np.sqrt(scatter / (x.shape[0] - 1))
        self.mean_ = self.mean_.astype(np.float32)

    def _fit_kernel(self, x: np.ndarray) -> None:
        from sklearn.kernel_approximation import Nystroem, RBFSampler

        self.gamma_ = median_gamma(x, self.seed)
        if self.name == "rff":
            self.kernel_map_ = RBFSampler(gamma=self.gamma_, n_components=self.dim, random_state=self.seed).fit(x)
        else:
            if self.dim > x.shape[0]:
                raise UserError(f"nystroem feature_dim must be at most the number of training images ({x.shape[0]}), got {self.dim}")
            self.kernel_map_ = Nystroem(kernel="rbf", gamma=self.gamma_, n_components=self.dim, random_state=self.seed).fit(x)

    def _fit_backbone(self, images: Tensor, x: np.ndarray) -> None:
        from ssl_bench.backbones import build_backbone
        from ssl_bench.trained_run import NormalisedEncoder

        channels, size = images.shape[1], images.shape[2]
        per_channel = x.reshape(x.shape[0], channels, -1).astype(np.float64)
        mean = tuple(float(m) for m in per_channel.mean(axis=(0, 2)))
        std = tuple(float(s) for s in per_channel.std(axis=(0, 2)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network, _ = build_backbone(BACKBONE, channels, size)
        self.encoder_ = NormalisedEncoder(network, mean, std).eval()
