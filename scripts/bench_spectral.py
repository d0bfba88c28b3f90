"""Benchmark: Laplacian eigenmaps and landmark MDS on the Fashion-MNIST train set (60,000 images), 2 CPU cores.

Laplacian eigenmaps pipeline (timed as one): pixels -> PCA to ``--pca-dim`` -> approximate (HNSW) 10-NN graph
-> eigsh on D^-1/2 W D^-1/2 for 32 + 1 dims. Reported beside it, on the same graph: scikit-learn's
``SpectralEmbedding(affinity="precomputed")`` with ``--sklearn-solvers`` (amg needs pyamg), eigenvalues of
both (Rayleigh quotients u^T L u / u^T D u of scikit-learn's columns); the eigensolve again at ``--fast-tol``
(eigsh's relative tolerance; the headline uses machine precision) with its eigenvalue differences; the graph's
recall against exact 10-NN searches over raw pixels and in the same PCA space on a sample of rows, and the exact
raw-pixel search's time extrapolated to all rows; the machine's load average before and after;
landmark MDS (1,000 landmarks) on raw pixels with its Procrustes error against exact classical MDS (= PCA).

    OMP_NUM_THREADS=2 .venv/bin/python scripts/bench_spectral.py --out leaderboards/spectral/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ssl_bench.data.datasets import load_dataset
from ssl_bench.data.graph import knn_graph, knn_search
from ssl_bench.spectral import ClassicalMDS, LandmarkMDS, LaplacianEigenmaps


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def pca(x: np.ndarray, dim: int) -> np.ndarray:
    """Project centred rows on the top ``dim`` eigenvectors of the F x F covariance (exact, O(N F^2))."""
    centred = x - x.mean(axis=0)
    _, vectors = scipy.linalg.eigh(centred.T @ centred, subset_by_index=[x.shape[1] - dim, x.shape[1] - 1])
    return np.ascontiguousarray(centred @ vectors[:, ::-1], dtype=np.float32)


def rayleigh_quotients(graph: sp.csr_matrix, embedding: np.ndarray) -> np.ndarray:
    """lambda_k = u_k^T L u_k / u_k^T D u_k per column."""
    degree = np.asarray(graph.sum(axis=1)).ravel()
    laplacian_u = degree[:, None] * embedding - graph @ embedding
    return np.sum(embedding * laplacian_u, axis=0) / np.sum(degree[:, None] * embedding**2, axis=0)


def procrustes_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    rotation, _ = scipy.linalg.orthogonal_procrustes(a, b)
    return float(np.linalg.norm(a @ rotation - b) / np.linalg.norm(b))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="leaderboards/spectral/bench.json")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--pca-dim", type=int, default=50)
    parser.add_argument("--graph-method", default="hnsw", choices=["exact", "hnsw", "ivf"])
    parser.add_argument("--recall-sample", type=int, default=2000)
    parser.add_argument("--landmarks", type=int, default=1000)
    parser.add_argument("--sklearn-solvers", default="amg,lobpcg", help="comma-separated; '' skips scikit-learn")
    parser.add_argument("--fast-tol", type=float, default=1e-6, help="eigsh tolerance of the second, faster eigensolve")
    args = parser.parse_args()

    dataset = load_dataset("fashion-mnist", "train")
    pixels = dataset.images.reshape(len(dataset.images), -1).numpy().astype(np.float32) / 255.0
    n = pixels.shape[0]
    result: dict = {"protocol": {"dataset": "fashion-mnist", "split": "train", "n": n, "k": args.k, "dim": args.dim,
                                 "pca_dim": args.pca_dim, "graph_method": args.graph_method, "landmarks": args.landmarks,
                                 "machine": platform.processor() or platform.machine(), "threads": os.environ.get("OMP_NUM_THREADS"),
                                 "load_average_before": os.getloadavg()}}
    log(f"loaded {n} images; peak RSS {peak_rss_gib():.2f} GiB")

    start = time.perf_counter()
    reduced = pca(pixels, args.pca_dim)
    t_pca = time.perf_counter() - start
    graph = knn_graph(reduced, args.k, method=args.graph_method)
    t_graph = time.perf_counter() - start - t_pca
    model = LaplacianEigenmaps(n_components=args.dim, affinity="precomputed").fit(graph)
    t_total = time.perf_counter() - start
    result["laplacian_eigenmaps"] = {
        "pca_s": t_pca, "graph_s": t_graph, "eigsh_s": t_total - t_pca - t_graph, "total_s": t_total,
        "peak_rss_gib": peak_rss_gib(), "graph_edges": int(graph.nnz), "eigenvalues": model.eigenvalues_.tolist(),
    }
    log(f"LE: {json.dumps(result['laplacian_eigenmaps'])[:300]}")

    start = time.perf_counter()
    fast = LaplacianEigenmaps(n_components=args.dim, affinity="precomputed", eigen_tol=args.fast_tol).fit(graph)
    t_fast = time.perf_counter() - start
    result["laplacian_eigenmaps"]["fast_tol"] = {
        "tol": args.fast_tol, "eigsh_s": t_fast, "total_s": t_pca + t_graph + t_fast,
        "max_eigenvalue_diff": float(np.max(np.abs(fast.eigenvalues_ - model.eigenvalues_))),
        "max_angle_degrees": float(np.degrees(np.max(scipy.linalg.subspace_angles(fast.embedding_, model.embedding_)))),
    }
    log(f"LE at tol {args.fast_tol}: {result['laplacian_eigenmaps']['fast_tol']}")

    sample = np.random.default_rng(0).choice(n, size=args.recall_sample, replace=False)
    start = time.perf_counter()
    _, exact = knn_search(pixels[sample], pixels, args.k + 1)
    t_exact_sample = time.perf_counter() - start
    _, exact_reduced = knn_search(reduced[sample], reduced, args.k + 1)
    directed = knn_search(reduced[sample], reduced, args.k + 1, method=args.graph_method)[1]

    def recall(truth: np.ndarray, found: np.ndarray) -> float:
        pairs = [(set(t[t != i][: args.k]), set(f[f != i][: args.k])) for t, f, i in zip(truth, found, sample)]
        return float(np.mean([len(t & f) / args.k for t, f in pairs]))

    result["graph_quality"] = {
        "recall_vs_exact_raw_pixels": recall(exact, directed),
        "recall_vs_exact_same_pca_space": recall(exact_reduced, directed),
        "exact_raw_search_sample_s": t_exact_sample,
        "exact_raw_search_extrapolated_s": t_exact_sample * n / args.recall_sample,
    }
    log(f"graph quality: {result['graph_quality']}")

    result["sklearn"] = {}
    for solver in [s for s in args.sklearn_solvers.split(",") if s]:
        from sklearn.manifold import SpectralEmbedding

        start = time.perf_counter()
        embedding = SpectralEmbedding(n_components=args.dim, affinity="precomputed", eigen_solver=solver, random_state=0).fit_transform(graph)
        elapsed = time.perf_counter() - start
        values = rayleigh_quotients(graph, embedding)
        result["sklearn"][solver] = {
            "eigensolve_s": elapsed,
            "eigsh_speedup": elapsed / result["laplacian_eigenmaps"]["eigsh_s"],
            "fast_tol_eigsh_speedup": elapsed / result["laplacian_eigenmaps"]["fast_tol"]["eigsh_s"],
            "eigenvalues": values.tolist(),
            "max_eigenvalue_diff": float(np.max(np.abs(np.sort(values) - model.eigenvalues_))),
        }
        log(f"sklearn {solver}: {elapsed:.1f} s, max eigenvalue diff {result['sklearn'][solver]['max_eigenvalue_diff']:.2e}")

    start = time.perf_counter()
    landmark = LandmarkMDS(n_components=args.dim, n_landmarks=args.landmarks).fit_transform(pixels)
    t_landmark = time.perf_counter() - start
    start = time.perf_counter()
    exact_mds = ClassicalMDS(n_components=args.dim).fit_transform(pixels)
    t_exact_mds = time.perf_counter() - start
    result["landmark_mds"] = {
        "landmark_s": t_landmark, "exact_classical_mds_s": t_exact_mds,
        "procrustes_error_vs_exact": procrustes_error(landmark, exact_mds), "peak_rss_gib": peak_rss_gib(),
    }
    log(f"landmark MDS: {result['landmark_mds']}")

    result["protocol"]["load_average_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"out": str(out), "le_total_s": t_total}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
