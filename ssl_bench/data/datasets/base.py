"""Dataset name -> :class:`ImageDataset` of uint8 images, decoded once; each dataset is one module of this package,
registered in :data:`DATASETS` under the name of its file (``fashion_mnist.py`` -> ``fashion-mnist``).

Names (the registry :data:`DATASETS`):

- ``fashion-mnist`` (the offline default) and ``mnist``: idx files (gzipped or not), read by :func:`read_idx`.
  Fashion-MNIST is looked for in ``$SSL_BENCH_DATA`` (the files themselves, or a ``fashion-mnist/`` or
  ``FashionMNIST/raw/`` subfolder), then in the Debian package's :data:`DEBIAN_FASHION_MNIST`, then in
  torchvision's layout under :func:`data_root`. MNIST: ``$SSL_BENCH_DATA/mnist/`` or ``MNIST/raw/`` under the
  data root. (idx files directly in ``$SSL_BENCH_DATA`` count as Fashion-MNIST: both sets use the same file
  names.) Debian recompresses its files, so torchvision's checksums fail on them; reading the idx format here
  avoids that.
- ``cifar10``, ``cifar100``, ``stl10`` (its labelled train/test splits): torchvision, under :func:`data_root`.
- ``imagefolder:PATH``: ``PATH/train/CLASS/*`` and ``PATH/test/CLASS/*``, converted to RGB, the shorter side
  resized to :data:`IMAGEFOLDER_SIZE` (``imagefolder@S:PATH``: to S, e.g. 224) and centre-cropped to a square. A split too large for memory is streamed
  from disk instead, with the same decoder (:mod:`ssl_bench.data.streaming`).
- ``digits``: scikit-learn's 8x8 handwritten digits (shipped with it, offline), split once (a transfer target).
- ``synthetic``: a small generated, learnable set for tests (see :func:`make_synthetic`).

Nothing is downloaded unless ``download=True``. Decoded tensors are cached in-process, keyed by the name, split
and search locations, so a second :func:`load_dataset` is free; treat the returned tensors as read-only.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.core.registry import Registry
from ssl_bench.core.settings import MIN_SUBSET

SPLITS = ("train", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist package
DEFAULT_DATA_ROOT = Path("~/.cache/ssl-bench")
IMAGEFOLDER_SIZE = 32


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image set held in memory.

    ``images``: uint8 ``(N, C, H, W)``; ``labels``: int64 ``(N,)`` in ``[0, num_classes)``; ``name``: the dataset
    name it was loaded by.
    """

    images: Tensor
    labels: Tensor
    num_classes: int
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """Side length H (the images are square for every registered dataset)."""
        return self.images.shape[2]

    def pixel_histograms(self) -> Tensor:
        """int64 ``(C, 256)``: how often each pixel value occurs in each channel."""
        return torch.stack([torch.bincount(self.images[:, c].reshape(-1), minlength=256) for c in range(self.channels)])


@dataclass(frozen=True)
class DatasetSpec:
    """What the registry knows about a dataset without loading it; ``None`` where it depends on the data.

    ``load(arg, split)`` decodes one split (``arg`` is the whole name for ``imagefolder[@S]:PATH``, else ``""``) and raises
    :class:`UserError` saying where it looked when the data is missing; ``available(arg)`` checks for the files
    without decoding; ``download(arg)`` fetches them (a no-op when they are present or nothing can be fetched).
    """

    name: str
    n_train: int | None
    n_test: int | None
    channels: int | None
    image_size: int | None
    num_classes: int | None
    load: Callable[[str, str], ImageDataset]
    available: Callable[[str], bool]
    download: Callable[[str], None]
    takes_path: bool = False  # imagefolder:PATH: its size and availability depend on the PATH given


DATASETS: Registry[DatasetSpec] = Registry("dataset", package="ssl_bench.data.datasets")


def data_root() -> Path:
    """``$SSL_BENCH_DATA`` if set, else ``~/.cache/ssl-bench``: where torchvision files are read and downloaded."""
    return Path(os.environ.get("SSL_BENCH_DATA") or DEFAULT_DATA_ROOT).expanduser()


def load_dataset(name: str, split: str = "train", download: bool = False) -> ImageDataset:
    """The ``split`` ("train" or "test") of dataset ``name``; downloads only when ``download`` is true."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    spec, arg = _lookup(name)
    if download:
        spec.download(arg)
    return _load_cached(name, split, os.environ.get("SSL_BENCH_DATA", ""), str(DEBIAN_FASHION_MNIST))


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, split: str, env_root: str, debian_dir: str) -> ImageDataset:
    """Decode once per (name, split, search locations); failures raise and are not cached."""
    spec, arg = _lookup(name)
    return spec.load(arg, split)


def dataset_spec(name: str) -> DatasetSpec:
    """The registered spec of ``name`` (``imagefolder:PATH`` included); UserError listing the valid names."""
    return _lookup(name)[0]


def dataset_available(name: str) -> bool:
    """Whether ``name``'s files are here (``imagefolder:PATH`` included), without decoding or fetching anything."""
    spec, arg = _lookup(name)
    return bool(spec.available(arg))


def _lookup(name: str) -> tuple[DatasetSpec, str]:
    """The spec of ``name`` and the argument its ``load`` takes; an ``imagefolder@S:PATH`` spec says its size S."""
    folder = parse_imagefolder(name)
    if folder is not None:
        return replace(DATASETS.get("imagefolder"), image_size=folder[1]), name
    if name not in DATASETS or DATASETS.get(name).takes_path:  # the names as users write them: imagefolder:PATH
        names = ", ".join(DATASETS.get(known).name for known in DATASETS.names())
        raise UserError(f"unknown dataset {name!r}; choose one of: {names}")
    return DATASETS.get(name), ""


