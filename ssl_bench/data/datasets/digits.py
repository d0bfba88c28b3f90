"""``digits``: scikit-learn's handwritten digits (``sklearn.datasets.load_digits``, the test part of UCI's Optical
Recognition of Handwritten Digits), shipped with scikit-learn: a second offline dataset, the transfer target of the
Fashion-MNIST suite.

1,797 grey 8x8 images of 10 classes, pixel counts 0..16 scaled to uint8 as round(v * 255 / 16). scikit-learn ships
no split: the test split is a fixed class-balanced draw of :data:`TEST_SIZE` images (50 per class, seed
:data:`SPLIT_SEED`, :func:`balanced_indices`), the train split the other 1,297, both in scikit-learn's order.
"""

from __future__ import annotations

import torch

from ssl_bench.data.datasets.base import DATASETS, DatasetSpec, ImageDataset, balanced_indices, nothing_to_download

N_IMAGES = 1797
TEST_SIZE = 500
SPLIT_SEED = 0
IMAGE_SIZE = 8
MAX_COUNT = 16  # each pixel counts the set cells of a 4x4 block of the 32x32 bitmap: 0..16


def _load_digits(arg: str, split: str) -> ImageDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).mul(255 / MAX_COUNT).round().to(torch.uint8).unsqueeze(1)
    labels = torch.from_numpy(bunch.target).long()
    test = torch.zeros(len(labels), dtype=torch.bool)
    test[balanced_indices(labels, 10, TEST_SIZE, SPLIT_SEED, "digits")] = True
    chosen = test if split == "test" else ~test
    return ImageDataset(images[chosen], labels[chosen], 10, "digits")


DATASETS.register("digits")(
    DatasetSpec("digits", N_IMAGES - TEST_SIZE, TEST_SIZE, 1, IMAGE_SIZE, 10, _load_digits, lambda arg: True,
                nothing_to_download))
