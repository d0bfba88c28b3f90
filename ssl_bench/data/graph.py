"""Relation graphs G as ``scipy.sparse.csr_matrix``: symmetric, non-negative, zero diagonal.

G_ij > 0 says rows i and j should agree (Balestriero & LeCun, NeurIPS 2022): views of one image
(:func:`views_graph`, the SSL graph), images of one class (:func:`label_graph`, the supervised graph) or
nearest neighbours in some feature space (:func:`knn_graph`, NNCLR-like). :func:`validate_graph` checks
the contract; every builder returns a validated graph.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch

from ssl_bench.core.errors import UserError
from ssl_bench.core.stage_clock import part

if TYPE_CHECKING:
    import faiss

Symmetrize = Literal["or", "and", "mutual"]
SearchMethod = str  # "[pca<D>+]exact|hnsw|ivf", see parse_search
SEARCH_INDEXES = ("exact", "hnsw", "ivf")
DISTANCE_BLOCK = 256  # query rows per block when the found pairs' distances are recomputed
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


AUTO_EXACT_MAX_ROWS = 20_000
AUTO_LARGE_SEARCH = "pca100+ivf"


def resolve_search(method: SearchMethod, n_rows: int) -> str:
    """``"auto"``: the exact search up to :data:`AUTO_EXACT_MAX_ROWS` database rows, else ``"pca100+ivf"`` (on all
    60,000 Fashion-MNIST images: 10-NN recall 0.72 against the exact raw-pixel graph, Laplacian-eigenmaps kNN and
    linear accuracy within 0.3 points, 5x faster; ``scripts/bench_spectral.py``). Any other value is returned checked."""
    if method == "auto":
        return "exact" if n_rows <= AUTO_EXACT_MAX_ROWS else AUTO_LARGE_SEARCH
    parse_search(method)
    return method


def parse_search(method: SearchMethod) -> tuple[int | None, str]:
    """``"hnsw"`` -> (None, "hnsw"); ``"pca50+hnsw"`` -> (50, "hnsw"): search in the top 50 principal components.

    One line naming the valid forms otherwise.
    """
    projection, _, index = method.rpartition("+")
    dims = projection[3:] if projection.startswith("pca") else ""
    if index not in SEARCH_INDEXES or (projection and not (dims.isdigit() and int(dims) > 0)):
        raise UserError(f"unknown knn search {method!r}; use one of {', '.join(SEARCH_INDEXES)}, optionally after a "
                        f"PCA projection: pca<D>+<index>, e.g. pca100+ivf")
    return (int(dims) if projection else None), index


def principal_projection(database: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and the top ``dim`` principal directions (F, dim) of the rows of ``database`` (N, F), float32.

    Exact: the eigenvectors of the F x F scatter matrix (one GEMM and ``eigh``; O(N F^2)).
    """
    mean = database.mean(axis=0, dtype=np.float64).astype(np.float32)
    scatter = np.zeros((database.shape[1], database.shape[1]))
    for start in range(0, database.shape[0], 8192):
        block = database[start:start + 8192] - mean
        scatter += (block.T @ block).astype(np.float64)
    f = scatter.shape[0]
    _, vectors = scipy.linalg.eigh(scatter, subset_by_index=[f - dim, f - 1])
    return mean, np.ascontiguousarray(vectors[:, ::-1], dtype=np.float32)


