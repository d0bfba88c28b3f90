"""A closed-form spectral embedding of a dataset as a row, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ssl_bench.core.errors import UserError
from ssl_bench.core.stage_clock import StageClock
from ssl_bench.core.validation import check_keys, check_mapping
from ssl_bench.data.datasets import ImageDataset, test_split, train_split
from ssl_bench.data.graph import label_graph, resolve_search, views_graph
from ssl_bench.eval.base import FeatureSplits
from ssl_bench.sources.base import (
    SOURCES,
    BlockRow,
    RowProtocol,
    RowRequest,
    Source,
    SourceRow,
    SuiteContext,
    block_subset,
    check_names,
)
from ssl_bench.sources.rows import evaluate_source
from ssl_bench.spectral import SPECTRAL_METHODS
from ssl_bench.spectral.base import methods_where
from ssl_bench.spectral.embed import spectral_embed
from ssl_bench.spectral.feature_maps import FeatureMap, feature_map
from ssl_bench.spectral.settings import VIEWS_ONLY, SpectralSettings, make_spectral_settings, spectral_setting_keys
from ssl_bench.spectral.view_moments import PairMoments, ViewMoments, ViewRecipe, augmented_views


def _rows(request: RowRequest) -> SourceRow:
    """Fit the closed form ``request.name`` on features of the train images and embed train and test.

    ``settings.features``: the fixed input map phi (:mod:`ssl_bench.spectral.feature_maps`, ``feature_dim`` its
    dimension where it has one), fitted on the clean train images without labels. ``settings.graph``: "knn" (the
    method's own ``n_neighbors`` graph of phi(train)), "labels" (the supervised graph G_ij = [y_i = y_j]) or
    "views" (``n_views`` augmented views of each train image, drawn with ``augment_recipe`` and its ``augment``
    overrides as a trained run draws them, SimCLR's recipe by default; G linking the views of one image: the SSL
    graph; the method is fitted on phi(views) and the clean train images are embedded out of sample as the kNN
    database). A two-view method (cca) fits on view pairs (0, 1), (2, 3), ... of ``n_views`` (even) views. Methods
    with ``fit_moments`` (the linear closed forms, cca) get the views' statistics streamed batch by batch
    (:mod:`ssl_bench.spectral.view_moments`: memory independent of views and images); the others hold all views.
    ``reg``: the method's regularisation where it has one (default 0.1: for the linear closed forms, LPP and CCA
    the variance of isotropic feature noise relative to the mean feature variance). Records the wall time of
    fitting and embedding, and per stage (data, features, fit, out_of_sample, evaluation) seconds and peak memory.
    """
    method, seed = request.name, request.seed
    estimator, settings = SPECTRAL_METHODS.get(method), check_settings(method, make_spectral_settings(request.settings))
    phi = feature_map(settings.features, settings.feature_dim, seed)
    uses_views = _uses_views(estimator, settings)
    clock = StageClock()
    with clock.stage("data"):
        train = train_split(request.dataset, request.subset, seed, request.download)
        test = test_split(request.dataset, request.test_subset, request.download)
    started = time.perf_counter()
    params = _estimator_params(method, estimator.settings, settings, len(train) * (settings.n_views if uses_views else 1))
    with clock.stage("features"):
        phi.fit(train.images)
        fit_data, relation = _fit_data(estimator, phi, train, settings, seed, uses_views)
        queries = (np.concatenate([phi(train.images), phi(test.images)]) if uses_views else phi(test.images))
    z_fit, z_queries = spectral_embed(method, fit_data, queries, graph=relation, dim=settings.dim, clock=clock, **params)
    z_train, z_test = (z_queries[: len(train)], z_queries[len(train):]) if uses_views else (z_fit, z_queries)
    fit_seconds = time.perf_counter() - started
    splits = FeatureSplits(torch.from_numpy(np.ascontiguousarray(z_train)).float(), train.labels,
                           torch.from_numpy(np.ascontiguousarray(z_test)).float(), test.labels, train.num_classes)
    return SourceRow(splits, _protocol(request, settings, phi, params, train, test, uses_views),
                     extras={"wall_time_s": fit_seconds}, clock=clock)


def _uses_views(estimator: Any, settings: SpectralSettings) -> bool:
    return estimator.two_views or settings.graph == "views"


def check_settings(method: str, settings: SpectralSettings) -> SpectralSettings:
    """``settings`` with their defaults filled, once the given ones fit ``method``: a setting given where it would
    be ignored (n_views without views, a parameter the method lacks) is refused, as is an odd n_views for cca."""
    estimator = SPECTRAL_METHODS.get(method)
    uses_views = _uses_views(estimator, settings)
    if settings.graph != "knn" and not estimator.takes_graph:
        takes_graph = methods_where(lambda found: found.takes_graph)
        raise UserError(f"{method} does not take a relation graph (--graph {settings.graph}); drop --graph or use "
                        f"one of: {', '.join(takes_graph)}")
    for name in VIEWS_ONLY:
        if getattr(settings, name) is not None and not uses_views:
            raise UserError(f"{name} applies to --graph views and to two-view methods only, not to {method} on "
                            f"--graph {settings.graph}; drop it")
    for name in ("n_neighbors", "n_landmarks", "reg"):
        if getattr(settings, name) is not None and name not in estimator.settings:
            takes = methods_where(lambda found, name=name: name in found.settings)
            raise UserError(f"{method} has no {name} (it applies to {', '.join(takes)}); drop it")
    settings = settings.filled()
    if estimator.two_views and settings.n_views % 2:
        raise UserError(f"n_views must be even for {method} (it pairs views), got {settings.n_views}")
    return settings


def _estimator_params(method: str, takes: Sequence[str], settings: SpectralSettings, rows: int) -> dict[str, Any]:
    """The estimator's own parameters from ``settings`` (each estimator declares which it ``takes``)."""
    params: dict[str, Any] = {}
    if "n_neighbors" in takes:
        if settings.n_neighbors >= rows:
            raise UserError(f"{method}: --n-neighbors {settings.n_neighbors} needs more than {settings.n_neighbors} "
                            f"training rows, this run has {rows}; pass a smaller --n-neighbors or a larger --subset")
        params["n_neighbors"] = settings.n_neighbors
        params["knn_method"] = resolve_search(settings.knn_search, rows)
    if "reg" in takes:
        params["reg"] = settings.reg
    if "n_landmarks" in takes:
        params["n_landmarks"] = settings.n_landmarks
    return params


