"""``ssl-bench eval``: kNN and linear-probe accuracy of a trained run, a baseline or an encoder trained elsewhere."""

from __future__ import annotations

import argparse

from ssl_bench.commands._encoder import add_encoder_arguments, encoder_weights
from ssl_bench.commands._output import add_evaluations_argument, print_result
from ssl_bench.core.devices import DEVICES
from ssl_bench.core.errors import UserError
from ssl_bench.training.config import FEATURES

NAME = "eval"
HELP = "Evaluate frozen features with weighted kNN (faiss) and a linear probe on the official test split."
EXAMPLE = "ssl-bench eval runs/simclr-fashion-mnist-convnet-n5000-s0 --json   |   " \
          "ssl-bench eval --baseline random-init --dataset fashion-mnist --subset 5000 --json   |   " \
          "ssl-bench eval --encoder torchvision:resnet18 --weights resnet18.pth --dataset cifar10 --image-size 224"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", help="a run directory written by ssl-bench train")
    add_evaluations_argument(parser)
    parser.add_argument("--features", choices=FEATURES, default="backbone")
    parser.add_argument("--baseline", help="evaluate a baseline instead of a run: raw-pixels | random-init")
    add_encoder_arguments(parser)
    parser.add_argument("--dataset", default="fashion-mnist", help="dataset of the baseline or --encoder")
    parser.add_argument("--backbone", default="convnet", help="backbone of the random-init baseline")
    parser.add_argument("--subset", type=int, help="baseline, --encoder: seeded class-balanced train subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--download", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a short summary)")


def run(args: argparse.Namespace) -> int:
    from ssl_bench.sources.baseline import evaluate_baseline
    from ssl_bench.sources.encoder import evaluate_pretrained
    from ssl_bench.sources.trained import evaluate_run

    if args.encoder:
        result = evaluate_pretrained(args.encoder, encoder_weights(args), args.dataset, args.subset, args.seed,
                                     evaluations=args.evaluations, device=args.device, download=args.download,
                                     image_size=args.image_size, normalization=args.normalization)
    elif args.baseline:
        result = evaluate_baseline(args.baseline, args.dataset, args.backbone, args.subset, args.seed,
                                   evaluations=args.evaluations, device=args.device, download=args.download)
    elif args.run_dir:
        result = evaluate_run(args.run_dir, evaluations=args.evaluations, features=args.features, device=args.device)
    else:
        raise UserError("give a RUN_DIR, --baseline raw-pixels|random-init or --encoder SPEC --weights PATH "
                        "(see ssl-bench eval --help)")
    print_result(result, args.json)
    return 0