def parse_imagefolder(name: str) -> tuple[str, int] | None:
    """(PATH, image size) of ``imagefolder:PATH`` (size :data:`IMAGEFOLDER_SIZE`) or ``imagefolder@S:PATH``
    (size S); None for any other name. A missing PATH or a bad S is one :class:`UserError` line."""
    prefix, colon, path = name.partition(":")
    if not colon or not (prefix == "imagefolder" or prefix.startswith("imagefolder@")):
        return None
    size = prefix.removeprefix("imagefolder").removeprefix("@") or str(IMAGEFOLDER_SIZE)
    if not size.isdigit() or not 8 <= int(size) <= 1024:
        raise UserError(f"{name!r}: the image size after imagefolder@ must be a whole number of pixels in [8, 1024], "
                        "e.g. imagefolder@224:PATH")
    if not path:
        raise UserError("imagefolder needs a folder: use imagefolder:PATH with PATH/train and PATH/test inside")
    return path, int(size)


def balanced_subset(ds: ImageDataset, n: int, seed: int) -> ImageDataset:
    """A fixed, seeded, class-balanced subset of ``n`` images, kept in the original order (see
    :func:`balanced_indices`)."""
    index = balanced_indices(ds.labels, ds.num_classes, n, seed, ds.name)
    return ImageDataset(ds.images[index], ds.labels[index], ds.num_classes, ds.name)


def balanced_indices(labels: Tensor, num_classes: int, n: int, seed: int, name: str) -> Tensor:
    """Sorted int64 indices into ``labels: (N,)`` of a seeded, class-balanced subset of ``n`` images.

    Class c gets ``n // K`` images, plus one for the first ``n % K`` classes (K = ``num_classes``), drawn without
    replacement by a ``torch.Generator`` seeded with ``seed``: the same (labels, n, seed) gives the same subset.
    ``name`` (the dataset's) only appears in errors.
    """
    if not MIN_SUBSET <= n <= len(labels):
        raise UserError(f"subset size must be between {MIN_SUBSET} and {len(labels)} (the size of {name}), got {n}; "
                        "leave --subset out for the whole split")
    generator = torch.Generator().manual_seed(seed)
    quota, extra = divmod(n, num_classes)
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        count = quota + (1 if label < extra else 0)
        if count > len(members):
            raise UserError(
                f"a balanced subset of {n} needs {count} images of class {label} but {name} has {len(members)}; "
                "pass a smaller --subset"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:count]])
    return torch.sort(torch.cat(chosen)).values


def train_split(name: str, subset: int | None, seed: int, download: bool = False) -> ImageDataset:
    """The train split of ``name``, or its seeded class-balanced ``subset`` when one is given (None: all of it)."""
    data = load_dataset(name, "train", download=download)
    return data if subset is None else balanced_subset(data, subset, seed)


TEST_SUBSET_SEED = 0  # one draw for every row and seed of a suite: rows are scored on the same queries


def test_rows(labels: Tensor, num_classes: int, test_subset: int, name: str) -> Tensor:
    """Sorted indices into the test ``labels: (N,)`` of its class-balanced ``test_subset`` rows, drawn with
    :data:`TEST_SUBSET_SEED`: the same images for every row and seed, so that rows stay paired on their queries
    (a split read another way, streamed or as a features file, keeps these rows)."""
    return balanced_indices(labels, num_classes, test_subset, TEST_SUBSET_SEED, name)


def test_split(name: str, test_subset: int | None = None, download: bool = False) -> ImageDataset:
    """The test split of ``name``, or its ``test_subset`` rows (:func:`test_rows`' draw)."""
    data = load_dataset(name, "test", download=download)
    return data if test_subset is None else balanced_subset(data, test_subset, TEST_SUBSET_SEED)


def normalization_stats(ds: ImageDataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of the pixel values scaled to [0, 1].

    mean_c = (1/M) sum x/255, std_c = sqrt((1/M) sum (x/255)^2 - mean_c^2) over the M = N H W pixels of channel c,
    computed exactly from ``ds.pixel_histograms()`` (the 256-bin histogram of each channel). A streamed split
    (:class:`ssl_bench.data.streaming.StreamedSplit`) counts its histograms in one pass over every image, so it gets
    the same values as the split held in memory.
    """
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for counts in ds.pixel_histograms():
        histogram = counts.double()
        histogram /= histogram.sum()
        mean = float((histogram * values).sum())
        var = float((histogram * values**2).sum()) - mean**2
        means.append(mean)
        stds.append(max(var, 0.0) ** 0.5)
    return tuple(means), tuple(stds)


def dataset_table() -> list[dict]:
    """One row per registered dataset: name, sizes, shape, classes and whether it is here (nothing is fetched).

    ``available`` is ``None`` for ``imagefolder:PATH``, which depends on the PATH given.
    """
    rows = []
    for name in DATASETS:
        spec = DATASETS.get(name)
        rows.append(
            {
                "name": spec.name,
                "n_train": spec.n_train,
                "n_test": spec.n_test,
                "channels": spec.channels,
                "size": spec.image_size,
                "num_classes": spec.num_classes,
                "available": None if spec.takes_path else spec.available(""),
            }
        )
    return rows


def nothing_to_download(arg: str) -> None:
    return None
