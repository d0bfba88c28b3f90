"""One entry point for the CLI: fit a registered spectral method on training data, embed train and test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from ssl_bench.core.errors import UserError
from ssl_bench.core.stage_clock import StageClock
from ssl_bench.spectral.base import SPECTRAL_METHODS, SpectralEstimator, methods_where
from ssl_bench.spectral.view_moments import PairMoments, ViewMoments

CHUNK_ROWS = 8192


def as_features(data: object, name: str) -> np.ndarray:
    """uint8 images (N, C, H, W) -> pixels in [0, 1] flattened (N, C H W) float32; (N, F) features pass through."""
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.ndim == 4:
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        return (array.reshape(array.shape[0], -1) / scale).astype(np.float32)
    if array.ndim == 2:
        return array.astype(np.float32)
    raise UserError(f"{name} must be images (N, C, H, W) or features (N, F), got shape {array.shape}")


@contextlib.contextmanager
def user_errors(method: str) -> Iterator[None]:
    """Misuse reported by an estimator (``ValueError``, ``NotFittedError``) as one :class:`UserError` line."""
    try:
        yield
    except (ValueError, NotFittedError) as err:
        raise UserError(f"{method}: {str(err).splitlines()[0]}") from err


def spectral_embed(
    method: str,
    train: object,
    test: object,
    graph: sp.spmatrix | None = None,
    dim: int = 32,
    clock: StageClock | None = None,
    **params: object,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``SPECTRAL_METHODS[method](n_components=dim, **params)`` and return (train (N, dim), test (M, dim)) embeddings.

    ``train``/``test``: images or features (see :func:`as_features`). ``graph``: a relation graph over the
    training rows for the graph methods (those whose ``fit`` takes ``graph``); a kNN graph is built when None.
    A two-view method (cca) takes ``train = (view_a, view_b)`` (two augmented views of the same images) and embeds ``test`` with
    the first view's canonical directions. ``train`` may instead be streamed statistics (:class:`ViewMoments`,
    :class:`PairMoments`) for a method with ``fit_moments``; then only ``test`` is embedded, ``CHUNK_ROWS`` rows at
    a time (the first array is empty). ``clock``: records the stages "fit" (graph and eigensolve) and
    "out_of_sample" (embedding ``test``).
    """
    estimator_class = SPECTRAL_METHODS.get(method)
    with user_errors(method):
        return _fit_and_embed(estimator_class(n_components=dim, **params), method, train, test, graph,
                              clock or StageClock())


def _fit_and_embed(estimator: SpectralEstimator, method: str, train: object, test: object,
                   graph: sp.spmatrix | None, clock: StageClock) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(train, (ViewMoments, PairMoments)):
        with clock.stage("fit"):
            estimator.fit_moments(train)
        with clock.stage("out_of_sample"):
            rows = as_features(test, "test")
            return np.empty((0, estimator.n_components)), np.concatenate(
                [estimator.transform(rows[start:start + CHUNK_ROWS]) for start in range(0, len(rows), CHUNK_ROWS)])
    if estimator.two_views:
        if not isinstance(train, (tuple, list)) or len(train) != 2:
            raise UserError(f"{method} needs train = (view_a, view_b), two augmented views of the same images")
        view_a, view_b = as_features(train[0], "train view a"), as_features(train[1], "train view b")
        with clock.stage("fit"):
            estimator.fit(view_a, view_b)
        with clock.stage("out_of_sample"):
            return estimator.transform(view_a), estimator.transform(as_features(test, "test"))
    train_features = as_features(train, "train")
    with clock.stage("fit"):
        if graph is None:
            estimator.fit(train_features)
        elif estimator.takes_graph:
            estimator.fit(train_features, graph=graph)
        else:
            takes_graph = methods_where(lambda found: found.takes_graph)
            raise UserError(f"{method} does not take a relation graph; use one of: {', '.join(takes_graph)}")
    with clock.stage("out_of_sample"):
        train_embedding = estimator.embedding_ if hasattr(estimator, "embedding_") else estimator.transform(train_features)
        return np.asarray(train_embedding), estimator.transform(as_features(test, "test"))
