"""A closed-form spectral embedding of a dataset, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ssl_bench import __version__
from ssl_bench.data.augment import augment_config
from ssl_bench.data.datasets import ImageDataset, balanced_subset, load_dataset
from ssl_bench.errors import UserError
from ssl_bench.eval import evaluate_features


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
