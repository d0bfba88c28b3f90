"""Shared pieces of the spectral estimators: the registry, input checks and the symmetric eigensolver.

The estimators follow scikit-learn's conventions: keyword parameters stored as given, ``check_array`` /
``check_is_fitted``, ``ValueError`` and ``NotFittedError`` for misuse. The command line turns those into one
``error:`` line (:func:`ssl_bench.spectral.embed.spectral_embed`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ssl_bench.core.registry import Registry
from ssl_bench.core.stage_clock import part


class SpectralEstimator(TransformerMixin, BaseEstimator):
    """A registered spectral method: a scikit-learn estimator that also declares what it accepts.

    ``takes_graph``: ``fit(X, graph=G)`` takes a relation graph over the rows of X (else it builds its own);
    ``two_views``: ``fit(X, Y)`` takes two aligned views of the same images (CCA);
    ``settings``: which of :class:`ssl_bench.spectral.settings.SpectralSettings`' method parameters it has.
    """

    takes_graph: ClassVar[bool] = False
    two_views: ClassVar[bool] = False
    settings: ClassVar[tuple[str, ...]] = ()


SPECTRAL_METHODS: Registry[type[SpectralEstimator]] = Registry("spectral method", package="ssl_bench.spectral.methods")


def methods_where(test: Callable[[type[SpectralEstimator]], bool]) -> list[str]:
    """The names of the registered spectral methods whose estimator class passes ``test`` (for error lines)."""
    return [name for name in SPECTRAL_METHODS.names() if test(SPECTRAL_METHODS.get(name))]

DENSE_EIGH_MAX_ROWS = 3000


def check_matrix(x: object, name: str, min_rows: int = 2) -> np.ndarray:
    """``x`` (array-like or tensor) as a finite float64 (N, F) array with N >= ``min_rows``
    (scikit-learn's ``check_array``; ``ValueError`` otherwise)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return check_array(x, dtype=np.float64, ensure_min_samples=min_rows, input_name=name)


def check_n_components(n_components: int, limit: int, what: str) -> None:
    """1 <= n_components <= limit, else a ``ValueError`` naming ``what`` bounds it."""
    if not 1 <= n_components <= limit:
        raise ValueError(f"n_components must be between 1 and {limit} ({what}), got {n_components}")


def check_fitted(estimator: object, attribute: str) -> None:
    """scikit-learn's ``check_is_fitted``: ``NotFittedError`` before ``fit``."""
    check_is_fitted(estimator, attribute)


def top_eigenpairs(matrix: np.ndarray | sp.spmatrix | spla.LinearOperator, k: int, seed: int = 0, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues (descending) and unit eigenvectors (columns) of a symmetric matrix.

    Dense ``scipy.linalg.eigh`` (only the wanted index range) up to :data:`DENSE_EIGH_MAX_ROWS` rows of a dense
    matrix, else implicitly restarted Lanczos (``scipy.sparse.linalg.eigsh``, which='LA') from a seeded start,
    converged to relative accuracy ``tol`` (0: machine precision).
    """
    with part("eigensolve"):
        return _top_eigenpairs(matrix, k, seed, tol)


def _top_eigenpairs(matrix: np.ndarray | sp.spmatrix | spla.LinearOperator, k: int, seed: int,
                    tol: float) -> tuple[np.ndarray, np.ndarray]:
    n = matrix.shape[0]
    if isinstance(matrix, np.ndarray) and (n <= DENSE_EIGH_MAX_ROWS or k >= n - 1):
        values, vectors = scipy.linalg.eigh(matrix, subset_by_index=[n - k, n - 1])
    elif sp.issparse(matrix) and n <= DENSE_EIGH_MAX_ROWS // 3:
        return _top_eigenpairs(matrix.toarray(), k, seed, tol)
    else:
        start = np.random.default_rng(seed).uniform(-1.0, 1.0, size=n)
        values, vectors = spla.eigsh(matrix, k=k, which="LA", v0=start, ncv=min(n, max(2 * k + 1, 40)), tol=tol)
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def column_signs(vectors: np.ndarray) -> np.ndarray:
    """+-1 per column: the sign of its largest-magnitude entry. (N, K) -> (K,)."""
    largest = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[largest, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return signs


def flip_signs(vectors: np.ndarray) -> np.ndarray:
    """Make each column's largest-magnitude entry positive (the eigenvector sign convention of scikit-learn)."""
    return vectors * column_signs(vectors)


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """||a_i - b_j||^2 = |a_i|^2 + |b_j|^2 - 2 a_i.b_j, clipped at 0. (M, F), (N, F) -> (M, N)."""
    result = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(result, 0.0)
