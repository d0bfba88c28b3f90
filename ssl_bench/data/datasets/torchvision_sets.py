"""Datasets read with torchvision (CIFAR-10, CIFAR-100, STL-10) under :func:`ssl_bench.data.datasets.base.data_root`."""

from __future__ import annotations

from typing import Callable

import torch

from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets.base import DatasetSpec, ImageDataset, data_root


def _torchvision_download(name: str, fetch: Callable[[], object]) -> None:
    try:
        fetch()
    except (OSError, RuntimeError) as err:
        message = f"downloading {name} into {data_root()} failed ({err}); check the network or SSL_BENCH_DATA"
        raise UserError(message) from err


def _torchvision_set(name: str, split: str, download: bool) -> object:
    import torchvision

    root = str(data_root())
    if name == "stl10":
        return torchvision.datasets.STL10(root, split=split, download=download)
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    return cls(root, train=split == "train", download=download)


def _torchvision_loader(name: str, num_classes: int) -> Callable[[str, str], ImageDataset]:
    def load(arg: str, split: str) -> ImageDataset:
        try:
            source = _torchvision_set(name, split, download=False)
        except RuntimeError as err:
            raise UserError(
                f"{name} not found under {data_root()} ({err}); pass --download, or set SSL_BENCH_DATA to the folder "
                "that holds it"
            ) from err
        if name == "stl10":
            images = torch.from_numpy(source.data).contiguous()  # already (N, C, H, W)
            labels = torch.as_tensor(source.labels, dtype=torch.int64)
        else:
            images = torch.from_numpy(source.data).permute(0, 3, 1, 2).contiguous()  # from (N, H, W, C)
            labels = torch.as_tensor(source.targets, dtype=torch.int64)
        return ImageDataset(images, labels, num_classes, name)

    return load


TORCHVISION_FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python", "stl10": "stl10_binary"}


def _torchvision_available(name: str) -> Callable[[str], bool]:
    return lambda arg: (data_root() / TORCHVISION_FOLDERS[name]).is_dir()


def _torchvision_fetch(name: str) -> Callable[[str], None]:
    return lambda arg: _torchvision_download(name, lambda: _torchvision_set(name, "train", download=True))


def torchvision_spec(name: str, n_train: int, n_test: int, size: int, num_classes: int) -> DatasetSpec:
    """The spec of a torchvision set of RGB images."""
    return DatasetSpec(name, n_train, n_test, 3, size, num_classes, _torchvision_loader(name, num_classes),
                       _torchvision_available(name), _torchvision_fetch(name))
