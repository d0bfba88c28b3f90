"""Relation graphs G as ``scipy.sparse.csr_matrix``: symmetric, non-negative, zero diagonal.

G_ij > 0 says rows i and j should agree (Balestriero & LeCun, NeurIPS 2022): views of one image
(:func:`views_graph`, the SSL graph), images of one class (:func:`label_graph`, the supervised graph) or
nearest neighbours in some feature space (:func:`knn_graph`, NNCLR-like). :func:`validate_graph` checks
the contract; every builder returns a validated graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from ssl_bench.errors import UserError

if TYPE_CHECKING:
    import faiss

Symmetrize = Literal["or", "and", "mutual"]
SearchMethod = Literal["exact", "hnsw", "ivf"]
KnnMetric = Literal["l2", "ip"]
KnnWeights = Literal["connectivity", "distance"]


def validate_graph(graph: sp.spmatrix | sp.sparray, n: int | None = None, atol: float = 0.0) -> sp.csr_matrix:
    """Return ``graph`` as float64 CSR after checking: square (n, n), finite, non-negative, symmetric, zero diagonal.

    Raises :class:`UserError` naming the first violated property.
    """
    if not sp.issparse(graph):
        raise UserError(f"a relation graph must be a scipy.sparse matrix, got {type(graph).__name__}; build it with ssl_bench.data.graph")
    g = sp.csr_matrix(graph, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise UserError(f"a relation graph must be square (N, N), got shape {g.shape}")
    if n is not None and g.shape[0] != n:
        raise UserError(f"the relation graph has {g.shape[0]} rows but the data has {n}; build the graph over the same rows")
    if not np.all(np.isfinite(g.data)):
        raise UserError("the relation graph has non-finite weights")
    if np.any(g.data < 0):
        raise UserError("the relation graph has negative weights; use non-negative affinities")
    if np.any(g.diagonal() != 0):
        raise UserError("the relation graph has a non-zero diagonal; G_ii must be 0 (use graph.setdiag(0))")
    asymmetry = abs(g - g.T)
    if asymmetry.nnz and asymmetry.max() > atol:
        raise UserError("the relation graph is not symmetric; symmetrise it, e.g. graph.maximum(graph.T)")
    g.eliminate_zeros()
    g.sort_indices()
    return g


def views_graph(n_images: int, n_views: int) -> sp.csr_matrix:
    """G for ``n_views`` views of ``n_images`` images, rows view-major (row v * n_images + i is view v of image i).

    G_ab = 1 iff a != b and a = b (mod n_images): N' cliques of size V, degree V - 1. (V N', V N').
    Matches :func:`ssl_bench.methods.losses.pair_graph`.
    """
    if n_images < 1 or n_views < 1:
        raise UserError(f"views_graph needs n_images >= 1 and n_views >= 1, got {n_images} and {n_views}")
    image = np.tile(np.arange(n_images), n_views)
    return label_graph(image)


def label_graph(labels: np.ndarray) -> sp.csr_matrix:
    """G_ij = 1 iff labels_i == labels_j and i != j: one clique per class. labels: (N,) ints -> (N, N).

    The number of edges is sum_c n_c (n_c - 1): dense within classes (3.6e8 for 60,000 images in 10 classes),
    so use it on subsets.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise UserError(f"labels must be one-dimensional (N,), got shape {labels.shape}")
    n = labels.shape[0]
    _, codes = np.unique(labels, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    edges = int(np.sum(counts.astype(np.int64) * (counts - 1)))
    rows = np.empty(edges, dtype=np.int64)
    cols = np.empty(edges, dtype=np.int64)
    at = 0
    start = 0
    for count in counts:
        members = order[start : start + count]
        start += count
        if count < 2:
            continue
        r = np.repeat(members, count)
        c = np.tile(members, count)
        keep = r != c
        rows[at : at + keep.sum()] = r[keep]
        cols[at : at + keep.sum()] = c[keep]
        at += int(keep.sum())
    graph = sp.csr_matrix((np.ones(edges), (rows, cols)), shape=(n, n))
    return validate_graph(graph)


def union(*graphs: sp.spmatrix) -> sp.csr_matrix:
    """Edge-wise maximum of graphs over the same rows: G = max(G_1, G_2, ...). Binary graphs give their union."""
    if not graphs:
        raise UserError("union needs at least one graph")
    checked = [validate_graph(g) for g in graphs]
    shapes = {g.shape for g in checked}
    if len(shapes) != 1:
        raise UserError(f"union needs graphs over the same rows, got shapes {sorted(shapes)}")
    result = checked[0]
    for g in checked[1:]:
        result = result.maximum(g)
    return validate_graph(result)


def knn_search(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    method: SearchMethod = "exact",
    metric: KnnMetric = "l2",
    exclude_self: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest database rows of each query with faiss. Returns (distances (M, k), indices (M, k)).

    ``metric="l2"`` gives Euclidean distances (not squared); ``"ip"`` ranks by inner product and returns
    ``1 - <q, x>`` (the cosine distance for L2-normalised rows); faiss searches in float32, the distances of the
    found pairs are recomputed in float64. ``method``: ``"exact"`` (IndexFlat),
    ``"hnsw"`` (IndexHNSWFlat, M = 32, efSearch = max(2k, 64)) or ``"ivf"`` (IndexIVFFlat with
    4 sqrt(N) lists, nprobe = 16): approximate, much faster on tens of thousands of rows.
    ``exclude_self``: queries are the database rows in order; row i itself is removed from its neighbours.
    """
    query_rows, database_rows = np.asarray(queries, dtype=np.float64), np.asarray(database, dtype=np.float64)
    queries = _as_float32_matrix(queries, "queries")
    database = _as_float32_matrix(database, "database")
    if queries.shape[1] != database.shape[1]:
        raise UserError(f"queries have {queries.shape[1]} features but the database has {database.shape[1]}")
    if exclude_self and queries.shape[0] != database.shape[0]:
        raise UserError("exclude_self needs the queries to be the database rows")
    wanted = k + 1 if exclude_self else k
    if not 1 <= k or wanted > database.shape[0]:
        raise UserError(f"k must be between 1 and {database.shape[0] - int(exclude_self)}, got {k}")
    index = _build_index(database, method, metric, k, seed)
    scores, indices = index.search(queries, wanted)
    if np.any(indices < 0):
        raise UserError(f"the {method} index found fewer than {wanted} neighbours for some rows; use method='exact'")
    if exclude_self:
        scores, indices = _drop_self(scores, indices, k)
    return _exact_distances(query_rows, database_rows, indices, metric), indices.astype(np.int64)


def knn_graph(
    features: np.ndarray,
    k: int,
    symmetrize: Symmetrize = "or",
    method: SearchMethod = "exact",
    metric: KnnMetric = "l2",
    weights: KnnWeights = "connectivity",
    seed: int = 0,
) -> sp.csr_matrix:
    """Symmetric kNN graph of the rows of ``features`` (N, F) -> (N, N).

    A_ij = 1 (``weights="connectivity"``) or d(x_i, x_j) (``"distance"``, for geodesics) when j is among the k
    nearest neighbours of i (i itself excluded). Symmetrised as ``"or"``: G = max(A, A^T) (j in kNN(i) or i in
    kNN(j)), or ``"and"`` / ``"mutual"`` (the mutual kNN graph): G = min(A, A^T). ``method`` and ``metric`` as in
    :func:`knn_search`. The ``"or"`` connectivity graph equals scikit-learn's
    ``kneighbors_graph(X, k, include_self=False)`` symmetrised by maximum, up to ties.
    """
    if symmetrize not in ("or", "and", "mutual"):
        raise UserError(f"unknown symmetrize {symmetrize!r}; choose one of: or, and, mutual")
    if weights not in ("connectivity", "distance"):
        raise UserError(f"unknown weights {weights!r}; choose one of: connectivity, distance")
    distances, indices = knn_search(features, features, k, method=method, metric=metric, exclude_self=True, seed=seed)
    n = indices.shape[0]
    values = np.ones(indices.size) if weights == "connectivity" else np.maximum(distances.ravel(), 1e-12)
    directed = sp.csr_matrix((values, (np.repeat(np.arange(n), k), indices.ravel())), shape=(n, n))
    graph = directed.maximum(directed.T) if symmetrize == "or" else directed.minimum(directed.T)
    return validate_graph(graph)


def _exact_distances(queries: np.ndarray, database: np.ndarray, indices: np.ndarray, metric: str) -> np.ndarray:
    """The search ran in float32; recompute the distances of the found pairs in float64. -> (M, k)."""
    distances = np.empty(indices.shape)
    for start in range(0, indices.shape[0], 4096):
        block = slice(start, start + 4096)
        neighbours = database[indices[block]]
        if metric == "l2":
            distances[block] = np.sqrt(np.sum((queries[block, None, :] - neighbours) ** 2, axis=-1))
        else:
            distances[block] = 1.0 - np.einsum("mf,mkf->mk", queries[block], neighbours)
    return distances


def _as_float32_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, F), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} contains NaN or infinite values")
    return x


def _build_index(database: np.ndarray, method: str, metric: str, k: int, seed: int) -> faiss.Index:
    try:
        import faiss
    except ImportError as err:
        raise UserError("kNN graphs need faiss: pip install faiss-cpu (or ssl-bench's .[gpu] extra)") from err
    dim = database.shape[1]
    if metric not in ("l2", "ip"):
        raise UserError(f"unknown metric {metric!r}; choose one of: l2, ip")
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if method == "exact":
        index = faiss.IndexFlat(dim, faiss_metric)
    elif method == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss_metric)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = max(2 * k, 64)
    elif method == "ivf":
        n_lists = max(1, min(int(4 * np.sqrt(database.shape[0])), database.shape[0] // 39))
        quantizer = faiss.IndexFlat(dim, faiss_metric)
        index = faiss.IndexIVFFlat(quantizer, dim, n_lists, faiss_metric)
        index.cp.seed = seed
        index.train(database)
        index.nprobe = min(16, n_lists)
    else:
        raise UserError(f"unknown knn method {method!r}; choose one of: exact, hnsw, ivf")
    index.add(database)
    return index


def _drop_self(scores: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove row i from row i's neighbours (wherever ties put it); drop the last neighbour where it is absent."""
    is_self = indices == np.arange(indices.shape[0])[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    return scores[keep].reshape(-1, k), indices[keep].reshape(-1, k)
