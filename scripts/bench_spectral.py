"""Benchmark what users run: every spectral method from the CLI defaults on all of a dataset, beside scikit-learn.

1. ``ssl-bench spectral --method M --dataset D --json`` for every method of ``SPECTRAL_METHODS`` (and the extra rows
   of ``--extra``, e.g. a views-graph closed form with 32 views), each in its own process: wall time including
   start-up, peak resident memory of that process (``os.wait4``), accuracies and the per-stage times of the result.
2. The kNN graph's approximation (the CLI default ``--knn-search``) against the exact graph of the raw features:
   Laplacian eigenmaps with ``--knn-search exact`` (accuracy differences) and the neighbour recall of the default
   search on a sample of rows.
3. scikit-learn's equivalents in this process, on the same inputs: ``SpectralEmbedding`` on the default kNN graph
   (its eigensolve), ``PCA`` (= classical MDS of Euclidean distances) on all rows, ``Isomap`` (exact, dense) on a
   subset where it fits, against ssl-bench's exact and landmark isomap (Procrustes disparity), scipy's undirected
   ``shortest_path`` against ssl-bench's geodesics from 200 sources on the full graph, ``CCA`` on a subset of
   two augmented views, and the brute-force cosine ``KNeighborsClassifier`` against ssl-bench's kNN evaluation on
   the Laplacian-eigenmaps embedding.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/bench_spectral.py --out leaderboards/spectral/bench.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ssl_bench.bench.provenance import hardware_info
from ssl_bench.core.stage_clock import StageClock
from ssl_bench.data.datasets import ImageDataset, load_dataset, train_split
from ssl_bench.data.graph import NeighbourIndex, knn_search, resolve_search
from ssl_bench.spectral import SPECTRAL_METHODS
from ssl_bench.spectral.settings import SpectralSettings

EXTRA_ROWS = ("vicreg-closed-form --graph views --n-views 8 --dim 64 --features nystroem;"
              "vicreg-closed-form --graph views --n-views 32 --dim 64 --features nystroem")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_cli(arguments: list[str]) -> dict:
    """One ``ssl-bench spectral`` process: its JSON result plus wall time and peak RSS of that process alone."""
    command = [sys.executable, "-m", "ssl_bench", "spectral", *arguments, "--json"]
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read().strip()
    row: dict = {"command": "ssl-bench spectral " + " ".join(arguments), "wall_s": round(wall, 2)}
    if os.waitstatus_to_exitcode(status) != 0:
        row["error"] = errors.splitlines()[-1] if errors else f"exit status {status}"
        return row
    result = json.loads(output)
    row.update({key: result.get(key) for key in ("knn_top1", "knn_top1_k20", "linear_top1", "stages")})
    row["peak_rss_gib"] = round(usage.ru_maxrss / 2**20, 2)
    row["protocol"] = {key: result["protocol"].get(key) for key in ("graph", "knn_search", "n_landmarks", "n_views",
                                                                    "feature_map", "feature_dim", "dim", "library")}
    return row


def procrustes_disparity(a: np.ndarray, b: np.ndarray) -> float:
    """scipy's Procrustes disparity (1 - R^2 after centring, scaling and rotation) of two (N, K) embeddings."""
    from scipy.spatial import procrustes

    return float(procrustes(a, b)[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="leaderboards/spectral/bench.json")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--methods", default=",".join(SPECTRAL_METHODS.names()))
    parser.add_argument("--extra", default=EXTRA_ROWS, help="further CLI rows, ';'-separated")
    parser.add_argument("--recall-sample", type=int, default=2000)
    parser.add_argument("--isomap-subset", type=int, default=5000)
    parser.add_argument("--cca-subset", type=int, default=5000)
    parser.add_argument("--geodesic-sources", type=int, default=200)
    parser.add_argument("--skip-sklearn", action="store_true")
    args = parser.parse_args()
    defaults = SpectralSettings()
    result: dict = {"protocol": {
        "dataset": args.dataset, "split": "train embedded, test mapped out of sample",
        "machine": platform.processor() or platform.machine(), "cpu": hardware_info()["cpu_model"], "cores": os.cpu_count(),
        "threads": os.environ.get("OMP_NUM_THREADS"), "load_average_before": os.getloadavg(),
        "calibration_gflops": gemm_gflops(),
        "cli_defaults": {"knn_search": defaults.knn_search, "n_neighbors": defaults.n_neighbors, "dim": defaults.dim,
                         "n_landmarks": defaults.n_landmarks}}}

    rows = [[f"--method={m}", f"--dataset={args.dataset}"] for m in args.methods.split(",") if m]
    rows += [[f"--method={extra.split()[0]}", f"--dataset={args.dataset}", *extra.split()[1:]]
             for extra in args.extra.split(";") if extra.strip()]
    rows.append(["--method=laplacian-eigenmaps", f"--dataset={args.dataset}", "--knn-search=exact"])
    result["cli"] = []
    for arguments in rows:
        row = run_cli(arguments)
        result["cli"].append(row)
        log(json.dumps({key: row.get(key) for key in ("command", "wall_s", "peak_rss_gib", "knn_top1", "linear_top1", "error")}))

    by_command = {row["command"]: row for row in result["cli"]}
    default_le = by_command[f"ssl-bench spectral --method=laplacian-eigenmaps --dataset={args.dataset}"]
    exact_le = by_command[f"ssl-bench spectral --method=laplacian-eigenmaps --dataset={args.dataset} --knn-search=exact"]
    train = load_dataset(args.dataset, "train")
    pixels = train.images.reshape(len(train.images), -1).numpy().astype(np.float32) / 255.0
    sample = np.random.default_rng(0).choice(len(pixels), size=args.recall_sample, replace=False)
    k = defaults.n_neighbors
    _, truth = knn_search(pixels[sample], pixels, k + 1)
    search = resolve_search(defaults.knn_search, len(pixels))
    found = NeighbourIndex(pixels, search).search(pixels[sample], k + 1)[1]
    recall = np.mean([len(set(t[t != i][:k]) & set(f[f != i][:k])) / k for t, f, i in zip(truth, found, sample)])
    result["graph_approximation"] = {
        "knn_search": f"{defaults.knn_search}: {search}", "recall_vs_exact_raw_features": float(recall), "recall_sample": args.recall_sample,
        **{f"{key}_difference_points": round(100 * (default_le[key] - exact_le[key]), 2)
           for key in ("knn_top1", "knn_top1_k20", "linear_top1")},
        "wall_s_default": default_le["wall_s"], "wall_s_exact": exact_le["wall_s"],
    }
    log(json.dumps(result["graph_approximation"]))
    if not args.skip_sklearn:
        result["sklearn"] = compare_with_sklearn(args, pixels, train, defaults)
    result["protocol"]["load_average_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"out": str(out)}))
    return 0


def compare_with_sklearn(args: argparse.Namespace, pixels: np.ndarray, train: ImageDataset, defaults: SpectralSettings) -> dict:
    """scikit-learn's equivalents beside ssl-bench's estimators, timed in this process on the same inputs."""
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA
    from sklearn.manifold import Isomap as SklearnIsomap
    from sklearn.manifold import SpectralEmbedding
    from sklearn.neighbors import KNeighborsClassifier

    from ssl_bench.eval.base import FeatureSplits
    from ssl_bench.eval.knn import evaluate_knn
    from ssl_bench.spectral import ClassicalMDS, Isomap, LaplacianEigenmaps, LinearCCA
    from ssl_bench.spectral.view_moments import augmented_views

    out: dict = {}
    dim = defaults.dim
    ours = LaplacianEigenmaps(n_components=dim, n_neighbors=defaults.n_neighbors, knn_method=defaults.knn_search)
    clock = StageClock()
    with clock.stage("fit"):
        ours.fit(pixels)
    ours_s = clock.stages["fit"]["seconds"]
    graph = ours.neighbours_.graph(defaults.n_neighbors)
    solver = "amg" if importlib.util.find_spec("pyamg") else "lobpcg"  # pip install .[bench] for pyamg
    started = time.perf_counter()
    SpectralEmbedding(n_components=dim, affinity="precomputed", eigen_solver=solver, random_state=0).fit(graph)
    sklearn_s = time.perf_counter() - started
    out["laplacian_eigenmaps"] = {"ssl_bench_fit_s (graph + eigensolve)": round(ours_s, 2),
                                  "ssl_bench_eigensolve_s": clock.stages["fit/eigensolve"]["seconds"],
                                  f"sklearn_SpectralEmbedding_{solver}_eigensolve_on_the_same_graph_s": round(sklearn_s, 2)}
    log(json.dumps(out["laplacian_eigenmaps"]))

    # Isomap's geodesics stage on the same full-split graph (Euclidean edge lengths): scipy's undirected Dijkstra in
    # one process (what scikit-learn's Isomap calls) against ssl-bench's (directed on the symmetric graph, forked).
    import torch
    from scipy.sparse.csgraph import shortest_path

    from ssl_bench.spectral.methods.isomap import geodesics

    lengths = ours.neighbours_.graph(defaults.n_neighbors, weights="distance")
    sources = np.sort(np.random.default_rng(0).choice(len(pixels), size=args.geodesic_sources, replace=False))
    started = time.perf_counter()
    reference_paths = shortest_path(lengths, method="D", directed=False, indices=sources)
    scipy_s = time.perf_counter() - started
    started = time.perf_counter()
    our_paths = geodesics(lengths, sources, torch.get_num_threads())
    geodesics_s = time.perf_counter() - started
    out["geodesics"] = {"sources": args.geodesic_sources, "ssl_bench_s": round(geodesics_s, 2),
                        "scipy_shortest_path_undirected_s": round(scipy_s, 2),
                        "speedup": round(scipy_s / geodesics_s, 2),
                        "bit_identical": bool(np.array_equal(reference_paths, our_paths))}
    log(json.dumps(out["geodesics"]))

    test = load_dataset(args.dataset, "test")
    test_pixels = test.images.reshape(len(test.images), -1).numpy().astype(np.float32) / 255.0

    z_train = torch.from_numpy(ours.embedding_).float()
    z_test = torch.from_numpy(ours.transform(test_pixels)).float()
    splits = FeatureSplits(z_train, train.labels, z_test, test.labels, train.num_classes)
    started = time.perf_counter()
    ours_knn = evaluate_knn(splits)
    ours_knn_s = time.perf_counter() - started
    started = time.perf_counter()
    reference = KNeighborsClassifier(200, metric="cosine", algorithm="brute").fit(z_train.numpy(), train.labels.numpy())
    reference.predict(z_test.numpy())
    sklearn_knn_s = time.perf_counter() - started
    # The same job as evaluate_knn with scikit-learn: k = 200 and k = 20, weights exp(s / T) = exp((1 - d) / T).
    started = time.perf_counter()
    same_job = {}
    for k in (200, 20):
        model = KNeighborsClassifier(k, metric="cosine", algorithm="brute", weights=lambda d: np.exp((1.0 - d) / 0.1))
        same_job[k] = float(np.mean(model.fit(z_train.numpy(), train.labels.numpy()).predict(z_test.numpy())
                                    == test.labels.numpy()))
    sklearn_same_job_s = time.perf_counter() - started
    out["knn_evaluation"] = {"ssl_bench_evaluate_knn_s (k=200 and k=20, exp weights)": round(ours_knn_s, 3),
                             "sklearn_brute_cosine_k200_uniform_s": round(sklearn_knn_s, 3),
                             "speedup_vs_one_uniform_k200": round(sklearn_knn_s / ours_knn_s, 2),
                             "sklearn_same_job_s (k=200 and k=20, exp weights)": round(sklearn_same_job_s, 3),
                             "speedup_vs_the_same_job": round(sklearn_same_job_s / ours_knn_s, 2),
                             "accuracy_agreement": {str(k): [same_job[k], ours_knn.metrics["knn_top1" if k == 200 else "knn_top1_k20"]]
                                                    for k in (200, 20)},
                             "backend": ours_knn.protocol["library"], "features": f"laplacian-eigenmaps embedding ({dim} dims)"}
    log(json.dumps(out["knn_evaluation"]))

    started = time.perf_counter()
    mds = ClassicalMDS(n_components=dim).fit_transform(pixels)
    mds_s = time.perf_counter() - started
    started = time.perf_counter()
    pca = PCA(n_components=dim, svd_solver="full").fit_transform(pixels)
    pca_s = time.perf_counter() - started
    out["classical_mds"] = {"ssl_bench_s": round(mds_s, 2), "sklearn_PCA_s": round(pca_s, 2),
                            "procrustes_disparity": procrustes_disparity(mds, pca)}
    log(json.dumps(out["classical_mds"]))

    subset = pixels[: args.isomap_subset]
    timings = {}
    embeddings = {}
    for name, estimator in (("sklearn_Isomap_exact", SklearnIsomap(n_neighbors=defaults.n_neighbors, n_components=dim)),
                            ("ssl_bench_exact", Isomap(n_components=dim, n_neighbors=defaults.n_neighbors, n_landmarks=0)),
                            ("ssl_bench_default", Isomap(n_components=dim, n_neighbors=defaults.n_neighbors,
                                                         n_landmarks=defaults.n_landmarks, knn_method=defaults.knn_search))):
        started = time.perf_counter()
        embeddings[name] = estimator.fit_transform(subset)
        timings[f"{name}_s"] = round(time.perf_counter() - started, 2)
    out["isomap"] = {"subset": args.isomap_subset, **timings,
                     "disparity_exact_vs_sklearn": procrustes_disparity(embeddings["ssl_bench_exact"], embeddings["sklearn_Isomap_exact"]),
                     "disparity_default_vs_exact": procrustes_disparity(embeddings["ssl_bench_default"], embeddings["ssl_bench_exact"])}
    log(json.dumps(out["isomap"]))

    view_a, view_b = (view.reshape(args.cca_subset, -1).numpy().astype(np.float64) / 255.0
                      for view in augmented_views(train_split(args.dataset, args.cca_subset, 0), 2, 0))
    components = 8
    started = time.perf_counter()
    ours_cca = LinearCCA(n_components=components, reg=0.1).fit(view_a, view_b)
    ours_cca_s = time.perf_counter() - started
    started = time.perf_counter()
    CCA(n_components=components, scale=False, max_iter=500).fit(view_a, view_b)
    sklearn_cca_s = time.perf_counter() - started
    out["cca"] = {"subset": args.cca_subset, "components": components, "ssl_bench_s": round(ours_cca_s, 2),
                  "sklearn_CCA_s (iterative NIPALS, unregularised)": round(sklearn_cca_s, 2),
                  "top_correlations_ssl_bench": ours_cca.correlations_[:3].round(4).tolist()}
    log(json.dumps(out["cca"]))
    return out


def gemm_gflops(size: int = 2048, repeats: int = 3) -> dict[str, float]:
    """This machine's speed in the units the closed forms spend: numpy float64 / float32 GEMM (size^3, best of
    ``repeats``), GFLOP/s. Machines with the same CPU name differ (shared hosts); scale the times by these."""
    speeds = {}
    for dtype in (np.float64, np.float32):
        matrix = np.random.default_rng(0).random((size, size)).astype(dtype)
        best = min(_timed(matrix.__matmul__, matrix) for _ in range(repeats))
        speeds[np.dtype(dtype).name] = round(2 * size**3 / best / 1e9, 1)
    return speeds


def _timed(work, *arguments) -> float:
    started = time.perf_counter()
    work(*arguments)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