def _fit_data(estimator: Any, phi: FeatureMap, train: ImageDataset, settings: SpectralSettings, seed: int,
              uses_views: bool) -> tuple[Any, Any]:
    """(what the estimator is fitted on, the relation graph or None): streamed view statistics, all views, or the
    clean train features."""
    n_views, two_views, recipe = settings.n_views, estimator.two_views, view_recipe(settings)
    if uses_views and hasattr(estimator, "fit_moments"):
        return (PairMoments if two_views else ViewMoments).stream(train, n_views, seed, phi, recipe), None
    if uses_views:
        views = [phi(view) for view in augmented_views(train, n_views, seed, recipe)]
        if two_views:
            return (np.concatenate(views[0::2]), np.concatenate(views[1::2])), None
        return np.concatenate(views), views_graph(len(train), n_views)
    labels = settings.graph == "labels"
    return phi(train.images), (label_graph(train.labels.numpy()) if labels else None)


def view_recipe(settings: SpectralSettings) -> ViewRecipe:
    """The augmentation the views of filled ``settings`` are drawn with."""
    return ViewRecipe(settings.augment_recipe, dict(settings.augment))


def _protocol(request: RowRequest, settings: SpectralSettings, phi: FeatureMap, params: dict[str, Any],
              train: ImageDataset, test: ImageDataset, uses_views: bool) -> RowProtocol:
    details = {
        "feature_map": settings.features, "feature_dim": phi.dim, "graph": settings.graph, "dim": settings.dim,
        **({"n_neighbors": settings.n_neighbors, "knn_search": params["knn_method"]} if "n_neighbors" in params else {}),
        **({"reg": params["reg"]} if "reg" in params else {}),
        **({"n_landmarks": settings.n_landmarks} if "n_landmarks" in params else {}),
        **({"n_views": settings.n_views, "augment_recipe": settings.augment_recipe, "augment": settings.augment}
           if uses_views else {}),
    }
    return RowProtocol.of_splits(train, test, method=request.name, backbone=settings.features,
                                 features=f"{request.name} embedding of {phi.description}", epochs=0,
                                 seed=request.seed, subset=request.subset, details=details)


