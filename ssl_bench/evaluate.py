"""Frozen-feature evaluation of a trained run or a baseline, under one protocol.

The kNN database and the linear probe's training data are the run's training images (the same seeded subset
when ``--subset`` was used); queries are the dataset's official test split. Features are extracted once per
run and cached in ``RUN_DIR/features/``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ssl_bench import __version__
from ssl_bench.backbones import build_backbone
from ssl_bench.checkpoint import atomic_write_json
from ssl_bench.data.datasets import ImageDataset, load_dataset, normalization_stats, train_split
from ssl_bench.data.streaming import StreamedSplit, load_split
from ssl_bench.device import resolve_device
from ssl_bench.errors import UserError
from ssl_bench.eval import DEFAULT_EVALUATIONS, FeatureSplits, evaluate_features
from ssl_bench.eval.features import cached_features, extract_features
from ssl_bench.train import training_data
from ssl_bench.trained_run import NormalisedEncoder, load_encoder

BASELINES = ("raw-pixels", "random-init")
FEATURE_BATCH = 512

Encoder = Callable[[Tensor], Tensor]


def evaluate_encoder(
    encoder: Encoder,
    train: ImageDataset | StreamedSplit,
    test: ImageDataset | StreamedSplit,
    evaluations: Sequence[str] = DEFAULT_EVALUATIONS,
    seed: int = 0,
    device: str = "auto",
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """The feature ``evaluations`` of ``encoder`` (default kNN and the linear probe): ``train`` is the kNN database
    and the probe's training data, ``test`` is scored.

    A streamed split is encoded batch by batch as its DataLoader decodes it, in order, never all at once."""
    torch_device = resolve_device(device)
    if isinstance(encoder, nn.Module):
        encoder = encoder.to(torch_device)

    def features(split: str, data: ImageDataset | StreamedSplit) -> Tensor:
        on_cuda = torch_device.type == "cuda"
        images = data.images if isinstance(data, ImageDataset) else data.in_order(FEATURE_BATCH, on_cuda)
        compute = lambda: extract_features(encoder, images, FEATURE_BATCH, device=torch_device)  # noqa: E731
        found = cached_features(cache_dir / f"{split}.pt", compute) if cache_dir else compute()
        return found.to(torch_device)  # a cache is read to the CPU; kNN and the linear probe run on the device

    splits = FeatureSplits(features("train", train), train.labels.to(torch_device), features("test", test),
                           test.labels.to(torch_device), train.num_classes)
    result = evaluate_features(splits, evaluations, seed)
    result["protocol"].update({"dataset": train.name, "database": f"train split ({len(train)} images)",
                               "queries": f"test split ({len(test)} images)", "package_version": __version__})
    return result


def evaluate_run(run_dir: str | Path, evaluations: Sequence[str] = DEFAULT_EVALUATIONS, features: str = "backbone",
                 device: str = "auto") -> dict[str, Any]:
    """Evaluate the last checkpoint of a run; writes ``RUN_DIR/eval-<features>.json`` and returns the same dict."""
    run_dir = Path(run_dir)
    encoder, config = load_encoder(run_dir, features)
    epochs_done = len(_read_history(run_dir))
    test = load_split(config.dataset, "test", config.data_loading, download=config.download, workers=config.workers)
    result = evaluate_encoder(
        encoder, training_data(config), test,
        evaluations, seed=config.seed, device=device,
        cache_dir=run_dir / "features" / f"{features}-epoch{epochs_done}",
    )
    result["protocol"].update({"method": config.method, "backbone": config.backbone, "features": features,
                               "epochs": epochs_done, "checkpoint": "final epoch", "seed": config.seed,
                               "subset": config.subset, "batch_size": config.batch_size})
    try:
        atomic_write_json(run_dir / f"eval-{features}.json", result)
    except OSError as err:  # e.g. a finished run on a read-only filesystem: the result is still returned
        print(f"warning: {run_dir / f'eval-{features}.json'} not written ({err.strerror}); the result is printed only",
              file=sys.stderr)
    return result


def evaluate_baseline(name: str, dataset: str, backbone: str = "convnet", subset: int | None = None,
                      seed: int = 0, evaluations: Sequence[str] = DEFAULT_EVALUATIONS, device: str = "auto",
                      download: bool = False) -> dict[str, Any]:
    """Raw pixels, or a randomly initialised backbone (seeded, BatchNorm at its initial statistics)."""
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    train = train_split(dataset, subset, seed, download)
    test = load_dataset(dataset, "test", download=download)
    mean, std = normalization_stats(train)
    if name == "raw-pixels":
        network: nn.Module = nn.Flatten()
    else:
        torch.manual_seed(seed)
        network, _ = build_backbone(backbone, train.channels, train.image_size)
    encoder = NormalisedEncoder(network, mean, std).eval()
    result = evaluate_encoder(encoder, train, test, evaluations, seed=seed, device=device)
    result["protocol"].update({"method": name, "backbone": "pixels" if name == "raw-pixels" else backbone,
                               "features": "pixels" if name == "raw-pixels" else "backbone", "epochs": 0,
                               "seed": seed, "subset": subset})
    return result


def evaluate_pretrained(spec: str, weights: str, dataset: str, subset: int | None = None, seed: int = 0,
                        evaluations: Sequence[str] = DEFAULT_EVALUATIONS, device: str = "auto", download: bool = False,
                        image_size: int | None = None, normalization: str | None = None) -> dict[str, Any]:
    """An encoder trained elsewhere (:mod:`ssl_bench.encoders`) under the same protocol as ssl-bench's runs."""
    from ssl_bench.encoders import pretrained_encoder

    train = train_split(dataset, subset, seed, download)
    test = load_dataset(dataset, "test", download=download)
    encoder, protocol = pretrained_encoder(spec, weights, train, image_size, normalization)
    result = evaluate_encoder(encoder, train, test, evaluations, seed=seed, device=device)
    result["protocol"].update({**protocol, "seed": seed, "subset": subset})
    return result


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    import json

    path = run_dir / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"warning: {path} missing or unreadable; epoch count unknown", file=sys.stderr)
        return []
