"""Augmented views of a dataset, made and reduced batch by batch: the statistics the linear views-graph closed forms
need, in memory independent of the number of views and images.

Views. ``n_views`` views of every image drawn by a trained method's augmentation code (:class:`ViewRecipe`: a
recipe of :mod:`ssl_bench.data.augment` and its overrides, SimCLR's by default; view v uses the recipe's branch
v mod 2), rounded to 8 bits. Their
random parameters (about 14 numbers per view and image) are drawn up front from one generator seeded with seed + 17,
view after view over all images; the pixels are made ``VIEW_BATCH`` images at a time from them. The views of the
whole dataset (:func:`augmented_views`) are those batches concatenated, so the streamed statistics and the in-memory
ones see the same views.

Statistics, float64, for the views graph G over n = N V rows phi(x_iv) (row v N + i; G links the V views of one
image; degree d = V - 1, S = n d): sum_r x_r, X^T X and sum_i s_i s_i^T with s_i = sum_v x_iv, so that
X^T G X = sum_i s_i s_i^T - X^T X (:class:`ViewMoments`); for two-view methods the pairs (2j, 2j + 1) give
sum x, sum y, X^T X, Y^T Y, X^T Y (:class:`PairMoments`). Memory: O(VIEW_BATCH F + F^2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssl_bench.data.augment import BatchAugment, augment_config
from ssl_bench.data.datasets import ImageDataset

VIEW_BATCH = 4096
VIEW_SEED_OFFSET = 17  # the views of seed s are drawn from a generator seeded with s + 17
FeatureFn = Callable[[Tensor], np.ndarray]


@dataclass(frozen=True)
class ViewRecipe:
    """How the views are drawn: an augmentation ``recipe`` (:data:`ssl_bench.data.recipes.RECIPES`) and its
    ``overrides``, as a trained run's (:func:`ssl_bench.training.run_dir.augment_of`)."""

    recipe: str = "simclr"
    overrides: dict[str, Any] = field(default_factory=dict)

    def augment(self, data: ImageDataset) -> BatchAugment:
        """The batched augmentation of ``data``'s images, normalised with its statistics as training does."""
        return BatchAugment(augment_config(self.recipe, data, self.overrides), data.channels, data.image_size)


def view_batches(data: ImageDataset, n_views: int, seed: int,
                 recipe: ViewRecipe = ViewRecipe()) -> Iterator[Iterator[Tensor]]:
    """For each batch of ``VIEW_BATCH`` images, an iterator over its ``n_views`` uint8 views (B, C, H, W), made lazily."""
    augment = recipe.augment(data)
    mean = torch.tensor(augment.config.mean).view(1, -1, 1, 1)
    std = torch.tensor(augment.config.std).view(1, -1, 1, 1)
    generator = torch.Generator().manual_seed(seed + VIEW_SEED_OFFSET)
    draws = [augment.draw(len(data.images), data.images.shape[-2:], index % 2, generator) for index in range(n_views)]

    def views(rows: slice) -> Iterator[Tensor]:
        for draw in draws:
            view = augment.apply(data.images[rows], draw[rows])
            yield (255.0 * (view * std + mean)).round().clamp(0, 255).to(torch.uint8)

    for start in range(0, len(data.images), VIEW_BATCH):
        yield views(slice(start, start + VIEW_BATCH))


def augmented_views(data: ImageDataset, n_views: int, seed: int, recipe: ViewRecipe = ViewRecipe()) -> list[Tensor]:
    """All ``n_views`` views of every image in memory: V x (N, C, H, W) uint8 (the batches of :func:`view_batches`)."""
    per_batch = [list(views) for views in view_batches(data, n_views, seed, recipe)]
    return [torch.cat([views[index] for views in per_batch]) for index in range(n_views)]


@dataclass(frozen=True)
class ViewMoments:
    """Sufficient statistics of the views graph: rows n = N V, ``total`` S = n (V - 1), ``row_sum`` (F,),
    ``gram`` X^T X (F, F), ``image_gram`` sum_i s_i s_i^T (F, F)."""

    n_images: int
    n_views: int
    row_sum: np.ndarray
    gram: np.ndarray
    image_gram: np.ndarray

    @property
    def n(self) -> int:
        return self.n_images * self.n_views

    @classmethod
    def stream(cls, data: ImageDataset, n_views: int, seed: int, features: FeatureFn,
               recipe: ViewRecipe = ViewRecipe()) -> ViewMoments:
        row_sum: np.ndarray | float = 0.0
        gram: np.ndarray | float = 0.0
        image_gram: np.ndarray | float = 0.0
        for views in view_batches(data, n_views, seed, recipe):
            image_sum: np.ndarray | float = 0.0
            for view in views:
                x = np.asarray(features(view), dtype=np.float64)
                row_sum = row_sum + x.sum(axis=0)
                gram = gram + x.T @ x
                image_sum = image_sum + x
            image_gram = image_gram + image_sum.T @ image_sum
        return cls(len(data.images), n_views, np.asarray(row_sum), np.asarray(gram), np.asarray(image_gram))


@dataclass(frozen=True)
class PairMoments:
    """Sufficient statistics of two aligned views X, Y (rows: the pairs (2j, 2j + 1) of every image):
    ``n`` rows, ``x_sum``, ``y_sum`` (F,), ``xx`` X^T X, ``yy`` Y^T Y, ``xy`` X^T Y (F, F)."""

    n: int
    x_sum: np.ndarray
    y_sum: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    xy: np.ndarray

    @classmethod
    def stream(cls, data: ImageDataset, n_views: int, seed: int, features: FeatureFn,
               recipe: ViewRecipe = ViewRecipe()) -> PairMoments:
        sums: list = [0.0] * 5
        for views in view_batches(data, n_views, seed, recipe):
            for view_a in views:
                x = np.asarray(features(view_a), dtype=np.float64)
                y = np.asarray(features(next(views)), dtype=np.float64)
                for index, value in enumerate((x.sum(axis=0), y.sum(axis=0), x.T @ x, y.T @ y, x.T @ y)):
                    sums[index] = sums[index] + value
        return cls(len(data.images) * (n_views // 2), *(np.asarray(value) for value in sums))
