"""``ssl-bench spectral``: a closed-form spectral embedding, evaluated by the same protocol as trained runs."""

from __future__ import annotations

import argparse

from ssl_bench.commands._flags import add_dataclass_arguments, dataclass_values
from ssl_bench.commands._output import add_evaluations_argument, print_result
from ssl_bench.sources.spectral import evaluate_spectral
from ssl_bench.spectral.settings import SpectralSettings, make_spectral_settings

NAME = "spectral"
HELP = "Embed train and test images with a closed-form spectral method and evaluate (kNN, linear probe)."
EXAMPLE = ("ssl-bench spectral --method vicreg-closed-form --dataset fashion-mnist --subset 5000 --graph views "
           "--n-views 8 --features nystroem --dim 64 --json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ssl_bench.spectral import SPECTRAL_METHODS

    parser.add_argument("--method", required=True, choices=SPECTRAL_METHODS.names(), metavar="METHOD",
                        help=" | ".join(SPECTRAL_METHODS.names()))
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--subset", type=int, help="seeded class-balanced subset of the train split")
    add_dataclass_arguments(parser, SpectralSettings)
    parser.add_argument("--seed", type=int, default=0)
    add_evaluations_argument(parser)
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    settings = make_spectral_settings(dataclass_values(args, SpectralSettings))
    result = evaluate_spectral(args.method, args.dataset, settings, args.subset, args.seed,
                               evaluations=args.evaluations, download=args.download)
    print_result(result, args.json)
    if not args.json:
        print(f"fit + embed: {result['wall_time_s']:.1f} s, peak memory {result['peak_memory_mb']:.0f} MB")
    return 0