def _check(request: RowRequest) -> None:
    check_settings(request.name, make_spectral_settings(request.settings))


def _block_rows(block: Any, suite: SuiteContext) -> list[BlockRow]:
    """A ``spectral:`` block: ``methods``, an optional ``subset`` and any setting of ``ssl-bench spectral`` (each
    row's method and settings are checked by :func:`_check`)."""
    spectral = check_mapping(block, "each spectral block (methods: and settings)")
    check_keys(spectral, ("methods", "subset", *spectral_setting_keys()), "spectral")
    methods = check_names(spectral.pop("methods", []), "spectral methods")
    subset = block_subset(spectral, suite.subset)
    spectral.pop("subset", None)
    return [BlockRow(method, "pixels", {"subset": subset, **spectral}) for method in methods]


COUNTERPART_SETTINGS = ("features", "feature_dim", "dim", "n_views", "reg", "knn_search")  # a trained block's
# closed_form: may set these; the graph and the views' augmentation are the trained cell's


def counterpart_settings(method: str, augment: dict[str, Any]) -> dict[str, Any]:
    """The views-graph settings of the closed form of trained ``method`` run with ``augment`` overrides: the recipe
    and overrides the trained run draws its views with (:func:`ssl_bench.training.run_dir.method_augment`)."""
    from ssl_bench.methods import METHODS
    from ssl_bench.training.run_dir import method_augment

    if METHODS.get(method).closed_form is None:
        having = [name for name in METHODS.names() if METHODS.get(name).closed_form is not None]
        raise UserError(f"{method} has no closed form (closed_form: applies to {', '.join(having)}); drop "
                        f"closed_form: or {method}")
    recipe, overrides = method_augment(method, augment)
    return {"graph": "views", "augment_recipe": recipe, "augment": overrides}


def counterpart_rows(methods: Sequence[str], augment: dict[str, Any], given: Any, subset: int | None) -> list[BlockRow]:
    """A trained block's ``closed_form:`` (``true``, or a mapping of :data:`COUNTERPART_SETTINGS`): for each of its
    ``methods``, the spectral row of that method's closed form on the views graph of the block's augmentation."""
    from ssl_bench.methods import METHODS

    settings = {} if given is True else check_mapping(given, "closed_form (true, or settings of the closed form)")
    check_keys(settings, COUNTERPART_SETTINGS, "closed_form")
    return [BlockRow(METHODS.get(method).closed_form, "pixels",
                     {"subset": subset, **counterpart_settings(method, augment), **settings}, kind="spectral")
            for method in dict.fromkeys(methods)]


SOURCES.register("spectral")(Source(
    kind="spectral", rows=_rows, check=_check, section="spectral", block_rows=_block_rows, order=20, colour="#ff7f0e", marker="s",
    description="a closed-form spectral embedding fitted on the train images (ssl-bench spectral)"))


def evaluate_spectral(method: str, dataset: str, settings: SpectralSettings | None = None, subset: int | None = None,
                      seed: int = 0, evaluations: Sequence[str] | None = None,
                      download: bool = False, test_subset: int | None = None) -> dict[str, Any]:
    """Fit the closed form ``method`` on ``dataset`` (see :func:`_rows`) and evaluate it like a trained run."""
    from dataclasses import asdict

    request = RowRequest(method, dataset, "pixels", subset, seed, asdict(settings or SpectralSettings()),
                         download=download, test_subset=test_subset)
    return evaluate_source("spectral", request, evaluations)
