"""Frozen-feature evaluation of a trained run or a baseline, under one protocol.

The kNN database and the linear probe's training data are the run's training images (the same seeded subset
when ``--subset`` was used); queries are the dataset's official test split. Features are extracted once per
run and cached in ``RUN_DIR/features/``.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

from ssl_bench import __version__
from ssl_bench.backbones import build_backbone
from ssl_bench.checkpoint import atomic_write_json
from ssl_bench.data.augment import augment_config
from ssl_bench.data.datasets import ImageDataset, balanced_subset, load_dataset
from ssl_bench.errors import UserError
from ssl_bench.eval import evaluate_features
from ssl_bench.eval.features import cached_features, extract_features
from ssl_bench.train import NormalisedEncoder, load_encoder, resolve_device, training_data

BASELINES = ("raw-pixels", "random-init")

Encoder = Callable[[Tensor], Tensor]


def evaluate_encoder(
    encoder: Encoder,
    train: ImageDataset,
    test: ImageDataset,
    knn: bool = True,
    linear: bool = True,
    seed: int = 0,
    device: str = "auto",
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """kNN / linear-probe metrics of ``encoder`` with ``train`` as database and ``test`` as queries."""
    torch_device = resolve_device(device)
    if isinstance(encoder, nn.Module):
        encoder = encoder.to(torch_device)

    def features(split: str, data: ImageDataset) -> Tensor:
        compute = lambda: extract_features(encoder, data.images, device=torch_device)  # noqa: E731
        return cached_features(cache_dir / f"{split}.pt", compute) if cache_dir else compute()

    result = evaluate_features(
        features("train", train), train.labels, features("test", test), test.labels,
        num_classes=train.num_classes, knn=knn, linear=linear, seed=seed,
    )
    result["protocol"].update({"dataset": train.name, "database": f"train split ({len(train)} images)",
                               "queries": f"test split ({len(test)} images)", "package_version": __version__})
    return result


def evaluate_run(run_dir: str | Path, knn: bool = True, linear: bool = True, features: str = "backbone",
                 device: str = "auto") -> dict[str, Any]:
    """Evaluate the last checkpoint of a run; writes ``RUN_DIR/eval-<features>.json`` and returns the same dict."""
    run_dir = Path(run_dir)
    encoder, config = load_encoder(run_dir, features)
    epochs_done = len(_read_history(run_dir))
    result = evaluate_encoder(
        encoder, training_data(config), load_dataset(config.dataset, "test", download=config.download),
        knn=knn, linear=linear, seed=config.seed, device=device,
        cache_dir=run_dir / "features" / f"{features}-epoch{epochs_done}",
    )
    result["protocol"].update({"method": config.method, "backbone": config.backbone, "features": features,
                               "epochs": epochs_done, "checkpoint": "final epoch", "seed": config.seed,
                               "subset": config.subset, "batch_size": config.batch_size})
    atomic_write_json(run_dir / f"eval-{features}.json", result)
    return result


def evaluate_baseline(name: str, dataset: str, backbone: str = "convnet", subset: int | None = None,
                      seed: int = 0, knn: bool = True, linear: bool = True, device: str = "auto",
                      download: bool = False) -> dict[str, Any]:
    """Raw pixels, or a randomly initialised backbone (seeded, BatchNorm at its initial statistics)."""
    if name not in BASELINES:
        raise UserError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    train = load_dataset(dataset, "train", download=download)
    train = balanced_subset(train, subset, seed) if subset else train
    test = load_dataset(dataset, "test", download=download)
    stats = augment_config("simclr", train, {})
    if name == "raw-pixels":
        network: nn.Module = nn.Flatten()
    else:
        torch.manual_seed(seed)
        network, _ = build_backbone(backbone, train.channels, train.image_size)
    encoder = NormalisedEncoder(network, stats.mean, stats.std).eval()
    result = evaluate_encoder(encoder, train, test, knn=knn, linear=linear, seed=seed, device=device)
    result["protocol"].update({"method": name, "backbone": "pixels" if name == "raw-pixels" else backbone,
                               "features": "pixels" if name == "raw-pixels" else "backbone", "epochs": 0,
                               "seed": seed, "subset": subset})
    return result


SPECTRAL_GRAPHS = ("knn", "views", "labels")


def evaluate_spectral(method: str, dataset: str, subset: int | None = None, seed: int = 0, graph: str = "knn",
                      dim: int = 32, n_neighbors: int = 10, n_views: int = 4, knn: bool = True, linear: bool = True,
                      download: bool = False) -> dict[str, Any]:
    """Fit a closed-form spectral method on the train pixels (in [0, 1]) and evaluate its embedding like a run.

    ``graph``: "knn" (the method's own n_neighbors graph of the inputs), "labels" (the supervised graph G_ij =
    [y_i = y_j]) or "views" (``n_views`` SimCLR-augmented views of each train image, G linking the views of one
    image: the SSL graph; the kNN database is then the clean train images, embedded out of sample). CCA always
    fits on two augmented views. Records wall time and peak memory of the fit + embedding.
    """
    import resource
    import time

    from ssl_bench.data.graph import label_graph, views_graph
    from ssl_bench.spectral import SPECTRAL_METHODS
    from ssl_bench.spectral.embed import spectral_embed

    if graph not in SPECTRAL_GRAPHS:
        raise UserError(f"unknown graph {graph!r}; choose one of: {', '.join(SPECTRAL_GRAPHS)}")
    SPECTRAL_METHODS.get(method)
    train = load_dataset(dataset, "train", download=download)
    train = balanced_subset(train, subset, seed) if subset else train
    test = load_dataset(dataset, "test", download=download)
    started = time.perf_counter()
    params: dict[str, Any] = {}
    if "n_neighbors" in inspect.signature(SPECTRAL_METHODS.get(method)).parameters:
        params["n_neighbors"] = n_neighbors
    if method == "cca" or graph == "views":
        views = augmented_views(train, 2 if method == "cca" else n_views, seed)
    if method == "cca":
        fit_data: Any = (views[0], views[1])
        relation = None
    elif graph == "views":
        fit_data, relation = torch.cat(views), views_graph(len(train), n_views)
    else:
        fit_data, relation = train.images, (label_graph(train.labels.numpy()) if graph == "labels" else None)
    out_of_sample = method == "cca" or graph == "views"  # database: the clean train images, embedded out of sample
    queries = torch.cat([train.images, test.images]) if out_of_sample else test.images
    z_fit, z_queries = spectral_embed(method, fit_data, queries, graph=relation, dim=dim, **params)
    z_train, z_test = (z_queries[: len(train)], z_queries[len(train):]) if out_of_sample else (z_fit, z_queries)
    fit_seconds = time.perf_counter() - started
    result = evaluate_features(torch.from_numpy(np.ascontiguousarray(z_train)).float(), train.labels,
                               torch.from_numpy(np.ascontiguousarray(z_test)).float(), test.labels,
                               num_classes=train.num_classes, knn=knn, linear=linear, seed=seed)
    result["wall_time_s"] = fit_seconds
    result["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["protocol"].update({
        "dataset": train.name, "database": f"train split ({len(train)} images)",
        "queries": f"test split ({len(test)} images)", "method": method, "backbone": "pixels",
        "features": f"{method} embedding of pixels in [0, 1]", "graph": graph, "dim": dim, "seed": seed,
        "subset": subset, "epochs": 0, "package_version": __version__,
        **({"n_neighbors": n_neighbors} if "n_neighbors" in params else {}),
        **({"n_views": 2 if method == "cca" else n_views} if (method == "cca" or graph == "views") else {}),
    })
    return result


def augmented_views(data: ImageDataset, n_views: int, seed: int) -> list[Tensor]:
    """``n_views`` SimCLR-augmented views of every image, de-normalised back to [0, 1] pixels: V x (N, C, H, W)."""
    from ssl_bench.data.augment import BatchAugment

    config = augment_config("simclr", data, {})
    augment = BatchAugment(config, data.channels, data.image_size)
    generator = torch.Generator().manual_seed(seed + 17)
    mean = torch.tensor(config.mean).view(1, -1, 1, 1)
    std = torch.tensor(config.std).view(1, -1, 1, 1)
    return [augment.view(data.images, index % 2, generator) * std + mean for index in range(n_views)]


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    import json

    path = run_dir / "metrics.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        print(f"warning: {path} missing or unreadable; epoch count unknown", file=sys.stderr)
        return []
