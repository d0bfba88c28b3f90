"""``ssl-bench probe``: what a trained representation is invariant or equivariant to (rotations, shifts, ...)."""

from __future__ import annotations

import argparse
import json
import sys

from ssl_bench.commands._encoder import add_encoder_arguments, encoder_weights
from ssl_bench.core.devices import DEVICES
from ssl_bench.core.errors import UserError
from ssl_bench.probes.transforms import TRANSFORMS
from ssl_bench.training.config import FEATURES

NAME = "probe"
HELP = ("Symmetry probe of a run on its test split: invariance, linear equivariance, group structure and "
        "parameter recoverability per transform; writes probe.json and probe.png into the run directory.")
EXAMPLE = ("ssl-bench probe runs/simclr-fashion-mnist-convnet-n5000-s0 "
           "--transforms rotate,translate,hflip --n 1000 --json   |   "
           "ssl-bench probe --spectral laplacian-eigenmaps --dataset fashion-mnist --subset 5000 --n 1000")

SUMMARY_COLUMNS = {  # metric -> column header of the table
    "invariance": "invariance",
    "equivariance_r2": "equiv. R2",
    "composition_error": "composition",
    "generator_error": "generator",
    "recoverability_r2": "recover R2",
    "recoverability_accuracy": "recover acc",
}


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", help="a run directory written by ssl-bench train")
    parser.add_argument("--spectral", metavar="METHOD",
                        help="probe a closed-form spectral method instead (fitted here, embeds out of sample)")
    parser.add_argument("--dataset", default="fashion-mnist", help="with --spectral or --encoder: the dataset")
    add_encoder_arguments(parser)
    parser.add_argument("--subset", type=int, default=5000, help="with --spectral: train images it is fitted on")
    parser.add_argument("--dim", type=int, default=32, help="with --spectral: embedding dimension")
    parser.add_argument("--transforms", type=_names, metavar="A,B,...",
                        help=f"comma-separated, from: {', '.join(TRANSFORMS.names())} "
                             "(default: rotate,translate,scale,hflip,brightness,contrast and hue for RGB)")
    parser.add_argument("--n", type=int, default=2000, help="test images probed (seeded random subset; default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset and of the fit/held-out split")
    parser.add_argument("--features", choices=FEATURES, default="backbone")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--out", metavar="FILE",
                        help="write the JSON here and the plot next to it (default RUN_DIR/probe.json, probe.png)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a summary table)")


def run(args: argparse.Namespace) -> int:
    from ssl_bench.sources.probing import probe_encoder, probe_run, probe_spectral  # scikit-learn: only when probing

    progress = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.encoder:
        result = probe_encoder(args.encoder, encoder_weights(args), args.dataset, args.image_size, args.normalization,
                               transforms=args.transforms, n=args.n, seed=args.seed, device=args.device,
                               out=args.out, progress=progress)
    elif args.spectral:
        result = probe_spectral(args.spectral, args.dataset, args.subset, args.dim, transforms=args.transforms,
                                n=args.n, seed=args.seed, out=args.out, progress=progress)
    elif args.run_dir:
        result = probe_run(args.run_dir, transforms=args.transforms, n=args.n, seed=args.seed,
                           features=args.features, device=args.device, out=args.out, progress=progress)
    else:
        raise UserError("give a RUN_DIR, --spectral METHOD or --encoder SPEC --weights PATH (see ssl-bench probe --help)")
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(f"{'transform':<12}" + "".join(f"{header:>13}" for header in SUMMARY_COLUMNS.values()))
    for name, metrics in result["summary"].items():
        cells = (metrics.get(metric) for metric in SUMMARY_COLUMNS)
        print(f"{name:<12}" + "".join(f"{'-' if v is None else f'{v:.4f}':>13}" for v in cells))
    print(f"(means over theta; rows and protocol in the JSON; plot: {result['plot']})")
    return 0
