"""``ssl-bench spectral``: a closed-form spectral embedding, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import argparse

from ssl_bench.commands._output import add_evaluations_argument, print_result
from ssl_bench.spectral.feature_maps import FEATURE_MAPS
from ssl_bench.spectral.pipeline import DEFAULT_REG, SPECTRAL_GRAPHS, evaluate_spectral

NAME = "spectral"
HELP = "Embed train and test images with a closed-form spectral method and evaluate (kNN, linear probe)."
EXAMPLE = ("ssl-bench spectral --method vicreg-closed-form --dataset fashion-mnist --subset 5000 --graph views "
           "--n-views 8 --features nystroem --dim 64 --json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ssl_bench.spectral import SPECTRAL_METHODS

    parser.add_argument("--method", required=True, help=" | ".join(SPECTRAL_METHODS.names()))
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--subset", type=int, help="seeded class-balanced subset of the train split")
    parser.add_argument("--graph", choices=SPECTRAL_GRAPHS, default="knn",
                        help="relation graph: kNN of the inputs, the label graph, or augmented views (SSL graph)")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension K")
    parser.add_argument("--n-neighbors", type=int, default=10, dest="n_neighbors")
    parser.add_argument("--n-views", type=int, default=4, dest="n_views", help="views per image for --graph views (and cca)")
    parser.add_argument("--features", choices=FEATURE_MAPS, default="pixels",
                        help="fixed input feature map: the linear regime (pixels, pca) or the kernel regime (rff, nystroem, "
                             "random-backbone)")
    parser.add_argument("--feature-dim", type=int, dest="feature_dim",
                        help="dimension of pca / rff / nystroem features (default 64 / 2048 / 1000)")
    parser.add_argument("--reg", type=float, help=f"regularisation of methods that have one (default {DEFAULT_REG}: "
                                                  "feature-noise variance relative to the mean feature variance)")
    parser.add_argument("--seed", type=int, default=0)
    add_evaluations_argument(parser)
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    result = evaluate_spectral(args.method, args.dataset, args.subset, args.seed, args.graph, args.dim,
                               args.n_neighbors, args.n_views, evaluations=args.evaluations, download=args.download,
                               features=args.features, feature_dim=args.feature_dim, reg=args.reg)
    print_result(result, args.json)
    if not args.json:
        print(f"fit + embed: {result['wall_time_s']:.1f} s, peak memory {result['peak_memory_mb']:.0f} MB")
    return 0