class NeighbourIndex:
    """The rows of ``database`` (N, F) indexed once for k-nearest-neighbour searches with faiss.

    ``metric="l2"`` gives Euclidean distances (not squared); ``"ip"`` ranks by inner product and returns
    ``1 - <q, x>`` (the cosine distance for L2-normalised rows); faiss searches in float32, the distances of the
    found pairs are recomputed in float64 in the full space. ``method``: ``"exact"`` (IndexFlat),
    ``"hnsw"`` (IndexHNSWFlat, M = 32, efSearch = max(2k, 64)) or ``"ivf"`` (IndexIVFFlat with
    4 sqrt(N) lists, nprobe = 16): approximate, much faster on tens of thousands of rows.
    ``"pca<D>+<index>"`` (e.g. ``"pca100+ivf"``) searches the rows projected on the database's top D principal
    components (:func:`principal_projection`; no projection when D >= F). ``"auto"``: :func:`resolve_search`.
    """

    def __init__(self, database: np.ndarray, method: SearchMethod = "exact", metric: KnnMetric = "l2",
                 seed: int = 0) -> None:
        method = resolve_search(method, np.shape(database)[0])
        pca_dim, index_kind = parse_search(method)
        if metric not in ("l2", "ip"):
            raise UserError(f"unknown metric {metric!r}; choose one of: l2, ip")
        self.method, self.metric = method, metric
        self.rows = np.asarray(database, dtype=np.float64)
        searched = _as_float32_matrix(database, "database")
        self.projection: tuple[np.ndarray, np.ndarray] | None = None
        if pca_dim is not None and pca_dim < searched.shape[1] and metric != "l2":
            raise UserError(f"a PCA projection before the search ({method!r}) needs metric l2, got {metric!r}")
        with part("graph"):  # the projection and the index are part of the graph's cost
            if pca_dim is not None and pca_dim < searched.shape[1]:
                self.projection = principal_projection(searched, pca_dim)
                searched = self._project(searched)
            self.searched = searched
            self.index = _build_index(searched, index_kind, metric, seed)

    def __len__(self) -> int:
        return self.rows.shape[0]

    def search(self, queries: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest database rows of each query: (distances (M, k), indices (M, k)).

        ``queries=None``: the database rows themselves, each without itself among its neighbours.
        """
        exclude_self = queries is None
        query_rows = self.rows if exclude_self else np.asarray(queries, dtype=np.float64)
        if query_rows.ndim != 2 or query_rows.shape[1] != self.rows.shape[1]:
            raise UserError(f"queries must be (M, {self.rows.shape[1]}) like the database, got shape {query_rows.shape}")
        wanted = k + 1 if exclude_self else k
        if not 1 <= k or wanted > len(self):
            raise UserError(f"k must be between 1 and {len(self) - int(exclude_self)}, got {k}")
        searched = self.searched if exclude_self else self._project(_as_float32_matrix(query_rows, "queries"))
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = max(2 * wanted, 64)
        scores, indices = self.index.search(searched, wanted)
        if np.any(indices < 0):
            raise UserError(f"the {self.method} search found fewer than {wanted} neighbours for some rows; use method='exact'")
        if exclude_self:
            scores, indices = _drop_self(scores, indices, k)
        return _exact_distances(query_rows, self.rows, indices, self.metric), indices.astype(np.int64)

    def graph(self, k: int, symmetrize: Symmetrize = "or", weights: KnnWeights = "connectivity") -> sp.csr_matrix:
        """Symmetric kNN graph of the database rows (N, N); see :func:`knn_graph`."""
        if symmetrize not in ("or", "and", "mutual"):
            raise UserError(f"unknown symmetrize {symmetrize!r}; choose one of: or, and, mutual")
        if weights not in ("connectivity", "distance"):
            raise UserError(f"unknown weights {weights!r}; choose one of: connectivity, distance")
        with part("graph"):
            distances, indices = self.search(None, k)
        n = indices.shape[0]
        values = np.ones(indices.size) if weights == "connectivity" else np.maximum(distances.ravel(), 1e-12)
        directed = sp.csr_matrix((values, (np.repeat(np.arange(n), k), indices.ravel())), shape=(n, n))
        graph = directed.maximum(directed.T) if symmetrize == "or" else directed.minimum(directed.T)
        return validate_graph(graph)

    def _project(self, rows: np.ndarray) -> np.ndarray:
        if self.projection is None:
            return rows
        mean, directions = self.projection
        return np.ascontiguousarray((rows - mean) @ directions)


def knn_search(
    queries: np.ndarray,
    database: np.ndarray,
    k: int,
    method: SearchMethod = "exact",
    metric: KnnMetric = "l2",
    exclude_self: bool = False,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest database rows of each query (:class:`NeighbourIndex`). Returns (distances (M, k), indices (M, k)).

    ``exclude_self``: queries are the database rows in order; row i itself is removed from its neighbours.
    """
    if exclude_self and np.shape(queries)[0] != np.shape(database)[0]:
        raise UserError("exclude_self needs the queries to be the database rows")
    return NeighbourIndex(database, method, metric, seed).search(None if exclude_self else queries, k)


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
    :class:`NeighbourIndex`. The ``"or"`` connectivity graph equals scikit-learn's
    ``kneighbors_graph(X, k, include_self=False)`` symmetrised by maximum, up to ties.
    """
    return NeighbourIndex(features, method, metric, seed).graph(k, symmetrize, weights)


def _exact_distances(queries: np.ndarray, database: np.ndarray, indices: np.ndarray, metric: str) -> np.ndarray:
    """The search ran in float32 (maybe projected); recompute the distances of the found pairs in float64 in the full
    space. -> (M, k). Blocks of ``DISTANCE_BLOCK`` queries (temporaries that stay in cache) on this process's
    threads: numpy releases the GIL, and every row is the same arithmetic as in one block (bit-identical)."""
    distances = np.empty(indices.shape)

    def fill(start: int) -> None:
        block = slice(start, start + DISTANCE_BLOCK)
        if metric == "l2":
            differences = queries[block, None, :] - database[indices[block]]
            np.square(differences, out=differences)
            distances[block] = np.sqrt(differences.sum(axis=-1))
        else:
            distances[block] = 1.0 - np.einsum("mf,mkf->mk", queries[block], database[indices[block]])

    with ThreadPoolExecutor(torch.get_num_threads()) as pool:
        list(pool.map(fill, range(0, indices.shape[0], DISTANCE_BLOCK)))
    return distances


def _as_float32_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2:
        raise UserError(f"{name} must be a 2-D array (N, F), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} contains NaN or infinite values")
    return x


def _build_index(database: np.ndarray, method: str, metric: str, seed: int) -> faiss.Index:
    try:
        import faiss
    except ImportError as err:
        raise UserError("kNN graphs need faiss: pip install faiss-cpu (or ssl-bench's .[gpu] extra)") from err
    dim = database.shape[1]
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    if method == "exact":
        index = faiss.IndexFlat(dim, faiss_metric)
    elif method == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss_metric)
        index.hnsw.efConstruction = 64
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
