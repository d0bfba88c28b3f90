"""A closed-form spectral embedding of a dataset, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import resource
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ssl_bench import __version__
from ssl_bench.data.datasets import load_dataset, train_split
from ssl_bench.data.graph import resolve_search
from ssl_bench.errors import UserError
from ssl_bench.eval import DEFAULT_EVALUATIONS, FeatureSplits, evaluate_features
from ssl_bench.spectral.settings import DEFAULT_REG, SpectralSettings
from ssl_bench.spectral.view_moments import PairMoments, ViewMoments, augmented_views
from ssl_bench.stage_clock import StageClock


def evaluate_spectral(method: str, dataset: str, settings: SpectralSettings | None = None, subset: int | None = None,
                      seed: int = 0, evaluations: Sequence[str] = DEFAULT_EVALUATIONS,
                      download: bool = False) -> dict[str, Any]:
    """Fit a closed-form spectral method on features of the train images and evaluate its embedding like a run.

    ``settings.features``: the fixed input map phi (:mod:`ssl_bench.spectral.feature_maps`, ``feature_dim`` its
    dimension where it has one), fitted on the clean train images without labels. ``settings.graph``: "knn" (the
    method's own ``n_neighbors`` graph of phi(train)), "labels" (the supervised graph G_ij = [y_i = y_j]) or
    "views" (``n_views`` SimCLR-augmented views of each train image, G linking the views of one image: the SSL
    graph; the method is fitted on phi(views) and the clean train images are embedded out of sample as the kNN
    database). A two-view method (cca) fits on view pairs (0, 1), (2, 3), ... of ``n_views`` (even) views. Methods
    with ``fit_moments`` (the linear closed forms, cca) get the views' statistics streamed batch by batch
    (:mod:`ssl_bench.spectral.view_moments`: memory independent of views and images); the others hold all views.
    ``reg``: the method's regularisation where it has one (default 0.1: for the linear closed forms, LPP and CCA
    the variance of isotropic feature noise relative to the mean feature variance). Records wall time (feature
    map, graph, fit and embedding) and peak memory, and both per stage (``stages``: data, features, fit,
    out_of_sample, evaluation; :class:`ssl_bench.stage_clock.StageClock`).
    """
    from ssl_bench.data.graph import label_graph, views_graph
    from ssl_bench.spectral import SPECTRAL_METHODS
    from ssl_bench.spectral.embed import spectral_embed
    from ssl_bench.spectral.feature_maps import feature_map as make_feature_map

    settings = settings or SpectralSettings()
    estimator = SPECTRAL_METHODS.get(method)
    feature_map = make_feature_map(settings.features, settings.feature_dim, seed)
    n_views, two_views = settings.n_views, estimator.two_views
    uses_views = two_views or settings.graph == "views"
    if uses_views and (n_views < 2 or (two_views and n_views % 2)):
        raise UserError(f"n_views must be at least 2{f' and even for {method}' if two_views else ''}, got {n_views}")
    if settings.reg is not None and "reg" not in estimator.settings:
        raise UserError(f"{method} has no regularisation; drop reg")
    clock = StageClock()
    with clock.stage("data"):
        train = train_split(dataset, subset, seed, download)
        test = load_dataset(dataset, "test", download=download)
    started = time.perf_counter()
    params: dict[str, Any] = {}
    if "n_neighbors" in estimator.settings:
        rows = len(train) * (n_views if uses_views else 1)
        if settings.n_neighbors >= rows:
            raise UserError(f"{method}: --n-neighbors {settings.n_neighbors} needs more than {settings.n_neighbors} "
                            f"training rows, this run has {rows}; pass a smaller --n-neighbors or a larger --subset")
        params["n_neighbors"] = settings.n_neighbors
        params["knn_method"] = resolve_search(settings.knn_search, rows)
    if "reg" in estimator.settings:
        params["reg"] = DEFAULT_REG if settings.reg is None else settings.reg
    if "n_landmarks" in estimator.settings:
        params["n_landmarks"] = settings.n_landmarks
    streamed = uses_views and hasattr(estimator, "fit_moments")
    with clock.stage("features"):
        feature_map.fit(train.images)
        relation = None
        if streamed:
            fit_data: Any = (PairMoments if two_views else ViewMoments).stream(train, n_views, seed, feature_map)
        elif uses_views:
            views = [feature_map(view) for view in augmented_views(train, n_views, seed)]
            if two_views:
                fit_data = (np.concatenate(views[0::2]), np.concatenate(views[1::2]))
            else:
                fit_data, relation = np.concatenate(views), views_graph(len(train), n_views)
        else:
            labels = settings.graph == "labels"
            fit_data, relation = feature_map(train.images), (label_graph(train.labels.numpy()) if labels else None)
        queries = (np.concatenate([feature_map(train.images), feature_map(test.images)]) if uses_views
                   else feature_map(test.images))
    z_fit, z_queries = spectral_embed(method, fit_data, queries, graph=relation, dim=settings.dim, clock=clock, **params)
    z_train, z_test = (z_queries[: len(train)], z_queries[len(train):]) if uses_views else (z_fit, z_queries)
    fit_seconds = time.perf_counter() - started
    splits = FeatureSplits(torch.from_numpy(np.ascontiguousarray(z_train)).float(), train.labels,
                           torch.from_numpy(np.ascontiguousarray(z_test)).float(), test.labels, train.num_classes)
    with clock.stage("evaluation"):
        result = evaluate_features(splits, evaluations, seed)
    result["stages"] = clock.stages
    result["wall_time_s"] = fit_seconds
    result["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["protocol"].update({
        "dataset": train.name, "database": f"train split ({len(train)} images)",
        "queries": f"test split ({len(test)} images)", "method": method, "backbone": settings.features,
        "features": f"{method} embedding of {feature_map.description}", "feature_map": settings.features,
        "feature_dim": feature_map.dim, "graph": settings.graph, "dim": settings.dim, "seed": seed,
        "subset": subset, "epochs": 0, "package_version": __version__,
        **({"n_neighbors": settings.n_neighbors, "knn_search": params["knn_method"]} if "n_neighbors" in params else {}),
        **({"reg": params["reg"]} if "reg" in params else {}),
        **({"n_landmarks": settings.n_landmarks} if "n_landmarks" in params else {}),
        **({"n_views": n_views, "augment": "simclr"} if uses_views else {}),
    })
    return result
