"""idx files (MNIST, Fashion-MNIST): reading them, and where each set is looked for."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import base
from ssl_bench.data.datasets.base import SPLITS, DatasetSpec, ImageDataset, data_root
from ssl_bench.data.datasets.torchvision_sets import _torchvision_download

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path) -> Tensor:
    """A uint8 tensor from an idx file (gzipped or not), validated against its header.

    Layout: 2 zero bytes, a type byte (0x08 = unsigned byte, the only type read here), the number of
    dimensions d, then d big-endian uint32 sizes, then prod(sizes) bytes in C order.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        message = f"cannot read {path} ({err}); the file is corrupt: delete it and get the dataset again"
        raise UserError(message) from err
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise UserError(f"{path} is not an idx file (bad magic number); delete it and get the dataset again")
    if raw[2] != 0x08:
        raise UserError(f"{path} holds idx type 0x{raw[2]:02x}; only unsigned-byte idx files (0x08) are supported")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise UserError(f"{path} has a truncated idx header; delete it and get the dataset again")
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + _prod(shape)
    if len(raw) != expected:
        raise UserError(
            f"{path} holds {len(raw)} bytes but its header {shape} needs {expected}; the file is truncated or "
            "corrupt: delete it and get the dataset again"
        )
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(shape)


def _prod(sizes: list[int]) -> int:
    total = 1
    for size in sizes:
        total *= size
    return total


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_folders(name: str) -> list[Path]:
    """Where the idx files of ``name`` are looked for, in order."""
    env = os.environ.get("SSL_BENCH_DATA")
    if name == "fashion-mnist":
        folders = [Path(env), Path(env) / "fashion-mnist"] if env else []
        return folders + [base.DEBIAN_FASHION_MNIST, data_root() / "FashionMNIST" / "raw"]
    return ([Path(env) / "mnist"] if env else []) + [data_root() / "MNIST" / "raw"]


def _find_idx_split(name: str, split: str) -> tuple[Path, Path] | None:
    for folder in _idx_folders(name):
        images, labels = (_idx_file(folder, stem) for stem in IDX_FILES[split])
        if images and labels:
            return images, labels
    return None


def _idx_missing(name: str) -> UserError:
    looked = ", ".join(str(folder) for folder in _idx_folders(name))
    hint = "apt-get install dataset-fashion-mnist, or pass --download" if name == "fashion-mnist" else "pass --download"
    return UserError(f"{name} not found (looked in {looked}); get it with: {hint}")


def _idx_loader(name: str, num_classes: int) -> Callable[[str, str], ImageDataset]:
    def load(arg: str, split: str) -> ImageDataset:
        found = _find_idx_split(name, split)
        if found is None:
            raise _idx_missing(name)
        images, labels = (read_idx(path) for path in found)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"{found[0]} and {found[1]} do not fit together (shapes {tuple(images.shape)} and "
                f"{tuple(labels.shape)}); delete them and get {name} again"
            )
        labels = labels.long()
        if len(labels) and int(labels.max()) >= num_classes:
            raise UserError(f"{found[1]} has label {int(labels.max())} >= {num_classes}; it is not {name}")
        return ImageDataset(images.unsqueeze(1).contiguous(), labels, num_classes, name)

    return load


def _idx_available(name: str) -> Callable[[str], bool]:
    return lambda arg: all(_find_idx_split(name, split) is not None for split in SPLITS)


def _idx_download(name: str) -> Callable[[str], None]:
    def download(arg: str) -> None:
        if _idx_available(name)(arg):
            return
        import torchvision

        cls = torchvision.datasets.FashionMNIST if name == "fashion-mnist" else torchvision.datasets.MNIST
        _torchvision_download(name, lambda: cls(str(data_root()), download=True))

    return download


def idx_spec(name: str) -> DatasetSpec:
    """The spec of an idx set of 60,000 + 10,000 28x28 grey images of 10 classes."""
    return DatasetSpec(name, 60000, 10000, 1, 28, 10, _idx_loader(name, 10), _idx_available(name), _idx_download(name))
