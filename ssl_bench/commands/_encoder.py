"""The ``--encoder SPEC --weights PATH`` flags of ``ssl-bench eval`` and ``ssl-bench probe`` (ssl_bench.models.pretrained)."""

from __future__ import annotations

import argparse

from ssl_bench.core.errors import UserError
from ssl_bench.models.pretrained import NORMALIZATIONS


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("an encoder trained elsewhere")
    group.add_argument("--encoder", metavar="SPEC",
                       help="torchvision:NAME | timm:NAME | an ssl-bench backbone (resnet18: CIFAR stem), with "
                            "--weights; e.g. --encoder resnet18 --weights solo-learn.ckpt")
    group.add_argument("--weights", metavar="PATH",
                       help="a state dict or a Lightning/solo-learn/lightly checkpoint (the backbone's keys are "
                            "found); 'default': the library's published weights")
    group.add_argument("--image-size", type=int, metavar="N",
                       help="resize the images to N x N before the encoder (default: the dataset's size)")
    group.add_argument("--normalization", choices=NORMALIZATIONS,
                       help="input statistics (default: imagenet for torchvision:/timm:, dataset otherwise)")


def encoder_weights(args: argparse.Namespace) -> str:
    if not args.weights:
        raise UserError(f"--encoder {args.encoder} needs --weights PATH (or --weights default for the library's "
                        f"published weights)")
    return args.weights
