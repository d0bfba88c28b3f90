"""Frozen features of an encoder on a train and a test split: what every source with an encoder yields."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ssl_bench.core.devices import inference_batch, resolve_device
from ssl_bench.data.augment import BatchAugment
from ssl_bench.data.datasets import ImageDataset
from ssl_bench.data.streaming import StreamedSplit
from ssl_bench.eval.base import FeatureSplits
from ssl_bench.models.features import cached_features, extract_features

Encoder = Callable[[Tensor], Tensor]
Split = ImageDataset | StreamedSplit


def encoder_splits(encoder: Encoder, train: Split, test: Split, device: str = "auto",
                   cache_dir: Path | None = None) -> FeatureSplits:
    """``encoder``'s features of ``train`` (the kNN database, the probe's training data) and ``test`` (scored), on
    ``device``; cached under ``cache_dir`` when one is given.

    A streamed split is encoded batch by batch as its DataLoader decodes it, in order, never all at once."""
    torch_device = resolve_device(device)
    batch = inference_batch(torch_device)
    if isinstance(encoder, nn.Module):
        encoder = encoder.to(torch_device)

    def features(split: str, data: Split) -> Tensor:
        on_cuda = torch_device.type == "cuda"
        images = data.images if isinstance(data, ImageDataset) else data.in_order(batch, on_cuda)
        compute = lambda: extract_features(encoder, images, batch, device=torch_device)  # noqa: E731
        found = cached_features(cache_dir / f"{split}.pt", compute) if cache_dir else compute()
        return found.to(torch_device)  # a cache is read to the CPU; kNN and the linear probe run on the device

    return FeatureSplits(features("train", train), train.labels.to(torch_device), features("test", test),
                         test.labels.to(torch_device), train.num_classes)


def view_features(encode: Encoder, augment: BatchAugment, images: Tensor, q: int, seed: int, device: torch.device,
                  batch: int = 256) -> Tensor:
    """Features (N, q, F) of ``q`` views of each uint8 image of ``images: (N, C, H, W)``: ``augment``'s views (two
    at a time, batch by batch, from a generator seeded with ``seed`` on ``device``), each encoded by ``encode``
    (an augmented float view -> (B, F)), without gradients."""
    generator = torch.Generator(device=device).manual_seed(seed)
    features = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            chunk, views = images[start : start + batch].to(device), []
            while len(views) < q:
                views.extend(encode(view) for view in augment.two_views(chunk, generator))
            features.append(torch.stack(views[:q], dim=1))
    return torch.cat(features).clone()
