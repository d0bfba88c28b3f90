"""Streaming an ``imagefolder:PATH`` split from disk, for data that does not fit in memory.

Two ways to feed a split (``TrainConfig.data_loading``, ``--data-loading``):

- ``memory``: the whole split decoded once into one uint8 tensor (:func:`ssl_bench.data.datasets.load_dataset`);
  training puts it on the device and indexes batches out of it.
- ``stream``: a :class:`StreamedSplit` lists the image files and decodes one image per ``__getitem__`` with
  :func:`ssl_bench.data.datasets.decode_imagefolder_image`, the decoder the memory path uses, so a streamed image
  equals the same image loaded in memory byte for byte. DataLoader workers decode the batches of a given list
  of indices (our seeded permutation), in that order, so both paths see the same batches and train to the same
  weights. Only ``imagefolder:PATH`` datasets stream; the others are single files decoded in memory anyway.
- ``auto``: ``stream`` for an ``imagefolder:PATH`` split whose decoded size N*C*H*W bytes (N: images in the whole
  split, before any ``--subset``) exceeds :func:`memory_budget` (``$SSL_BENCH_MEMORY_BUDGET`` bytes, default
  8 GiB), else ``memory``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ssl_bench.core.errors import UserError
from ssl_bench.data.datasets import (
    IMAGEFOLDER_SIZE,
    ImageDataset,
    balanced_indices,
    decode_imagefolder_image,
    imagefolder_samples,
    parse_imagefolder,
    test_rows,
    test_split,
    train_split,
)

DEFAULT_MEMORY_BUDGET = 8 * 2**30  # bytes of decoded uint8 images above which "auto" streams
PREFETCH_BATCHES = 4  # batches each worker decodes ahead


def stop_workers(iterator: Any) -> None:
    """Stop a DataLoader iterator's worker processes now, even while an error's traceback still holds the iterator
    (they would otherwise live until it is garbage-collected). torch has no public call for it."""
    if hasattr(iterator, "_shutdown_workers"):
        iterator._shutdown_workers()


@dataclass(frozen=True, eq=False)
class StreamedSplit(Dataset):
    """A labelled imagefolder split read from disk one image at a time; a map-style torch Dataset.

    ``files``: the image paths; ``labels``: int64 ``(N,)`` in ``[0, num_classes)``; ``name``: the dataset name;
    ``workers``: DataLoader worker processes decoding for :meth:`loader` (0: decode in the calling process).
    ``split[i]`` is ``(uint8 (3, S, S), label)`` with S = ``image_size`` (the name's, see ``parse_imagefolder``).
    """

    files: tuple[str, ...]
    labels: Tensor
    num_classes: int
    name: str
    workers: int = 0
    image_size: int = IMAGEFOLDER_SIZE

    @classmethod
    def open(cls, name: str, split: str, workers: int = 0) -> StreamedSplit:
        """The ``split`` of ``imagefolder[@S]:PATH`` ``name``: its files are listed, none is decoded."""
        path, size = parse_imagefolder(name)
        files, labels, num_classes = imagefolder_samples(path, split)
        return cls(tuple(files), labels, num_classes, name, workers, size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return decode_imagefolder_image(self.files[index], self.image_size), int(self.labels[index])

    @property
    def channels(self) -> int:
        return 3

    def subset(self, index: Tensor) -> StreamedSplit:
        """The images at ``index`` (int64 ``(n,)``), in that order."""
        return StreamedSplit(tuple(self.files[i] for i in index.tolist()), self.labels[index], self.num_classes,
                             self.name, self.workers, self.image_size)

    def head(self, count: int) -> Tensor:
        """uint8 ``(count, 3, S, S)``: the first ``count`` images, decoded in this process."""
        return torch.stack([self[i][0] for i in range(count)])

    def loader(self, batches: Iterable[Sequence[int]], pin_memory: bool = False, persistent: bool = False) -> DataLoader:
        """A DataLoader yielding ``(images uint8 (B, 3, S, S), labels int64 (B,))`` for each index list of
        ``batches``, in that order. ``persistent``: keep the workers between passes; a sampler from
        :func:`batch_sampler` may then be given new batches before each pass."""
        workers = self.workers
        # Its own generator: a DataLoader draws worker seeds from it, which must not move torch's global RNG
        # (model initialisation after a streamed statistics pass would otherwise differ from the memory path).
        return DataLoader(self, batch_sampler=batches, num_workers=workers, pin_memory=pin_memory,
                          persistent_workers=persistent and workers > 0, generator=torch.Generator(),
                          prefetch_factor=PREFETCH_BATCHES if workers else None)

    def in_order(self, batch_size: int, pin_memory: bool = False) -> Iterator[Tensor]:
        """uint8 batches ``(B, 3, S, S)`` of all images in order (the last one may be smaller)."""
        batches = [range(start, min(start + batch_size, len(self))) for start in range(0, len(self), batch_size)]
        iterator = iter(self.loader(batches, pin_memory))
        try:
            for images, _ in iterator:
                yield images
        finally:
            stop_workers(iterator)

    def pixel_histograms(self) -> Tensor:
        """int64 ``(3, 256)``: how often each pixel value occurs in each channel, counted in one streaming pass over
        every image (exact: the same counts as the split in memory)."""
        counts = torch.zeros(3, 256, dtype=torch.int64)
        for images in self.in_order(256):
            counts += torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256) for c in range(3)])
        return counts


class OrderedBatches:
    """A batch sampler yielding the index lists it was last given with :meth:`set`, in order."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def set(self, batches: Sequence[Tensor]) -> None:
        self.batches = [batch.tolist() for batch in batches]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def memory_budget() -> int:
    """Bytes of decoded images ``auto`` keeps in memory: ``$SSL_BENCH_MEMORY_BUDGET`` if set, else 8 GiB."""
    text = os.environ.get("SSL_BENCH_MEMORY_BUDGET")
    if not text:
        return DEFAULT_MEMORY_BUDGET
    try:
        return int(text)
    except ValueError:
        raise UserError(f"SSL_BENCH_MEMORY_BUDGET must be a number of bytes, got {text!r}") from None


def load_split(
    name: str,
    split: str,
    data_loading: str = "memory",
    subset: int | None = None,
    seed: int = 0,
    download: bool = False,
    workers: int = 0,
) -> ImageDataset | StreamedSplit:
    """``split`` of dataset ``name`` in memory or streamed (see the module docstring for ``data_loading``),
    reduced to its seeded class-balanced ``subset`` when one is given (the test split's the same whatever ``seed``:
    :func:`~ssl_bench.data.datasets.base.test_rows`); both paths draw the same subset. ``data_loading`` is one of ``ssl_bench.training.config.DATA_LOADING`` (validated with the config)."""
    if data_loading != "memory" and parse_imagefolder(name) is not None:
        stream = StreamedSplit.open(name, split, workers)
        decoded_bytes = len(stream) * stream.channels * stream.image_size**2
        if data_loading == "stream" or decoded_bytes > memory_budget():
            if subset is None:
                return stream
            rows = (balanced_indices(stream.labels, stream.num_classes, subset, seed, name) if split == "train"
                    else test_rows(stream.labels, stream.num_classes, subset, name))
            return stream.subset(rows)
    elif data_loading == "stream":
        raise UserError(f"data_loading stream reads imagefolder:PATH datasets only, not {name}; use memory or auto")
    if split == "train":
        return train_split(name, subset, seed, download)
    return test_split(name, subset, download)
