"""``ssl-bench spectral``: a closed-form spectral embedding, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import argparse
import json

from ssl_bench.spectral.pipeline import SPECTRAL_GRAPHS, evaluate_spectral

NAME = "spectral"
HELP = "Embed train and test images with a closed-form spectral method and evaluate (kNN, linear probe)."
EXAMPLE = "ssl-bench spectral --method laplacian-eigenmaps --dataset fashion-mnist --subset 5000 --graph knn --dim 32 --json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True,
                        help="laplacian-eigenmaps | classical-mds | landmark-mds | isomap | lpp | cca")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--subset", type=int, help="seeded class-balanced subset of the train split")
    parser.add_argument("--graph", choices=SPECTRAL_GRAPHS, default="knn",
                        help="relation graph: kNN of the inputs, the label graph, or augmented views (SSL graph)")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension K")
    parser.add_argument("--n-neighbors", type=int, default=10, dest="n_neighbors")
    parser.add_argument("--n-views", type=int, default=4, dest="n_views", help="views per image for --graph views")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--knn", action="store_true", help="only kNN (default: kNN and linear)")
    parser.add_argument("--linear", action="store_true", help="only the linear probe (default: both)")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    knn, linear = (args.knn or not args.linear), (args.linear or not args.knn)
    result = evaluate_spectral(args.method, args.dataset, args.subset, args.seed, args.graph, args.dim,
                               args.n_neighbors, args.n_views, knn=knn, linear=linear, download=args.download)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in ("knn_top1", "knn_top1_k20", "linear_top1"):
            if result.get(key) is not None:
                print(f"{key}: {100 * result[key]:.2f}%")
        print(f"fit + embed: {result['wall_time_s']:.1f} s, peak memory {result['peak_memory_mb']:.0f} MB")
    return 0
